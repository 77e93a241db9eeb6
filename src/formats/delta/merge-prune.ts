/** Which target files a keyed MERGE must read: pruned by the source keys' range and partition values. */
import type { DuckDb } from '../../engine/duckdb.js'
import { ident, join, raw, type Sql, sql } from '../../engine/sql.js'
import type { AddFile } from './actions.js'
import { deltaToDuckDbType } from './schema.js'
import type { Snapshot } from './snapshot-types.js'
import { type PrunePredicate, pruneFiles } from './stats.js'

/** Partition keys with at most this many distinct source values are pruned by value, not range. */
const MAX_IN_VALUES = 1000

export interface Candidates {
  /** Live files that may hold a row matching some source key. */
  readonly files: readonly AddFile[]
  readonly predicates: readonly PrunePredicate[]
  /** Whether a file added later (by a concurrent writer) could hold a matching row. */
  readonly mayMatch: (add: AddFile) => boolean
}

/**
 * Prunes the snapshot's files with one range predicate per key column (the source keys' min and
 * max, cast to the table's type) and, for partition columns among the keys, the exact set of
 * source values when it is small. A source with no non-NULL key matches no file: SQL equality
 * never matches NULL.
 *
 * @example
 * // source ids 50..149: a file with id stats 0..49 is skipped
 * const { files } = await candidateFiles(db, snapshot, ['id'], ident('__dm_source'))
 */
export async function candidateFiles(
  db: DuckDb,
  snapshot: Snapshot,
  keys: readonly string[],
  source: Sql,
): Promise<Candidates> {
  const typeOf = new Map(snapshot.schema.fields.map((f) => [f.name, f.type]))
  const cast = (k: string) => {
    const type = typeOf.get(k)
    return sql`cast(${ident(k)} as ${raw(type === undefined ? 'VARCHAR' : deltaToDuckDbType(type))})`
  }
  // Distinct counts only for partition keys, the only ones pruned by value.
  const aggregates = keys.map((k, i) => {
    const distinct = snapshot.partitionColumns.includes(k)
      ? sql`approx_count_distinct(${cast(k)})`
      : raw('0')
    return sql`min(${cast(k)})::varchar as ${ident(`min${i}`)}, max(${cast(k)})::varchar as ${ident(`max${i}`)}, ${distinct} as ${ident(`n${i}`)}`
  })
  const bounds =
    (
      await db.allJson<Record<string, string | number | null>>(
        sql`select ${join(aggregates)} from ${source}`,
      )
    )[0] ?? {}
  const predicates: PrunePredicate[] = []
  for (const [i, key] of keys.entries()) {
    const min = bounds[`min${i}`] ?? null
    const max = bounds[`max${i}`] ?? null
    const isPartition = snapshot.partitionColumns.includes(key)
    if (isPartition && min !== null && Number(bounds[`n${i}`] ?? 0) <= MAX_IN_VALUES) {
      const rows = await db.allJson<{ v: string | null }>(
        sql`select distinct ${cast(key)}::varchar as v from ${source} where ${ident(key)} is not null`,
      )
      if (rows.length <= MAX_IN_VALUES) {
        predicates.push({ column: key, op: 'in', values: rows.map((r) => r.v) })
        continue
      }
    }
    predicates.push({ column: key, op: 'between', values: [min, max] })
  }
  return {
    files: pruneFiles(snapshot, predicates),
    predicates,
    mayMatch: (add) => pruneFiles({ ...snapshot, files: [add] }, predicates).length > 0,
  }
}
