/**
 * The SQL of dataset merge and rebase, built from the two `read_parquet` scans. Keys match with
 * IS NOT DISTINCT FROM: a NULL key equals a NULL key, as people expect of "the same row".
 */
import { absentKeyRows, keyMatch as matchKeys } from '../engine/absent-key.js'
import { duckdbDialect } from '../engine/duckdb-dialect.js'
import { empty, ident, identList, join, raw, type Sql, sql } from '../engine/sql.js'
import { formatDuckType, parseDuckType } from '../engine/type-rules.js'
import type { TypeChange } from '../formats/parquet/schema.js'
import {
  inKeyRange,
  type KeyPlan,
  mayMatchOurs,
  noKeyRange,
  outsideKeyRange,
  outsideOursKeyRange,
} from './data-key-range.js'

/** Rows of `source` (alias `alias`) whose key `target` lacks, through the shared absent-key SQL. */
function absent(
  source: Sql,
  target: Sql,
  key: readonly string[],
  alias: 'b' | 'e',
  where?: Sql,
): Sql {
  return absentKeyRows({
    dialect: duckdbDialect,
    source,
    target,
    key,
    sourceAlias: alias,
    targetAlias: alias === 'e' ? 'b' : 'e',
    ...(where ? { where } : {}),
  })
}

/** Ours rows (`b`) and theirs rows (`e`) with the same key. */
const keyMatch = (key: readonly string[]) => matchKeys(key, 'b', 'e')

/**
 * Merge: every ours row, then every theirs row (without a key) or every theirs row whose key is not in
 * ours. Unioned by column name; a column missing on one side is NULL there. With key ranges,
 * only ours rows within theirs' range (or with a NULL key) are matched, and theirs rows outside
 * ours' range are added without probing.
 *
 * @example
 * mergeQuery(ours, theirs, ['id'], { rangeColumn: 'id', splitsOurs: false, boundsTheirs: true })
 * // select * from <ours> union all by name
 * // select e.* from <theirs> e where (e."id" < getvariable('duckmerge_base_key_lo') or e."id" > …) union all by name
 * // select e.* from <theirs> e anti join (select "id" from <ours> b where b."id" between
 * //   getvariable('duckmerge_key_lo') and getvariable('duckmerge_key_hi')
 * //   union all select "id" from <ours> b where b."id" is null) b on b."id" IS NOT DISTINCT FROM e."id"
 * //   where (e."id" < … or e."id" > …) is not true
 */
export function mergeQuery(
  ours: Sql,
  theirs: Sql,
  key: readonly string[] | undefined,
  plan: KeyPlan = noKeyRange,
): Sql {
  if (!key || key.length === 0)
    return sql`select * from ${ours} union all by name select * from ${theirs}`
  const column = plan.rangeColumn
  const oursKeyRows = oursKeys(ours, key, plan)
  if (!plan.boundsTheirs || column === undefined)
    return sql`select * from ${ours} union all by name ${absent(theirs, oursKeyRows, key, 'e')}`
  // Theirs rows outside ours' key range cannot match: added without probing.
  return sql`select * from ${ours} union all by name select e.* from ${theirs} e where ${outsideOursKeyRange('e', column)} union all by name ${absent(theirs, oursKeyRows, key, 'e', mayMatchOurs('e', column))}`
}

/**
 * Rebase: ours rows whose key no theirs row has, then every theirs row (theirs supersedes ours). When
 * the plan splits ours, rows outside theirs' key range are copied without probing theirs, and only
 * the rest (in range, or with a NULL key) go through the anti-join; DuckDB skips the row groups
 * each half cannot use.
 *
 * @example
 * rebaseQuery(ours, theirs, ['id'], noKeyRange)
 * // select b.* from <ours> b anti join <theirs> e on b."id" IS NOT DISTINCT FROM e."id"
 * // union all by name select * from <theirs>
 * rebaseQuery(ours, theirs, ['id'], { rangeColumn: 'id', splitsOurs: true, boundsTheirs: true })
 * // select b.* from <ours> b where (b."id" < getvariable('duckmerge_key_lo') or b."id" > getvariable('duckmerge_key_hi'))
 * // union all select b.* from <ours> b anti join (select "id" from <theirs> e where (e."id" between
 * //   getvariable('duckmerge_base_key_lo') and getvariable('duckmerge_base_key_hi') or e."id" is null)) e
 * //   on … where (b."id" between … and … or b."id" is null)
 * // union all by name select * from <theirs>
 */
export function rebaseQuery(
  ours: Sql,
  theirs: Sql,
  key: readonly string[],
  plan: KeyPlan = noKeyRange,
): Sql {
  return sql`${keptOursRows(ours, theirs, key, plan)} union all by name select * from ${theirs}`
}

/** Rebase: the ours rows (`b.*`) whose key no theirs row has, the ones a rebase keeps. */
export function keptOursRows(
  ours: Sql,
  theirs: Sql,
  key: readonly string[],
  plan: KeyPlan = noKeyRange,
): Sql {
  const theirsKeyRows = theirsKeys(theirs, key, plan)
  return plan.splitsOurs && plan.rangeColumn !== undefined
    ? sql`select b.* from ${ours} b where ${outsideKeyRange('b', plan.rangeColumn)} union all ${absent(ours, theirsKeyRows, key, 'b', mayMatch(plan.rangeColumn))}`
    : absent(ours, theirsKeyRows, key, 'b')
}

/**
 * Ours read with each retyped column cast to theirs' type (rebase: the newer side's type wins).
 * TRY_CAST, as rows theirs replaces may hold values that do not convert; those of kept rows are
 * checked first (data-checks.ts). With `keepRaw`, the values before the cast come along as
 * `__duckmerge_raw_<i>`. Types pass through the type parser, so only a type name is spliced.
 *
 * @example
 * retypedQuery(ours, [{ column: 'v', from: 'VARCHAR', to: 'BIGINT' }])
 * // (select * replace (try_cast("v" as BIGINT) as "v") from <ours>)
 */
export function retypedQuery(source: Sql, retyped: readonly TypeChange[], keepRaw = false): Sql {
  if (retyped.length === 0) return source
  const casts = join(
    retyped.map(
      (r) =>
        sql`try_cast(${ident(r.column)} as ${raw(formatDuckType(parseDuckType(r.to)))}) as ${ident(r.column)}`,
    ),
  )
  const raws = keepRaw
    ? retyped.map((r, i) => sql`, ${ident(r.column)} as ${ident(rawColumn(i))}`)
    : []
  return sql`(select * replace (${casts})${join(raws, '')} from ${source})`
}

/** The column retypedQuery keeps the `i`th retyped column's original values in. */
export const rawColumn = (i: number) => `__duckmerge_raw_${i}`

/** How many rows of the `counted` side have a key match on the other side (dry run). */
export function matchCountQuery(
  ours: Sql,
  theirs: Sql,
  key: readonly string[],
  counted: 'ours' | 'theirs',
  plan: KeyPlan = noKeyRange,
): Sql {
  if (counted === 'theirs') {
    const column = plan.rangeColumn
    const bounded =
      plan.boundsTheirs && column !== undefined ? sql` where ${mayMatchOurs('e', column)}` : empty
    return sql`select count(*) as n from ${theirs} e semi join ${oursKeys(ours, key, plan)} b on ${keyMatch(key)}${bounded}`
  }
  const bounded = plan.rangeColumn === undefined ? empty : sql` where ${mayMatch(plan.rangeColumn)}`
  return sql`select count(*) as n from ${ours} b semi join ${theirsKeys(theirs, key, plan)} e on ${keyMatch(key)}${bounded}`
}

/** Rebase: theirs' key columns, only of the rows that can match an ours key when the plan has a range. */
function theirsKeys(theirs: Sql, key: readonly string[], plan: KeyPlan): Sql {
  if (!plan.boundsTheirs || plan.rangeColumn === undefined) return theirs
  return sql`(select ${identList(key)} from ${theirs} e where ${mayMatchOurs('e', plan.rangeColumn)})`
}

/** Ours' key columns, only of the rows that can match a theirs key when the plan has a range. */
function oursKeys(ours: Sql, key: readonly string[], plan: KeyPlan): Sql {
  const cols = identList(key)
  const column = plan.rangeColumn
  if (column === undefined) return sql`(select ${cols} from ${ours})`
  // Two scans of the key columns only, each with a filter DuckDB checks against row-group
  // statistics; the NULL one reads nothing when ours' statistics show no NULL key.
  return sql`(select ${cols} from ${ours} b where ${inKeyRange('b', column)} union all select ${cols} from ${ours} b where b.${ident(column)} is null)`
}

/** Ours rows that may share a key with theirs: within theirs' key range, or with a NULL key. */
function mayMatch(column: string): Sql {
  return sql`(${inKeyRange('b', column)} or b.${ident(column)} is null)`
}

/**
 * How many distinct keys `source` holds. GROUP BY puts NULLs in one group, matching IS NOT
 * DISTINCT FROM. Compared with the row count from the Parquet footers, it tells whether any key
 * repeats in one aggregate over the key columns only (projection pushdown reads nothing else).
 * GROUP BY rather than DISTINCT: over a dense integer key range DuckDB can then use its perfect
 * hash aggregate (an array indexed by key), see `perfectHashBits`.
 *
 * @example
 * distinctKeyCountQuery(theirs, ['run', 'seed'])
 * // select count(*) as n from (select 1 from <theirs> group by "run", "seed")
 */
export function distinctKeyCountQuery(source: Sql, key: readonly string[]): Sql {
  return sql`select count(*) as n from (select 1 from ${source} group by ${identList(key)})`
}

/**
 * Key ranges of up to 2^21 values (from the footers' min/max) get DuckDB's perfect hash
 * aggregate instead of its default 2^12: an array of ~2M entries per thread, a few MB for a
 * count. Measured on 1M dense BIGINT keys: 46 → 12 ms.
 */
export const perfectHashBits = 21

/**
 * The most repeated key in `source` (if any key repeats), with its row count and how many keys
 * repeat in all. GROUP BY puts NULLs in one group, matching IS NOT DISTINCT FROM.
 */
export function duplicateKeyQuery(source: Sql, key: readonly string[]): Sql {
  const cols = join(key.map((k, i) => sql`${ident(k)} as ${ident(`k${i}`)}`))
  const positions = raw(key.map((_, i) => String(i + 1)).join(', '))
  return sql`select ${cols}, count(*) as __rows, count(*) over () as __keys
    from ${source} group by ${positions} having count(*) > 1 order by __rows desc limit 1`
}

export function countQuery(source: Sql): Sql {
  return sql`select count(*) as n from ${source}`
}
