/**
 * Writes tracked rows into a SQLite file in xetrack's layout, safely beside other writers:
 * schema changes and inserts share one write transaction, so N processes adding the same new
 * columns at once never collide (xetrack's bare `ALTER TABLE ADD COLUMN` does, and loses rows).
 *
 * batch → BEGIN IMMEDIATE (waits for the write lock) → re-read columns, add only missing ones
 *       → insert rows → upsert cache entries → COMMIT;  SQLITE_BUSY / duplicate column → retry
 */

import { ident, identList, sql } from '../engine/sql.js'
import { openSqlite, type SqliteDb } from '../engine/sqlite.js'
import { DuckmergeError, messageOf } from '../errors.js'
import type { Cell, ColumnType } from './tracker-values.js'
import { formatTimestamp } from './tracker-values.js'

/** The table the result cache lives in, beside the tracked tables. */
export const cacheTable = 'tracker_cache'

/** One batch of rows, as the Tracker hands it to the writer (possibly across a thread). */
export interface RowBatch {
  readonly seq: number
  /** Declared types of columns first seen since the previous batch. */
  readonly columnTypes: Readonly<Record<string, ColumnType>>
  /** Row shapes (ordered column lists) first used since the previous batch, by id. */
  readonly shapes: readonly (readonly [number, readonly string[]])[]
  /** Each row is `[shapeId, ...cells]`, cells in the shape's column order. */
  readonly rows: readonly (readonly [number, ...Cell[]])[]
  readonly cache: readonly CacheRow[]
}

export interface CacheRow {
  readonly key: string
  readonly functionName: string
  readonly result: string
  readonly trackId: string
  readonly timestamp: string
}

export interface SqliteWriterOptions {
  readonly path: string
  readonly table: string
  readonly synchronous: 'normal' | 'full'
  readonly busyTimeoutMs: number
}

type Statement = ReturnType<SqliteDb['prepare']>

interface Shape {
  readonly columns: readonly string[]
  readonly insert: string
  /** Prepared once its columns are known to exist (preparing earlier fails on a new column). */
  statement: Statement | undefined
  /** The same for `rowsPerInsert` rows at once. */
  many?: Statement | undefined
}

type Row = readonly [number, ...Cell[]]

const rowsPerInsert = 32
/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32. */
const maxBoundValues = 32_766

const retryLimitMs = 120_000

/**
 * One SQLite connection writing batches of tracked rows (used by the write worker).
 *
 * @example
 * const writer = new SqliteRowWriter({ path, table: 'predictions', synchronous: 'normal',
 *   busyTimeoutMs: 10_000 })
 * writer.write({ seq: 1, columnTypes: { loss: 'REAL' }, shapes: [[0, ['track_id', 'timestamp',
 *   'loss']]], rows: [[0, 'run-1', '2024-01-01 00:00:00.000001', 0.5]], cache: [] })
 * writer.close()
 */
export class SqliteRowWriter {
  readonly #db: SqliteDb
  readonly #table: string
  readonly #types = new Map<string, ColumnType>()
  readonly #shapes = new Map<number, Shape>()
  #hasCacheTable = false

  constructor(readonly options: SqliteWriterOptions) {
    this.#table = options.table
    this.#db = withBusyRetry(() =>
      openSqlite(options.path, { fileMustExist: false, busyTimeoutMs: options.busyTimeoutMs }),
    )
    try {
      // WAL: readers never block the writer and a commit is one append; NORMAL syncs at
      // checkpoints, FULL at every commit (survives power loss, not only process death).
      withBusyRetry(() => this.#db.pragma('journal_mode = WAL'))
      this.#db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    } catch (error) {
      this.#db.close()
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `Cannot open tracker database ${options.path}: ${messageOf(error)}. ` +
          'Pass the path of a SQLite file, or of a new file in an existing folder.',
        { path: options.path },
        { cause: error },
      )
    }
  }

  /** Writes one batch in one transaction, retrying while another writer holds the lock. */
  write(batch: RowBatch): void {
    for (const [name, type] of Object.entries(batch.columnTypes)) this.#types.set(name, type)
    for (const [id, columns] of batch.shapes) {
      const placeholders = columns.map(() => '?').join(', ')
      const insert = sql`insert into ${ident(this.#table)} (${identList(columns)}) values `
      this.#shapes.set(id, {
        columns,
        insert: `${insert.text}(${placeholders})`,
        statement: undefined,
      })
    }
    withBusyRetry(() => this.#writeOnce(batch))
  }

  /**
   * Copies the WAL into the main file before closing, so a .db file copied or committed right
   * after close() holds every row even while another process keeps the database open.
   */
  close(): void {
    if (!this.#db.open) return
    try {
      this.#db.pragma('wal_checkpoint(PASSIVE)')
    } finally {
      this.#db.close()
    }
  }

  #writeOnce(batch: RowBatch): void {
    const db = this.#db
    db.exec('BEGIN IMMEDIATE')
    const newestOf = (trackId: string) =>
      (
        db
          .prepare(`select max(timestamp) as t from ${ident(this.#table).text} where track_id = ?`)
          .get(trackId) as { t: string | null }
      ).t ?? undefined
    try {
      const rows = batch.rows
      for (let i = 0; i < rows.length; ) {
        const id = (rows[i] as Row)[0]
        const shape = this.#shapes.get(id)
        if (shape === undefined) throw new Error(`unknown row shape ${id}`)
        const statement = shape.statement ?? this.#ensureColumns(shape)
        let end = i + 1
        while (end < rows.length && end - i < rowsPerInsert && (rows[end] as Row)[0] === id) end++
        if (end - i === rowsPerInsert && this.#insertMany(shape, rows, i)) {
          i = end
          continue
        }
        for (; i < end; i++) insertRow(statement, shape.columns, rows[i] as Row, newestOf)
      }
      if (batch.cache.length > 0) this.#writeCache(batch.cache)
      db.exec('COMMIT')
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK')
      // A retried batch re-checks its shapes inside the new transaction.
      for (const shape of this.#shapes.values()) {
        shape.statement = undefined
        shape.many = undefined
      }
      throw error
    }
  }

  /**
   * `rowsPerInsert` rows of one shape in one multi-row INSERT: one call into SQLite instead of
   * 32, measurably faster (bench/tracker.bench.ts). False on a key collision: the caller then
   * inserts them one by one (the statement wrote nothing: SQLite statements are atomic).
   */
  #insertMany(shape: Shape, rows: readonly Row[], from: number): boolean {
    const width = shape.columns.length
    if (width * rowsPerInsert > maxBoundValues) return false
    shape.many ??= this.#db.prepare(
      shape.insert + `, (${shape.columns.map(() => '?').join(', ')})`.repeat(rowsPerInsert - 1),
    )
    const cells: Cell[] = new Array(width * rowsPerInsert)
    for (let r = 0; r < rowsPerInsert; r++) {
      const row = rows[from + r] as Row
      for (let c = 0; c < width; c++) cells[r * width + c] = row[c + 1] as Cell
    }
    try {
      shape.many.run(cells)
      return true
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false
      throw error
    }
  }

  /** Inside the write transaction: the table's columns now, and only the missing ones added. */
  #ensureColumns(shape: Shape): Statement {
    const table = ident(this.#table)
    // Lower case: SQLite matches column names ignoring case, and another writer may have added
    // `Loss` where this one logs `loss` (the insert then lands in `Loss`).
    const existing = new Set(
      (this.#db.prepare(`pragma table_info(${table.text})`).all() as { name: string }[]).map((c) =>
        c.name.toLowerCase(),
      ),
    )
    if (existing.size === 0) {
      // xetrack's table: its key first, then columns as they appear (engine.py _ensure_events_table).
      this.#db.exec(
        `create table if not exists ${table.text} (track_id TEXT, timestamp TEXT, ` +
          'PRIMARY KEY (track_id, timestamp))',
      )
      existing.add('track_id').add('timestamp')
    }
    for (const column of shape.columns) {
      if (existing.has(column.toLowerCase())) continue
      const type = this.#types.get(column) ?? 'TEXT'
      this.#db.exec(`alter table ${table.text} add column ${ident(column).text} ${type}`)
      existing.add(column.toLowerCase())
    }
    shape.statement = this.#db.prepare(shape.insert)
    return shape.statement
  }

  #writeCache(rows: readonly CacheRow[]): void {
    if (!this.#hasCacheTable) {
      this.#db.exec(
        `create table if not exists ${ident(cacheTable).text} (cache_key TEXT PRIMARY KEY, ` +
          'function_name TEXT, result TEXT, track_id TEXT, timestamp TEXT)',
      )
      this.#hasCacheTable = true
    }
    const upsert = this.#db.prepare(
      `insert or replace into ${ident(cacheTable).text} ` +
        '(cache_key, function_name, result, track_id, timestamp) values (?, ?, ?, ?, ?)',
    )
    for (const r of rows) upsert.run(r.key, r.functionName, r.result, r.trackId, r.timestamp)
  }
}

/**
 * Inserts one row. Writers given the same track id can meet on the same microsecond: the later
 * row then moves just past the newest timestamp of that track id instead of being lost.
 */
function insertRow(
  statement: Statement,
  columns: readonly string[],
  row: readonly [number, ...Cell[]],
  newestOf: (trackId: string) => string | undefined,
): void {
  const cells = row.slice(1) as Cell[]
  try {
    statement.run(cells)
    return
  } catch (error) {
    const at = columns.indexOf('timestamp')
    if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY' || at < 0) throw error
  }
  const at = columns.indexOf('timestamp')
  const newest = newestOf(String(cells[columns.indexOf('track_id')]))
  cells[at] = nextMicrosecond(newest ?? String(cells[at]))
  statement.run(cells)
}

function nextMicrosecond(timestamp: string): string {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})$/.exec(timestamp)
  if (!m) return `${timestamp}.000001`
  const [, y, mo, d, h, mi, s, us] = m.map(Number) as number[]
  const seconds = new Date(y ?? 0, (mo ?? 1) - 1, d, h, mi, s).getTime() / 1000
  return formatTimestamp(seconds * 1_000_000 + (us ?? 0) + 1)
}

/**
 * Runs `fn`, retrying while SQLite reports another connection's lock (SQLITE_BUSY, which the
 * busy timeout does not cover for every statement) or a column another writer just added.
 */
export function withBusyRetry<T>(fn: () => T): T {
  const started = Date.now()
  for (let attempt = 0; ; attempt++) {
    try {
      return fn()
    } catch (error) {
      if (!isRetryable(error) || Date.now() - started > retryLimitMs) throw error
      sleepSync(Math.min(200, 2 ** Math.min(attempt, 7)) * (0.5 + Math.random()))
    }
  }
}

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? ''
  return code.startsWith('SQLITE_BUSY') || /duplicate column name/i.test(messageOf(error))
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Blocks this thread only: the writer runs in its own worker thread. */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms)
}
