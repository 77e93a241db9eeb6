/** DuckDB as a `Dialect` and a `Connection` (over engine/duckdb.ts). */
import { blobValue, DuckDBDataChunk, type DuckDBType, type DuckDBValue } from '@duckdb/node-api'
import type { Connection, Dialect, TableInfo, TypeFamily } from './dialect.js'
import type { DuckDb } from './duckdb.js'
import { interruptedError } from './interrupt.js'
import { type Sql, type SqlValue, sql } from './sql.js'
import { integerWidth, widenType } from './type-rules.js'

const FLOATS = new Set(['FLOAT', 'DOUBLE'])

function typeFamily(declared: string): TypeFamily {
  const t = declared.toUpperCase()
  if (integerWidth(t)) return 'integer'
  if (FLOATS.has(t)) return 'real'
  if (t.startsWith('DECIMAL')) return 'numeric'
  if (t === 'VARCHAR') return 'text'
  if (t === 'BLOB') return 'blob'
  if (t === 'BOOLEAN') return 'boolean'
  return 'other'
}

export const duckdbDialect: Dialect = {
  name: 'duckdb',
  maxBoundParameters: 65_535,
  readsParquet: true,
  typing: 'static',
  probesByIndex: false,
  prefersConflictSkip: false,
  antiJoins: true,
  replacesByPrimaryKey: true,
  scratchSchema: 'temp',
  typeFamily,
  // The rules every merge shares (engine/type-rules.ts): integers to the wider integer, mixed
  // numbers to DOUBLE, DATE to TIMESTAMP.
  widen: widenType,
  columnType: (family) =>
    ({
      integer: 'BIGINT',
      real: 'DOUBLE',
      numeric: 'DOUBLE',
      text: 'VARCHAR',
      blob: 'BLOB',
      boolean: 'BOOLEAN',
      other: 'VARCHAR',
    })[family],
}

// DuckDB's vector size: a data chunk holds at most this many rows.
const CHUNK_ROWS = 2048

/**
 * A value from another engine as the appender needs it for `type`: integers of up to 32 bits
 * as numbers, wider ones as bigint, floats as numbers, blobs wrapped. Anything else as is.
 */
function toDuckDb(value: SqlValue, type: DuckDBType): DuckDBValue {
  if (value === null) return null
  if (value instanceof Uint8Array) return blobValue(value)
  const name = String(type)
  const t = integerWidth(name)
  if (t && (typeof value === 'number' || typeof value === 'bigint'))
    return t.bits > 32 ? BigInt(value) : Number(value)
  if (FLOATS.has(name) && typeof value === 'bigint') return Number(value)
  return value
}

/** A `DuckDb` (ours and theirs attached as catalogs) as a `Connection`. Closing it closes the db. */
export class DuckDbConnection implements Connection {
  readonly dialect = duckdbDialect
  readonly #db: DuckDb
  #interrupted = false

  constructor(db: DuckDb) {
    this.#db = db
  }

  async run(query: Sql): Promise<number> {
    // DuckDB's interrupt stops only the statement running; one arriving between statements must
    // stop the next one.
    if (this.#interrupted) throw interruptedError()
    return this.#db.run(query)
  }

  async all<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    if (this.#interrupted) throw interruptedError()
    return this.#db.all<T>(query)
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.#db.transaction(fn)
  }

  async insertRows(
    catalog: string,
    table: string,
    rows: readonly (readonly SqlValue[])[],
  ): Promise<void> {
    const appender = await this.#db.connection.createAppender(table, 'main', catalog)
    try {
      const types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i))
      for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
        const slice = rows.slice(start, start + CHUNK_ROWS)
        const chunk = DuckDBDataChunk.create(types, slice.length)
        chunk.setColumns(types.map((type, c) => slice.map((row) => toDuckDb(row[c] ?? null, type))))
        appender.appendDataChunk(chunk)
      }
      appender.flushSync()
    } finally {
      appender.closeSync()
    }
  }

  async *stream(query: Sql): AsyncIterable<SqlValue[][]> {
    const values: DuckDBValue[] = query.values.map((v) =>
      v instanceof Uint8Array ? blobValue(v) : v,
    )
    const result = await this.#db.connection.stream(query.text, values)
    for await (const rows of result.yieldRowsJs()) yield rows as SqlValue[][]
  }

  interrupt(): void {
    this.#interrupted = true
    this.#db.connection.interrupt()
  }

  /** Tables of the catalog's `main` schema, by name (DuckDB keeps no creation order across opens). */
  async tables(catalog: string): Promise<string[]> {
    const rows = await this.#db.all<{ table_name: string }>(
      sql`select table_name from duckdb_tables()
        where database_name = ${catalog} and schema_name = 'main' order by table_name`,
    )
    return rows.map((r) => r.table_name)
  }

  async describe(catalog: string, table: string): Promise<TableInfo | undefined> {
    const columns = await this.#db.all<{
      column_name: string
      data_type: string
      is_nullable: boolean
    }>(
      sql`select column_name, data_type, is_nullable from duckdb_columns()
        where database_name = ${catalog} and schema_name = 'main' and table_name = ${table}
        order by column_index`,
    )
    if (columns.length === 0) return undefined
    const constraints = await this.#db.all<{
      constraint_type: string
      constraint_column_names: string[]
    }>(
      sql`select constraint_type, constraint_column_names from duckdb_constraints()
        where database_name = ${catalog} and schema_name = 'main' and table_name = ${table}
          and constraint_type in ('PRIMARY KEY', 'UNIQUE')`,
    )
    const primaryKey =
      constraints.find((c) => c.constraint_type === 'PRIMARY KEY')?.constraint_column_names ?? []
    return {
      name: table,
      columns: columns.map((c) => ({
        name: c.column_name,
        type: c.data_type,
        notNull: !c.is_nullable,
      })),
      primaryKey,
      indexes: constraints.map((c) => c.constraint_column_names),
      uniqueKeys: constraints.map((c) => c.constraint_column_names),
    }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
