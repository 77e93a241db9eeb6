/**
 * Where a source's rows lie against a value range, read from the min/max statistics in its
 * Parquet footers (no data is read): the figure that tells whether skipping row groups pays.
 */
import type { DuckDb } from '../../engine/duckdb.js'
import { join, raw, type Sql, sql } from '../../engine/sql.js'
import type { ParquetSource } from './source.js'

/**
 * The type footer statistics are compared in. Parquet stores them as text here; numbers compare
 * as DOUBLE, dates and timestamps as TIMESTAMP, strings as VARCHAR.
 */
export type StatsType = 'DOUBLE' | 'TIMESTAMP' | 'VARCHAR'

export interface RowGroupSpread {
  /** Rows in row groups whose statistics show every value outside the range. */
  readonly outside: number
  /** Rows in row groups whose statistics show every value inside the range. */
  readonly inside: number
  /** All rows the statistics cover (rows of files without the column, or hive columns, are not). */
  readonly covered: number
}

/**
 * Sums the rows of `source`'s row groups by how their statistics for top-level `column` sit
 * against [`lo`, `hi`] (SQL expressions, e.g. DuckDB variables). A row group without statistics,
 * or one DuckDB cannot parse in `as`, counts as neither outside nor inside. NULL bounds make
 * every comparison unknown: nothing is outside or inside then.
 *
 * @example
 * await rowGroupSpread(db, ours, 'id', { lo: sql`getvariable('lo')`, hi: sql`getvariable('hi')`, as: 'DOUBLE' })
 * // { outside: 9_461_760, inside: 368_640, covered: 10_000_000 }
 * // DuckDB: select … from parquet_metadata([?, …]) where lower(path_in_schema) = lower(?)
 */
export async function rowGroupSpread(
  db: DuckDb,
  source: ParquetSource,
  column: string,
  range: { readonly lo: Sql; readonly hi: Sql; readonly as: StatsType },
): Promise<RowGroupSpread> {
  if (source.files.length === 0) return { outside: 0, inside: 0, covered: 0 }
  const files = join(source.files.map((f) => sql`${f}`))
  const as = raw(range.as)
  const row = await db.one<{ outside: bigint; inside: bigint; covered: bigint }>(
    sql`with g as (
      select row_group_num_rows as n,
        try_cast(stats_min_value as ${as}) as mn, try_cast(stats_max_value as ${as}) as mx
      from parquet_metadata([${files}]) where lower(path_in_schema) = lower(${column})
    ), r as (select try_cast(${range.lo} as ${as}) as lo, try_cast(${range.hi} as ${as}) as hi)
    select coalesce(sum(n) filter (where mx < lo or mn > hi), 0) as outside,
      coalesce(sum(n) filter (where mn >= lo and mx <= hi), 0) as inside,
      coalesce(sum(n), 0) as covered
    from g, r`,
  )
  return {
    outside: Number(row?.outside ?? 0),
    inside: Number(row?.inside ?? 0),
    covered: Number(row?.covered ?? 0),
  }
}
