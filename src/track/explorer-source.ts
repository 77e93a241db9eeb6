/**
 * Which table of a results database holds the experiments, which column names the version and
 * which the run, and what type each column has: the explorer's view of a xetrack-style DB.
 */

import { assertExists, sniffFormat } from '../engine/files.js'
import { ident, sql } from '../engine/sql.js'
import { allSync, openSqlite, type SqliteDb } from '../engine/sqlite.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { duckDbAsSqlite } from './explorer-duckdb.js'

/** Where the experiments live; every field but `db` has a default. */
export interface ResultsSourceOptions {
  /** SQLite results database (xetrack layout: one wide table, params and metrics as columns). */
  readonly db: string
  /** Default: the table that has the version column (the one with most rows if several do). */
  readonly table?: string
  /** Column naming the experiment. Default `experiment_version`. */
  readonly versionColumn?: string
  /** Column naming the run (one Tracker instance). Default `track_id`; ignored when absent. */
  readonly runColumn?: string
}

/** SQLite type affinity (https://sqlite.org/datatype3.html §3.1), plus 'float' for REAL. */
export type ColumnKind = 'integer' | 'text' | 'blob' | 'float' | 'numeric'

export interface ColumnInfo {
  readonly name: string
  readonly declaredType: string
  readonly kind: ColumnKind
}

export interface ResultsTable {
  readonly db: SqliteDb
  readonly path: string
  readonly table: string
  readonly versionColumn: string
  readonly runColumn: string | undefined
  readonly columns: readonly ColumnInfo[]
  /** Other tables that also have the version column (candidates for --table). */
  readonly otherTables: readonly string[]
}

export const DEFAULT_VERSION_COLUMN = 'experiment_version'
export const DEFAULT_RUN_COLUMN = 'track_id'

/**
 * Opens the results database read-only and resolves the experiments table. The caller closes
 * `db`. Throws INPUT_NOT_FOUND, INPUT_UNREADABLE, TABLE_NOT_FOUND or COLUMN_NOT_FOUND naming the
 * file, table or column.
 *
 * @example
 * const source = await openResultsTable({ db: 'results/experiments.db' })
 * // { table: 'predictions', versionColumn: 'experiment_version', runColumn: 'track_id', … }
 */
export async function openResultsTable(options: ResultsSourceOptions): Promise<ResultsTable> {
  await assertExists(options.db, 'results database')
  const format = await sniffFormat(options.db)
  if (format !== 'sqlite' && format !== 'duckdb')
    throw new DuckmergeError(
      format === 'unknown' ? 'INPUT_UNREADABLE' : 'UNSUPPORTED_FEATURE',
      `${options.db} is not a SQLite or DuckDB database (${format === 'unknown' ? 'unrecognised content' : `it is ${format}`}); duckmerge exp reads results databases as xetrack writes them.`,
      { path: options.db, format },
    )
  const db = format === 'duckdb' ? await duckDbAsSqlite(options.db) : openForReading(options.db)
  try {
    return resolveTable(db, options)
  } catch (error) {
    db.close()
    throw error
  }
}

function resolveTable(db: SqliteDb, options: ResultsSourceOptions): ResultsTable {
  const versionColumn = options.versionColumn ?? DEFAULT_VERSION_COLUMN
  let tables: string[]
  try {
    tables = allSync<{ name: string }>(
      db,
      sql`select name from sqlite_schema where type in ('table', 'view') and name not like 'sqlite_%' order by name`,
    ).map((r) => r.name)
  } catch (error) {
    if (/database is locked|busy/i.test(messageOf(error)))
      throw new DuckmergeError(
        'LOCKED',
        `Cannot read ${options.db}: another process holds its lock (${messageOf(error)}). Retry when it is done.`,
        { path: options.db },
        { cause: error },
      )
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read ${options.db}: ${messageOf(error)}`,
      { path: options.db },
      { cause: error },
    )
  }
  const withVersion = tables.filter((t) => columnsOf(db, t).some((c) => c.name === versionColumn))
  let table = options.table
  if (table !== undefined) {
    if (!tables.includes(table))
      throw new DuckmergeError(
        'TABLE_NOT_FOUND',
        `Table "${table}" not found in ${options.db} (tables: ${tables.join(', ') || 'none'}).`,
        { path: options.db, table, tables, hint: 'Choose {table} from these tables.' },
      )
  } else {
    if (withVersion.length === 0)
      throw new DuckmergeError(
        'TABLE_NOT_FOUND',
        `No table in ${options.db} has the version column "${versionColumn}" (tables: ${tables.join(', ') || 'none'}).`,
        {
          path: options.db,
          versionColumn,
          tables,
          hint: 'Choose {versionColumn} as the column naming your experiments, or a {table}.',
        },
      )
    table = largestTable(db, withVersion)
  }
  const columns = columnsOf(db, table)
  if (!columns.some((c) => c.name === versionColumn))
    throw new DuckmergeError(
      'COLUMN_NOT_FOUND',
      `Table "${table}" in ${options.db} has no version column "${versionColumn}" (columns: ${columns.map((c) => c.name).join(', ')}).`,
      {
        path: options.db,
        table,
        column: versionColumn,
        hint: 'Choose {versionColumn} as the column naming your experiments.',
      },
    )
  const runName = options.runColumn ?? DEFAULT_RUN_COLUMN
  const hasRun = columns.some((c) => c.name === runName)
  if (options.runColumn !== undefined && !hasRun)
    throw new DuckmergeError(
      'COLUMN_NOT_FOUND',
      `Table "${table}" in ${options.db} has no run column "${runName}" (columns: ${columns.map((c) => c.name).join(', ')}).`,
      { path: options.db, table, column: runName },
    )
  return {
    db,
    path: options.db,
    table,
    versionColumn,
    runColumn: hasRun ? runName : undefined,
    columns,
    otherTables: withVersion.filter((t) => t !== table),
  }
}

/**
 * Several tables carry the version (xetrack: `predictions` per event, `metrics` per run): the
 * one with most rows holds the per-event measurements, so it is the default; ties go to the
 * first by name. `--table` picks another.
 */
function largestTable(db: SqliteDb, tables: readonly string[]): string {
  if (tables.length === 1) return tables[0] ?? ''
  let best = tables[0] ?? ''
  let bestRows = -1
  for (const t of tables) {
    const rows = Number(
      allSync<{ n: number }>(db, sql`select count(*) as n from ${ident(t)}`)[0]?.n ?? 0,
    )
    if (rows > bestRows) {
      best = t
      bestRows = rows
    }
  }
  return best
}

export function columnsOf(db: SqliteDb, table: string): ColumnInfo[] {
  return allSync<{ name: string; type: string }>(
    db,
    sql`select name, type from pragma_table_info(${table})`,
  ).map((c) => ({ name: c.name, declaredType: c.type, kind: affinity(c.type) }))
}

function affinity(declared: string): ColumnKind {
  const t = declared.toUpperCase()
  if (t.includes('INT')) return 'integer'
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text'
  if (t.includes('BLOB') || t === '') return 'blob'
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'float'
  return 'numeric'
}

/** Throws COLUMN_NOT_FOUND naming the table and its columns unless every name is a column. */
export function assertColumns(
  source: ResultsTable,
  names: readonly string[],
  role: 'metric' | 'param',
): void {
  const known = new Set(source.columns.map((c) => c.name))
  const missing = names.filter((n) => !known.has(n))
  if (missing.length === 0) return
  throw new DuckmergeError(
    'COLUMN_NOT_FOUND',
    `Unknown ${role} ${missing.map((m) => `"${m}"`).join(', ')}: table "${source.table}" in ${source.path} has no such column (columns: ${source.columns.map((c) => c.name).join(', ')}).`,
    { path: source.path, table: source.table, columns: missing, role },
  )
}

/**
 * Throws VALIDATION_FAILED naming the column's type unless `name` is a column numbers can be
 * averaged and ranked on (a TEXT or BLOB column cannot; an untyped one may hold numbers).
 */
export function assertNumericColumn(
  source: ResultsTable,
  name: string,
  use: 'sort by' | 'plot',
): void {
  const column = source.columns.find((c) => c.name === name)
  if (column === undefined) {
    assertColumns(source, [name], 'metric')
    return
  }
  if (column.kind !== 'text' && !(column.kind === 'blob' && column.declaredType !== '')) return
  throw new DuckmergeError(
    'VALIDATION_FAILED',
    `Cannot ${use} "${name}": column "${name}" of table "${source.table}" in ${source.path} is ${column.declaredType}, not a number.`,
    {
      path: source.path,
      table: source.table,
      column: name,
      type: column.declaredType,
      hint: `Choose a numeric column (INTEGER or REAL) as {${use === 'plot' ? 'metric' : 'sort'}}.`,
    },
  )
}

/**
 * A connection that reads and cannot write (`query_only`). Read-write at the file level when
 * allowed: SQLite removes a WAL database's -wal and -shm files when the last connection closes,
 * which a read-only connection cannot do, so reading would leave them behind.
 */
function openForReading(path: string): SqliteDb {
  let db: SqliteDb
  try {
    db = openSqlite(path, { readonly: false })
  } catch {
    return openSqlite(path, { readonly: true })
  }
  db.pragma('query_only = 1')
  return db
}
