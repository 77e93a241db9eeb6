/** SQLite as a `Dialect` and a `Connection` (better-sqlite3 underneath, made async). */
import type { Connection, Dialect, TableInfo, TypeFamily } from './dialect.js'
import { interruptedError } from './interrupt.js'
import { qualified, raw, type Sql, type SqlValue, sql } from './sql.js'
import { allSync, runSync, type SqliteDb } from './sqlite.js'

/**
 * SQLite's affinity of a declared type, by the five rules of https://sqlite.org/datatype3.html
 * (3.1 Determination Of Column Affinity), in their order.
 */
function affinity(declared: string): TypeFamily {
  const t = declared.toUpperCase()
  if (t.includes('INT')) return 'integer'
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text'
  if (t.includes('BLOB') || t.trim() === '') return 'blob'
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'real'
  return 'numeric'
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  maxBoundParameters: 32_766,
  readsParquet: false,
  typing: 'dynamic',
  probesByIndex: true,
  prefersConflictSkip: true,
  antiJoins: false,
  replacesByPrimaryKey: false,
  scratchSchema: 'temp',
  typeFamily: affinity,
  // Dynamic typing: a declared type cannot be altered in place, so the ours declaration stays
  // and the values theirs stores are checked instead (see merge/table-schema.ts).
  widen: (ours) => ours,
  columnType: (family) =>
    ({
      integer: 'INTEGER',
      real: 'REAL',
      numeric: 'NUMERIC',
      text: 'TEXT',
      blob: 'BLOB',
      boolean: 'INTEGER',
      other: 'TEXT',
    })[family],
}

const STREAM_BATCH = 2048

/**
 * better-sqlite3 runs synchronously, so a signal (Ctrl-C) is only handled between statements if
 * the event loop gets a turn: each statement starts on a new one.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

interface XInfoRow {
  name: string
  type: string
  notnull: number
  pk: number
  hidden: number
}

/** A better-sqlite3 database as a `Connection`. Closing it closes the database. */
export class SqliteConnection implements Connection {
  readonly dialect = sqliteDialect
  readonly #db: SqliteDb
  #interrupted = false

  constructor(db: SqliteDb) {
    this.#db = db
  }

  /** A statement boundary: the safe point where an interrupt() takes effect. */
  async #boundary(): Promise<void> {
    await nextTurn()
    if (this.#interrupted) throw interruptedError()
  }

  async run(query: Sql): Promise<number> {
    await this.#boundary()
    return runSync(this.#db, query)
  }

  async all<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    await this.#boundary()
    return allSync<T>(this.#db, query)
  }

  async insertRows(
    schema: string,
    table: string,
    rows: readonly (readonly SqlValue[])[],
  ): Promise<void> {
    const first = rows[0]
    if (!first) return
    await this.#boundary()
    const marks = raw(first.map(() => '?').join(', '))
    const insert = this.#db.prepare(
      sql`insert into ${qualified(schema, table)} values (${marks})`.text,
    )
    this.#db.transaction(() => {
      for (const row of rows) insert.run(...row)
    })()
  }

  async *stream(query: Sql): AsyncIterable<SqlValue[][]> {
    // safeIntegers: an INTEGER beyond 2^53 stays exact (as bigint) on its way to another engine.
    const rows = this.#db
      .prepare(query.text)
      .raw(true)
      .safeIntegers(true)
      .iterate(...query.values) as IterableIterator<SqlValue[]>
    let batch: SqlValue[][] = []
    for (const row of rows) {
      batch.push(row)
      if (batch.length < STREAM_BATCH) continue
      if (this.#interrupted) throw interruptedError()
      yield batch
      batch = []
    }
    if (batch.length > 0) yield batch
  }

  interrupt(): void {
    // better-sqlite3 has no sqlite3_interrupt: the next statement boundary throws instead.
    this.#interrupted = true
  }

  /** BEGIN IMMEDIATE: take the write lock up front, so a concurrent writer fails fast. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      const result = await fn()
      this.#db.exec('COMMIT')
      return result
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      throw error
    }
  }

  async tables(schema: string): Promise<string[]> {
    // sqlite_schema lists tables in creation order; sqlite_* tables are SQLite's own.
    const rows = allSync<{ name: string }>(
      this.#db,
      sql`select name from ${qualified(schema, 'sqlite_schema')}
        where type = 'table' and name not like 'sqlite\\_%' escape '\\'`,
    )
    return rows.map((r) => r.name)
  }

  async describe(schema: string, table: string): Promise<TableInfo | undefined> {
    const columns = allSync<XInfoRow>(
      this.#db,
      sql`select * from pragma_table_xinfo(${table}, ${schema})`,
    )
    if (columns.length === 0) return undefined
    const visible = columns.filter((c) => c.hidden === 0)
    const primaryKey = visible
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name)
    // A partial index holds only some rows: no use for lookups or as a conflict target.
    const list = allSync<{ name: string; unique: number }>(
      this.#db,
      sql`select name, "unique" from pragma_index_list(${table}, ${schema}) where partial = 0`,
    )
    const columnsOf = (index: string) =>
      allSync<{ name: string | null }>(
        this.#db,
        sql`select name from pragma_index_info(${index}, ${schema}) order by seqno`,
      ).map((c) => c.name ?? '')
    const indexes = list.map((ix) => ({ columns: columnsOf(ix.name), unique: ix.unique === 1 }))
    // An INTEGER PRIMARY KEY is the rowid itself: unique and indexed, but not in index_list.
    const first = visible.find((c) => c.pk === 1)
    if (primaryKey.length === 1 && first?.type.toUpperCase() === 'INTEGER')
      indexes.push({ columns: [first.name], unique: true })
    return {
      name: table,
      columns: visible.map((c) => ({ name: c.name, type: c.type, notNull: c.notnull === 1 })),
      primaryKey,
      indexes: indexes.map((ix) => ix.columns),
      uniqueKeys: indexes.filter((ix) => ix.unique).map((ix) => ix.columns),
    }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
