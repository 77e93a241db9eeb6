/** Builders and readers of small Parquet files for the data merge/rebase tests (real DuckDB). */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { ident, identList, join, literal, raw, type SqlValue, sql } from '../../src/engine/sql.js'

/** Column name → DuckDB type, e.g. { id: 'INTEGER', v: 'VARCHAR' }. */
export type Columns = Record<string, string>

/**
 * Writes `rows` (values in column order) to a Parquet file at `path` with DuckDB.
 *
 * @example
 * await writeParquet(`${dir}/base.parquet`, { id: 'INTEGER', v: 'VARCHAR' }, [[1, 'a'], [2, 'b']])
 */
export async function writeParquet(
  path: string,
  columns: Columns,
  rows: readonly (readonly SqlValue[])[],
  options: { compression?: string; partitionBy?: readonly string[] } = {},
): Promise<void> {
  mkdirSync(dirname(path), { recursive: true })
  await withDuckDb({}, async (db) => {
    const defs = join(
      Object.entries(columns).map(([name, type]) => sql`${ident(name)} ${raw(type)}`),
    )
    await db.run(sql`create table t (${defs})`)
    const names = Object.keys(columns)
    for (const row of rows)
      await db.run(
        sql`insert into t (${identList(names)}) values (${join(row.map((v) => sql`${v}`))})`,
      )
    const partition = options.partitionBy
      ? sql`, PARTITION_BY (${identList(options.partitionBy)})`
      : raw('')
    await db.run(
      sql`copy t to ${literal(path)} (FORMAT parquet, COMPRESSION ${raw(options.compression ?? 'snappy')}${partition})`,
    )
  })
}

/** All rows of Parquet at `path` (file, glob, or hive directory), JSON-safe, sorted by every column. */
export async function readParquet(
  path: string,
  options: { hive?: boolean } = {},
): Promise<Record<string, unknown>[]> {
  return withDuckDb({}, (db) =>
    db.allJson(
      sql`select * from read_parquet(${path}, union_by_name = true, hive_partitioning = ${raw(options.hive ? 'true' : 'false')}) order by all`,
    ),
  )
}

/** Column name → type as DuckDB reads the Parquet at `path`. */
export async function parquetColumns(
  path: string,
  options: { hive?: boolean } = {},
): Promise<Record<string, string>> {
  const rows = await withDuckDb({}, (db) =>
    db.all<{ column_name: string; column_type: string }>(
      sql`describe select * from read_parquet(${path}, union_by_name = true, hive_partitioning = ${raw(options.hive ? 'true' : 'false')})`,
    ),
  )
  return Object.fromEntries(rows.map((r) => [r.column_name, r.column_type]))
}

/** The distinct column-chunk compression codecs recorded in a Parquet file's metadata. */
export async function parquetCompressions(path: string): Promise<string[]> {
  const rows = await withDuckDb({}, (db) =>
    db.all<{ compression: string }>(
      sql`select distinct compression from parquet_metadata(${path}) order by 1`,
    ),
  )
  return rows.map((r) => r.compression)
}
