/**
 * Key-range pruning, the one piece every merge shares: which key types may be bounded by a
 * range, the aggregates that measure a side's key range, and the predicate that tells a key
 * outside a range. Pure SQL building; the Parquet data merge (merge/data-key-range.ts), Delta
 * MERGE (formats/delta/operations/merge/prune.ts) and the backfill (operations/backfill/) use it.
 */
import { ident, join, raw, type Sql, sql } from './sql.js'

/** The type range statistics are compared in, per kind of key. */
export type RangeType = 'DOUBLE' | 'TIMESTAMP' | 'VARCHAR'

/**
 * Key types whose order agrees with their equality (a key equal to another lies within any
 * range holding it), and the type their statistics compare in; undefined for the others
 * (floating point, whose NaN and -0.0 make ranges unreliable, nested types, booleans).
 *
 * @example
 * rangeTypeOf('BIGINT') // 'DOUBLE'
 * rangeTypeOf('DOUBLE') // undefined
 */
export function rangeTypeOf(type: string): RangeType | undefined {
  if (/^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|DECIMAL\(\d+,\s*\d+\))$/.test(type))
    return 'DOUBLE'
  if (/^(DATE|TIMESTAMP(_S|_MS|_NS)?)$/.test(type)) return 'TIMESTAMP'
  if (type === 'VARCHAR') return 'VARCHAR'
  return undefined
}

/**
 * One scan's worth of range aggregates: per key column i, `min<i>` and `max<i>` of the column
 * cast to `type` (the other side's type, so both compare alike), as text; with `distinct`, also
 * `n<i>`, an approximate count of distinct values (0 when not asked).
 *
 * @example
 * rangeAggregates([{ column: 'id', type: 'BIGINT' }])
 * // min(cast("id" as BIGINT))::varchar as "min0", max(cast("id" as BIGINT))::varchar as "max0"
 */
export function rangeAggregates(
  keys: readonly { readonly column: string; readonly type: string; readonly distinct?: boolean }[],
): Sql {
  return join(
    keys.map((k, i) => {
      const cast = sql`cast(${ident(k.column)} as ${raw(k.type)})`
      const range = sql`min(${cast})::varchar as ${ident(`min${i}`)}, max(${cast})::varchar as ${ident(`max${i}`)}`
      if (k.distinct === undefined) return range
      const distinct = k.distinct ? sql`approx_count_distinct(${cast})` : raw('0')
      return sql`${range}, ${distinct} as ${ident(`n${i}`)}`
    }),
  )
}

/**
 * `(column < lo or column > hi)` with the bounds given (either may be left out): true when the
 * key lies outside the range, NULL for a NULL key; undefined when no bound is given.
 *
 * @example
 * outsideRange(sql`s."id"`, sql`cast(${10} as BIGINT)`, sql`cast(${99} as BIGINT)`)
 * // (s."id" < cast(? as BIGINT) or s."id" > cast(? as BIGINT))
 */
export function outsideRange(
  column: Sql,
  lo: Sql | undefined,
  hi: Sql | undefined,
): Sql | undefined {
  const tests: Sql[] = []
  if (lo !== undefined) tests.push(sql`${column} < ${lo}`)
  if (hi !== undefined) tests.push(sql`${column} > ${hi}`)
  return tests.length === 0 ? undefined : sql`(${join(tests, ' or ')})`
}
