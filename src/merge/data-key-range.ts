/**
 * Key matching that skips base row groups. Exp's smallest and largest value of the first key
 * column are kept in DuckDB variables: a filter on them is a constant, which DuckDB pushes into
 * the Parquet scan, where row-group min/max statistics skip the groups no exp key can match.
 * Base written in key order (ids, timestamps) then costs little more than a plain copy.
 */
import type { DuckDb } from '../engine/duckdb.js'
import { outsideRange, rangeTypeOf } from '../engine/key-range.js'
import { ident, raw, type Sql, sql } from '../engine/sql.js'
import { rowGroupSpread, type StatsType } from '../formats/parquet/row-groups.js'
import type { UnionSchema } from '../formats/parquet/schema.js'
import { type ParquetSource, readParquetSql } from '../formats/parquet/source.js'
import type { Strategy } from './report.js'

/** How base rows are matched against exp keys; computed before the write. */
export interface KeyPlan {
  /** Key column whose exp range bounds the base rows that can match; undefined: every row can. */
  readonly rangeColumn?: string
  /**
   * Rebase: base rows outside exp's range are copied without probing exp's keys, in a second
   * scan of base that skips the row groups inside the range.
   */
  readonly splitsBase: boolean
  /** Only exp rows within base's key range (or with a NULL key) are matched; merge adds the rest. */
  readonly boundsExp: boolean
}

export const noKeyRange: KeyPlan = { splitsBase: false, boundsExp: false }

const lo = raw(`getvariable('duckmerge_key_lo')`)
const hi = raw(`getvariable('duckmerge_key_hi')`)
const baseLo = raw(`getvariable('duckmerge_base_key_lo')`)
const baseHi = raw(`getvariable('duckmerge_base_key_hi')`)

/**
 * Straddling row groups (partly inside exp's range) are read by both halves of a split rebase.
 * Decoding a row costs from about one hash probe (a few narrow columns, measured here) to several
 * (wide rows), so the split pays only when the rows it spares probing far outnumber them.
 */
const straddlingPerOutside = 1 / 4

/**
 * `alias.column BETWEEN <exp's smallest key> AND <exp's largest key>`: false for NULL keys, and
 * for every row when exp's column holds only NULLs.
 */
export function inKeyRange(alias: string, column: string): Sql {
  return sql`${ident(alias)}.${ident(column)} between ${lo} and ${hi}`
}

/**
 * `(alias.column < <base's smallest key> OR alias.column > <base's largest key>)`: exp rows no
 * base row can share a key with (typically new keys past base's last one). False for NULL keys.
 */
export function outsideBaseKeyRange(alias: string, column: string): Sql {
  return outsideRange(sql`${ident(alias)}.${ident(column)}`, baseLo, baseHi) as Sql
}

/**
 * The complement of `outsideBaseKeyRange`: exp rows that may share a key with a base row (in
 * base's range, a NULL key, or base's column holds only NULLs). Only these are hashed for the
 * anti-join, whose table is then smaller to probe.
 */
export function mayMatchBase(alias: string, column: string): Sql {
  return sql`${outsideBaseKeyRange(alias, column)} is not true`
}

/** `(alias.column < <exp's smallest key> OR alias.column > <exp's largest key>)`. */
export function outsideKeyRange(alias: string, column: string): Sql {
  return outsideRange(sql`${ident(alias)}.${ident(column)}`, lo, hi) as Sql
}

/**
 * Decides how keys are matched. When the first key column is an integer, decimal, date,
 * timestamp or text on both sides (types whose order agrees with their equality, so a key equal
 * to an exp key lies within exp's min and max), it sets the range variables and bounds matching
 * by them, and exp's keys by base's range likewise (both ranges come from the footers'
 * statistics when present). A rebase also splits base when the footers show enough rows in row
 * groups wholly outside exp's range.
 *
 * @example
 * const plan = await planKeyMatch(db, { strategy: 'rebase', key: ['id'], base, exp, schema, rowsBefore })
 * // { rangeColumn: 'id', splitsBase: true, boundsExp: true } for a base written in id order
 */
export async function planKeyMatch(
  db: DuckDb,
  job: {
    readonly strategy: Strategy
    readonly key: readonly string[]
    readonly base: ParquetSource
    readonly exp: ParquetSource
    readonly expSql: Sql
    readonly schema: UnionSchema
    readonly rowsBefore: number
  },
): Promise<KeyPlan> {
  const column = job.key[0]
  if (column === undefined) return noKeyRange
  const typeOf = (columns: UnionSchema['base']) =>
    columns.find((c) => c.name.toLowerCase() === column.toLowerCase())?.type ?? ''
  const as = statsType(typeOf(job.schema.base))
  if (as === undefined || as !== statsType(typeOf(job.schema.exp))) return noKeyRange
  await db.run(
    sql`SET VARIABLE duckmerge_key_lo = (select min(${ident(column)}) from ${job.expSql})`,
  )
  await db.run(
    sql`SET VARIABLE duckmerge_key_hi = (select max(${ident(column)}) from ${job.expSql})`,
  )
  const baseSql = readParquetSql(job.base)
  await db.run(
    sql`SET VARIABLE duckmerge_base_key_lo = (select min(${ident(column)}) from ${baseSql})`,
  )
  await db.run(
    sql`SET VARIABLE duckmerge_base_key_hi = (select max(${ident(column)}) from ${baseSql})`,
  )
  if (job.strategy === 'merge') return { rangeColumn: column, splitsBase: false, boundsExp: true }
  const spread = await rowGroupSpread(db, job.base, column, { lo, hi, as })
  // Rows the statistics do not cover (no stats, files lacking the column) count as straddling.
  const straddling = job.rowsBefore - spread.outside - spread.inside
  const splitsBase = spread.outside > 0 && straddling <= spread.outside * straddlingPerOutside
  return { rangeColumn: column, splitsBase, boundsExp: true }
}

/** Key types whose statistics are compared, and in what type (engine/key-range.ts). */
export const statsType: (type: string) => StatsType | undefined = rangeTypeOf
