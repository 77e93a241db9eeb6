/**
 * The SQL of dataset merge and rebase, built from the two `read_parquet` scans. Keys match with
 * IS NOT DISTINCT FROM: a NULL key equals a NULL key, as people expect of "the same row".
 */
import { ident, identList, join, raw, type Sql, sql } from '../engine/sql.js'

/** `b."k1" IS NOT DISTINCT FROM e."k1" AND …` between aliases `b` (base) and `e` (exp). */
export function keyMatch(key: readonly string[]): Sql {
  return join(
    key.map((k) => sql`b.${ident(k)} IS NOT DISTINCT FROM e.${ident(k)}`),
    ' AND ',
  )
}

/**
 * Merge: every base row, then every exp row (without a key) or every exp row whose key is not in
 * base. Unioned by column name; a column missing on one side is NULL there.
 *
 * @example
 * mergeQuery(base, exp, ['id'])
 * // select * from <base> union all by name
 * // select e.* from <exp> e where not exists (select 1 from <base> b where b."id" IS NOT DISTINCT FROM e."id")
 */
export function mergeQuery(base: Sql, exp: Sql, key: readonly string[] | undefined): Sql {
  const expRows =
    key && key.length > 0
      ? sql`select e.* from ${exp} e where not exists (select 1 from ${base} b where ${keyMatch(key)})`
      : sql`select * from ${exp}`
  return sql`select * from ${base} union all by name ${expRows}`
}

/**
 * Rebase: base rows whose key no exp row has, then every exp row (exp supersedes base).
 *
 * @example
 * rebaseQuery(base, exp, ['id'])
 * // select b.* from <base> b where not exists (select 1 from <exp> e where b."id" IS NOT DISTINCT FROM e."id")
 * // union all by name select * from <exp>
 */
export function rebaseQuery(base: Sql, exp: Sql, key: readonly string[]): Sql {
  return sql`select b.* from ${base} b where not exists (select 1 from ${exp} e where ${keyMatch(key)}) union all by name select * from ${exp}`
}

/** How many rows of the `counted` side have a key match on the other side. */
export function matchCountQuery(
  base: Sql,
  exp: Sql,
  key: readonly string[],
  counted: 'base' | 'exp',
): Sql {
  return counted === 'exp'
    ? sql`select count(*) as n from ${exp} e where exists (select 1 from ${base} b where ${keyMatch(key)})`
    : sql`select count(*) as n from ${base} b where exists (select 1 from ${exp} e where ${keyMatch(key)})`
}

/**
 * How many distinct keys `source` holds. DISTINCT puts NULLs in one group, matching IS NOT
 * DISTINCT FROM. Compared with the row count from the Parquet footers, it tells whether any key
 * repeats in one aggregate over the key columns only (projection pushdown reads nothing else).
 *
 * @example
 * distinctKeyCountQuery(exp, ['run', 'seed'])
 * // select count(*) as n from (select distinct "run", "seed" from <exp>)
 */
export function distinctKeyCountQuery(source: Sql, key: readonly string[]): Sql {
  return sql`select count(*) as n from (select distinct ${identList(key)} from ${source})`
}

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
