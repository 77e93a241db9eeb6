/**
 * Key matching that skips ours row groups. Theirs' smallest and largest value of the first key
 * column are kept in DuckDB variables: a filter on them is a constant, which DuckDB pushes into
 * the Parquet scan, where row-group min/max statistics skip the groups no theirs key can match.
 * Ours written in key order (ids, timestamps) then costs little more than a plain copy.
 */
import type { DuckDb } from '../engine/duckdb.js'
import { outsideRange, rangeTypeOf } from '../engine/key-range.js'
import { ident, raw, type Sql, sql } from '../engine/sql.js'
import { rowGroupSpread, type StatsType } from '../formats/parquet/row-groups.js'
import type { UnionSchema } from '../formats/parquet/schema.js'
import { type ParquetSource, readParquetSql } from '../formats/parquet/source.js'
import type { Strategy } from './report.js'

/** How ours rows are matched against theirs keys; computed before the write. */
export interface KeyPlan {
  /** Key column whose theirs range bounds the ours rows that can match; undefined: every row can. */
  readonly rangeColumn?: string
  /**
   * Rebase: ours rows outside theirs' range are copied without probing theirs' keys, in a second
   * scan of ours that skips the row groups inside the range.
   */
  readonly splitsOurs: boolean
  /** Only theirs rows within ours' key range (or with a NULL key) are matched; merge adds the rest. */
  readonly boundsTheirs: boolean
}

export const noKeyRange: KeyPlan = { splitsOurs: false, boundsTheirs: false }

const lo = raw(`getvariable('duckmerge_key_lo')`)
const hi = raw(`getvariable('duckmerge_key_hi')`)
const oursLo = raw(`getvariable('duckmerge_base_key_lo')`)
const oursHi = raw(`getvariable('duckmerge_base_key_hi')`)

/**
 * Straddling row groups (partly inside theirs' range) are read by both halves of a split rebase.
 * Decoding a row costs from about one hash probe (a few narrow columns, measured here) to several
 * (wide rows), so the split pays only when the rows it spares probing far outnumber them.
 */
const straddlingPerOutside = 1 / 4

/**
 * `alias.column BETWEEN <theirs' smallest key> AND <theirs' largest key>`: false for NULL keys, and
 * for every row when theirs' column holds only NULLs.
 */
export function inKeyRange(alias: string, column: string): Sql {
  return sql`${ident(alias)}.${ident(column)} between ${lo} and ${hi}`
}

/**
 * `(alias.column < <ours' smallest key> OR alias.column > <ours' largest key>)`: theirs rows no
 * ours row can share a key with (typically new keys past ours' last one). False for NULL keys.
 */
export function outsideOursKeyRange(alias: string, column: string): Sql {
  return outsideRange(sql`${ident(alias)}.${ident(column)}`, oursLo, oursHi) as Sql
}

/**
 * The complement of `outsideOursKeyRange`: theirs rows that may share a key with an ours row (in
 * ours' range, a NULL key, or ours' column holds only NULLs). Only these are hashed for the
 * anti-join, whose table is then smaller to probe.
 */
export function mayMatchOurs(alias: string, column: string): Sql {
  return sql`${outsideOursKeyRange(alias, column)} is not true`
}

/** `(alias.column < <theirs' smallest key> OR alias.column > <theirs' largest key>)`. */
export function outsideKeyRange(alias: string, column: string): Sql {
  return outsideRange(sql`${ident(alias)}.${ident(column)}`, lo, hi) as Sql
}

/**
 * Decides how keys are matched. When the first key column is an integer, decimal, date,
 * timestamp or text on both sides (types whose order agrees with their equality, so a key equal
 * to a theirs key lies within theirs' min and max), it sets the range variables and bounds matching
 * by them, and theirs' keys by ours' range likewise (both ranges come from the footers'
 * statistics when present). A rebase also splits ours when the footers show enough rows in row
 * groups wholly outside theirs' range.
 *
 * @example
 * const plan = await planKeyMatch(db, { strategy: 'rebase', key: ['id'], ours, theirs, schema, rowsBefore })
 * // { rangeColumn: 'id', splitsOurs: true, boundsTheirs: true } for an ours written in id order
 */
export async function planKeyMatch(
  db: DuckDb,
  job: {
    readonly strategy: Strategy
    readonly key: readonly string[]
    readonly ours: ParquetSource
    readonly theirs: ParquetSource
    readonly theirsSql: Sql
    readonly schema: UnionSchema
    readonly rowsBefore: number
  },
): Promise<KeyPlan> {
  const column = job.key[0]
  if (column === undefined) return noKeyRange
  const typeOf = (columns: UnionSchema['ours']) =>
    columns.find((c) => c.name.toLowerCase() === column.toLowerCase())?.type ?? ''
  const as = statsType(typeOf(job.schema.ours))
  if (as === undefined || as !== statsType(typeOf(job.schema.theirs))) return noKeyRange
  await db.run(
    sql`SET VARIABLE duckmerge_key_lo = (select min(${ident(column)}) from ${job.theirsSql})`,
  )
  await db.run(
    sql`SET VARIABLE duckmerge_key_hi = (select max(${ident(column)}) from ${job.theirsSql})`,
  )
  const oursSql = readParquetSql(job.ours)
  await db.run(
    sql`SET VARIABLE duckmerge_base_key_lo = (select min(${ident(column)}) from ${oursSql})`,
  )
  await db.run(
    sql`SET VARIABLE duckmerge_base_key_hi = (select max(${ident(column)}) from ${oursSql})`,
  )
  if (job.strategy === 'merge')
    return { rangeColumn: column, splitsOurs: false, boundsTheirs: true }
  const spread = await rowGroupSpread(db, job.ours, column, { lo, hi, as })
  // Rows the statistics do not cover (no stats, files lacking the column) count as straddling.
  const straddling = job.rowsBefore - spread.outside - spread.inside
  const splitsOurs = spread.outside > 0 && straddling <= spread.outside * straddlingPerOutside
  return { rangeColumn: column, splitsOurs, boundsTheirs: true }
}

/** Key types whose statistics are compared, and in what type (engine/key-range.ts). */
export const statsType: (type: string) => StatsType | undefined = rangeTypeOf
