/**
 * What a strategy knows about an engine: named capabilities (a `Dialect`) and the one connection
 * shape it runs SQL through. Strategies never ask which engine they run on (STYLE.md, SQL).
 */
import { DuckmergeError } from '../errors.js'
import { raw, type Sql, type SqlValue } from './sql.js'

export type EngineName = 'duckdb' | 'sqlite'

/**
 * How a column's declared type relates to its values.
 * - `static` (DuckDB): every value has the column's type; `ALTER … TYPE` can widen a column.
 * - `dynamic` (SQLite): the declared type is only an affinity, each value keeps its own storage
 *   class (https://sqlite.org/datatype3.html); a declared type cannot be altered in place.
 */
export type Typing = 'static' | 'dynamic'

/** A coarse type family, enough to decide whether two column types widen or clash. */
export type TypeFamily = 'integer' | 'real' | 'numeric' | 'text' | 'blob' | 'boolean' | 'other'

export interface Dialect {
  readonly name: EngineName
  /** SQLite caps bound values per statement. */
  readonly maxBoundParameters: number
  /** DuckDB scans Parquet directly. */
  readonly readsParquet: boolean
  readonly typing: Typing
  /**
   * True when a correlated lookup (`not exists (select … where key = outer.key)`) runs as a
   * nested loop and needs an index on the probed columns (SQLite: hours at 1M rows without one);
   * false when the engine turns it into a hash join (DuckDB).
   */
  readonly probesByIndex: boolean
  /**
   * True when skipping rows a unique index already holds is cheapest as `insert … on conflict
   * do nothing` (SQLite: measured ~1.1x of INSERT OR IGNORE, against ~1.3x for `not exists`,
   * which copies the selected rows to a temp table first because it reads the target); false
   * when the engine's hash anti-join is as fast (DuckDB: 0.94–1.07x of its INSERT OR IGNORE).
   */
  readonly prefersConflictSkip: boolean
  /**
   * True when replacing rows by primary key is cheapest as one `insert or replace` (DuckDB:
   * delete + insert maintains the key's ART index twice; measured 5.7x of INSERT OR REPLACE at
   * 1M + 200k rows); false when delete + insert through the key index is as fast (SQLite).
   */
  readonly replacesByPrimaryKey: boolean
  /** True when the engine has `anti join` syntax (DuckDB); else NOT EXISTS (engine/absent-key.ts). */
  readonly antiJoins: boolean
  /** The schema that holds scratch tables for this connection (`temp` in SQLite). */
  readonly scratchSchema: string
  /** The family of a declared column type ('REAL' → real, 'VARCHAR' → text). */
  typeFamily(declared: string): TypeFamily
  /**
   * The type two column types widen to, or undefined when they clash. Static typing only: a
   * dynamically typed engine keeps the ours column's declaration and checks stored values.
   */
  widen(ours: string, theirs: string): string | undefined
  /** The declared type this engine gives a column of `family` it creates ('REAL' vs 'DOUBLE'). */
  columnType(family: TypeFamily): string
}

/** A column as the catalog declares it. `type` is the declared type text ('' when none). */
export interface ColumnInfo {
  readonly name: string
  readonly type: string
  readonly notNull: boolean
}

/** A table as the catalog describes it. */
export interface TableInfo {
  readonly name: string
  readonly columns: readonly ColumnInfo[]
  /** Primary key columns in key order; empty when the table has none. */
  readonly primaryKey: readonly string[]
  /** Leading column lists of the indexes a lookup can use (primary key and unique ones included). */
  readonly indexes: readonly (readonly string[])[]
  /** Column lists of the primary key and unique constraints/indexes. */
  readonly uniqueKeys: readonly (readonly string[])[]
}

/**
 * One open connection, with ours and theirs attached under schema names the session gives. Async
 * for both engines, so a strategy is written once.
 */
export interface Connection {
  readonly dialect: Dialect
  /** Runs a statement; returns the number of rows it changed. */
  run(query: Sql): Promise<number>
  all<T = Record<string, unknown>>(query: Sql): Promise<T[]>
  /**
   * Appends rows to a table the fastest way the engine has (SQLite: one prepared statement in a
   * transaction; DuckDB: its appender). `rows` hold a value for every column, in table order.
   */
  insertRows(schema: string, table: string, rows: readonly (readonly SqlValue[])[]): Promise<void>
  /** The rows of a query as value arrays, a batch at a time, without holding all of them. */
  stream(query: Sql): AsyncIterable<SqlValue[][]>
  /** Runs `fn` inside one transaction; rolls back and rethrows on failure. */
  transaction<T>(fn: () => Promise<T>): Promise<T>
  /**
   * Asks the running statement to stop (DuckDB). SQLite statements cannot be interrupted through
   * better-sqlite3: they finish, and the next statement boundary is where a caller checks.
   */
  interrupt(): void
  /** Names of the user tables in `schema`, in catalog order. */
  tables(schema: string): Promise<string[]>
  /** The table's columns, key and indexes, or undefined when `schema` has no such table. */
  describe(schema: string, table: string): Promise<TableInfo | undefined>
  close(): Promise<void>
}

// A declared type is engine catalog text, spliced where no parameter is possible (CREATE TABLE,
// ADD COLUMN). Allow names, sizes, arrays and nested types, but nothing that could end a
// statement, open a quote or start a comment.
const SAFE_TYPE = /^[A-Za-z0-9_ (),[\]]*$/

/**
 * A declared column type as SQL, after checking it holds only type-name characters.
 *
 * @example
 * declaredType('VARCHAR(20)', 'runs.note') // raw('VARCHAR(20)')
 */
export function declaredType(type: string, where: string): Sql {
  if (!SAFE_TYPE.test(type) || type.includes('--'))
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Column ${where} has declared type "${type}", which duckmerge cannot copy safely (only letters, digits, spaces and (),[] are accepted). Rename the type in the source database.`,
      { column: where, type },
    )
  return raw(type)
}

/** A connection with ours and theirs attached, and the schema names SQL uses for each. */
export interface Session {
  readonly connection: Connection
  readonly schemas: { readonly ours: string; readonly theirs: string }
  /** Makes ours durable (no write-ahead log left beside it) and closes the connection. */
  close(): Promise<void>
}
