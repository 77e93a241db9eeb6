/** SQLite as a `Dialect` and a `Connection` (better-sqlite3 underneath, made async). */
import type { Connection, Dialect, TableInfo, TypeFamily } from './dialect.js'
import { qualified, type Sql, sql } from './sql.js'
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
  scratchSchema: 'temp',
  typeFamily: affinity,
  // Dynamic typing: a declared type cannot be altered in place, so the base declaration stays
  // and the values exp stores are checked instead (see merge/table-schema.ts).
  widen: (base) => base,
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

  constructor(db: SqliteDb) {
    this.#db = db
  }

  async run(query: Sql): Promise<number> {
    return runSync(this.#db, query)
  }

  async all<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    return allSync<T>(this.#db, query)
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
    const columns = this.#db
      .prepare('select * from pragma_table_xinfo(?, ?)')
      .all(table, schema) as XInfoRow[]
    if (columns.length === 0) return undefined
    const visible = columns.filter((c) => c.hidden === 0)
    const primaryKey = visible
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name)
    const indexes = (
      this.#db.prepare('select name from pragma_index_list(?, ?)').all(table, schema) as {
        name: string
      }[]
    ).map((ix) =>
      (
        this.#db
          .prepare('select name from pragma_index_info(?, ?) order by seqno')
          .all(ix.name, schema) as { name: string | null }[]
      ).map((c) => c.name ?? ''),
    )
    // An INTEGER PRIMARY KEY is the rowid itself: a lookup on it needs no separate index.
    const first = visible.find((c) => c.pk === 1)
    if (primaryKey.length === 1 && first?.type.toUpperCase() === 'INTEGER')
      indexes.push([first.name])
    return {
      name: table,
      columns: visible.map((c) => ({ name: c.name, type: c.type, notNull: c.notnull === 1 })),
      primaryKey,
      indexes,
    }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
