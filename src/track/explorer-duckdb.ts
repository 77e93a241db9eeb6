/**
 * DuckDB results files for the explorer: their tables copied into an in-memory SQLite database,
 * so `exp list/diff/plot` run the same queries on a DuckDB file (the Tracker's `engine: 'duckdb'`
 * on a .duckdb path) as on a SQLite one. The file is opened read-only and left untouched.
 */
import { DuckDb } from '../engine/duckdb.js'
import { ident, identList, raw, sql } from '../engine/sql.js'
import { openSqlite, type SqliteDb } from '../engine/sqlite.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { duckDbOpenError } from './duckdb-open-error.js'

/** SQLite's declared type for a DuckDB column type: the same affinity the explorer reads. */
function sqliteType(duckType: string): string {
  const t = duckType.toUpperCase()
  if (/INT|BOOLEAN/.test(t)) return 'INTEGER'
  if (/DOUBLE|FLOAT|REAL|DECIMAL/.test(t)) return 'REAL'
  if (t === 'BLOB') return 'BLOB'
  return 'TEXT'
}

function sqliteValue(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array))
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
  return value
}

/**
 * Copies every table of the DuckDB file `path` into a new in-memory SQLite database.
 *
 * @example
 * const db = await duckDbAsSqlite('results/experiments.duckdb')
 * db.prepare('select count(*) from predictions').get()
 */
export async function duckDbAsSqlite(path: string): Promise<SqliteDb> {
  let duck: DuckDb
  try {
    duck = await DuckDb.open({ path, readOnly: true })
  } catch (error) {
    throw duckDbOpenError(path, error, {
      doing: 'Cannot read results database',
      advice:
        'DuckDB lets no other process read a file while one writes it: retry when it is done.',
    })
  }
  const copy = openSqlite(':memory:', { fileMustExist: false })
  try {
    const columns = await duck.all<{ table: string; name: string; type: string }>(
      raw(`select table_name as "table", column_name as name, data_type as type
        from duckdb_columns() where database_name = current_database() and schema_name = 'main'
        order by table_name, column_index`),
    )
    const tables = new Map<string, { name: string; type: string }[]>()
    for (const c of columns) tables.set(c.table, [...(tables.get(c.table) ?? []), c])
    for (const [table, cols] of tables) {
      const defs = cols.map((c) => `${ident(c.name).text} ${sqliteType(c.type)}`).join(', ')
      copy.exec(`create table ${ident(table).text} (${defs})`)
      const names = cols.map((c) => c.name)
      const insert = copy.prepare(
        `insert into ${ident(table).text} (${identList(names).text}) values (${names.map(() => '?').join(', ')})`,
      )
      const rows = await duck.all(sql`select ${identList(names)} from ${ident(table)}`)
      copy.transaction(() => {
        for (const row of rows) insert.run(names.map((n) => sqliteValue(row[n])))
      })()
    }
    return copy
  } catch (error) {
    copy.close()
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read results database ${path}: ${messageOf(error)}.`,
      { path },
      { cause: error },
    )
  } finally {
    duck.close()
  }
}
