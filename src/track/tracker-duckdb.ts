/**
 * Writes tracked rows into a DuckDB file in xetrack's layout (a table per name, params and
 * values as columns), for `engine: 'duckdb'` on a `.duckdb` path. DuckDB lets one process write
 * a file: every Tracker of this process on the file shares one instance and one connection
 * (writes take turns), and a second process gets LOCKED naming the holder.
 *
 * batch → BEGIN → create table / add missing columns (names compared ignoring case)
 *       → insert rows, each value cast to its column's type → COMMIT
 */
import { resolve } from 'node:path'
import { DuckDb } from '../engine/duckdb.js'
import { ident, identList, join, raw, Sql, sql } from '../engine/sql.js'
import { DuckmergeError, isDuckmergeError, messageOf } from '../errors.js'
import { duckDbOpenError } from './duckdb-open-error.js'
import type { RowBatch } from './tracker-sqlite.js'
import type { ColumnType } from './tracker-values.js'

/** How the Tracker's row sink hands batches to a writer (the SQLite worker or this one). */
export interface BatchClient {
  post(batch: Omit<RowBatch, 'seq'>): void
  /** Resolves once every batch posted so far is committed; rejects with the first failure. */
  flush(): Promise<void>
  /** For the process 'exit' hook: true when every posted batch is committed. */
  waitSync(timeoutMs: number): boolean
  close(): Promise<void>
}

/** DuckDB's column type for each type the sink declares (JS numbers are doubles: DOUBLE). */
const duckTypes: Readonly<Record<ColumnType, string>> = {
  INTEGER: 'BIGINT',
  REAL: 'DOUBLE',
  TEXT: 'VARCHAR',
  BLOB: 'BLOB',
}
/** Types a bound value is cast to before the insert (a fixed list: nothing from the file). */
const castable = new Set([
  'BIGINT',
  'INTEGER',
  'SMALLINT',
  'TINYINT',
  'HUGEINT',
  'UBIGINT',
  'DOUBLE',
  'FLOAT',
  'REAL',
  'VARCHAR',
  'BLOB',
  'BOOLEAN',
])
const rowsPerInsert = 256

interface SharedFile {
  readonly db: DuckDb
  users: number
  /** Writes of every Tracker on the file, one after another. */
  turn: Promise<unknown>
}

/** Open DuckDB files of this process, by absolute path. */
const files = new Map<string, Promise<SharedFile>>()

async function acquire(path: string): Promise<SharedFile> {
  const key = resolve(path)
  let file = files.get(key)
  if (file === undefined) {
    file = DuckDb.open({ path: key }).then(
      (db) => ({ db, users: 0, turn: Promise.resolve() }),
      (error: unknown) => {
        files.delete(key)
        throw openError(path, error)
      },
    )
    files.set(key, file)
  }
  const shared = await file
  shared.users++
  return shared
}

function release(path: string, shared: SharedFile): void {
  if (--shared.users > 0) return
  files.delete(resolve(path))
  shared.db.close()
}

export interface DuckDbWriterOptions {
  readonly path: string
  readonly table: string
}

export class DuckDbRowClient implements BatchClient {
  readonly #options: DuckDbWriterOptions
  readonly #file: Promise<SharedFile>
  readonly #types = new Map<string, ColumnType>()
  readonly #shapes = new Map<number, readonly string[]>()
  #writes: Promise<void> = Promise.resolve()
  #pending = 0
  #failures: DuckmergeError[] = []
  #closed: Promise<void> | undefined

  constructor(options: DuckDbWriterOptions) {
    this.#options = options
    this.#file = acquire(options.path)
    // Reported by the first flush(); never an unhandled rejection.
    this.#file.catch(() => undefined)
  }

  post(batch: Omit<RowBatch, 'seq'>): void {
    for (const [name, type] of Object.entries(batch.columnTypes)) this.#types.set(name, type)
    for (const [id, columns] of batch.shapes) this.#shapes.set(id, columns)
    this.#pending++
    this.#writes = this.#writes.then(async () => {
      try {
        const file = await this.#file
        const write = file.turn.then(() => this.#write(file.db, batch))
        file.turn = write.catch(() => undefined)
        await write
      } catch (error) {
        this.#failures.push(this.#failure(error))
      } finally {
        this.#pending--
      }
    })
  }

  async flush(): Promise<void> {
    await this.#writes
    const failure = this.#failures.shift()
    this.#failures = []
    if (failure) throw failure
  }

  /** DuckDB writes are asynchronous: nothing can be awaited inside the 'exit' hook. */
  waitSync(): boolean {
    return this.#pending === 0
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      let failure: unknown
      await this.flush().catch((error: unknown) => {
        failure = error
      })
      // A file that never opened (LOCKED) rejects here, also when flush() reported it before.
      const file = await this.#file
      // Waits for other Trackers' writes in flight before the last user closes the file.
      await file.turn
      release(this.#options.path, file)
      if (failure !== undefined) throw failure
    })()
    return this.#closed
  }

  async #write(db: DuckDb, batch: Omit<RowBatch, 'seq'>): Promise<void> {
    if (batch.rows.length === 0) return
    const table = this.#options.table
    await db.transaction(async () => {
      const existing = await this.#ensureTable(db, table, batch)
      for (let i = 0; i < batch.rows.length; ) {
        const id = batch.rows[i]?.[0] as number
        let end = i + 1
        while (end < batch.rows.length && end - i < rowsPerInsert && batch.rows[end]?.[0] === id)
          end++
        const columns = this.#shapes.get(id)
        if (columns === undefined) throw new Error(`unknown row shape ${id}`)
        const placeholder = (column: string) => {
          const type = existing.get(column.toLowerCase()) ?? ''
          return castable.has(type) ? `cast(? as ${type})` : '?'
        }
        const row = `(${columns.map(placeholder).join(', ')})`
        const values = batch.rows.slice(i, end).map((cells) => new Sql(row, cells.slice(1)))
        await db.run(
          sql`insert into ${ident(table)} (${identList(columns)}) values ${join(values)}`,
        )
        i = end
      }
    })
  }

  /** The table's columns by lower-case name → type, after adding the ones this batch needs. */
  async #ensureTable(
    db: DuckDb,
    table: string,
    batch: Omit<RowBatch, 'seq'>,
  ): Promise<Map<string, string>> {
    // xetrack's table: its key first, then columns as they appear.
    await db.run(
      sql`create table if not exists ${ident(table)} (track_id VARCHAR, timestamp VARCHAR, primary key (track_id, timestamp))`,
    )
    const existing = new Map(
      (
        await db.all<{ name: string; type: string }>(
          sql`select column_name as name, data_type as type from duckdb_columns()
            where database_name = current_database() and schema_name = 'main' and table_name = ${table}`,
        )
      ).map((c) => [c.name.toLowerCase(), c.type] as const),
    )
    const needed = new Set(batch.rows.map((r) => r[0]))
    for (const id of needed) {
      for (const column of this.#shapes.get(id) ?? []) {
        if (existing.has(column.toLowerCase())) continue
        const type = duckTypes[this.#types.get(column) ?? 'TEXT']
        await db.run(sql`alter table ${ident(table)} add column ${ident(column)} ${raw(type)}`)
        existing.set(column.toLowerCase(), type)
      }
    }
    return existing
  }

  #failure(error: unknown): DuckmergeError {
    if (isDuckmergeError(error)) return error
    const { path, table } = this.#options
    return new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write tracked rows to ${path}, table "${table}": ${messageOf(error)}`,
      { path, table },
      { cause: error },
    )
  }
}

function openError(path: string, error: unknown): DuckmergeError {
  return duckDbOpenError(path, error, {
    doing: 'Cannot track into',
    advice:
      'DuckDB lets one process write a file: track into a SQLite file (a path not ending in ' +
      '.duckdb) to write from several processes, or give each process its own DuckDB file.',
  })
}
