/** Which target files a keyed MERGE must read: pruned by the source keys' range and partition values. */
import type { DuckDb } from '../../../../engine/duckdb.js'
import { rangeAggregates } from '../../../../engine/key-range.js'
import { ident, join, raw, type Sql, sql } from '../../../../engine/sql.js'
import type { AddFile } from '../../actions.js'
import { deltaToDuckDbType } from '../../schema.js'
import type { Snapshot } from '../../snapshot-types.js'
import { type PrunePredicate, pruneFiles } from '../../stats.js'

/** Partition keys with at most this many distinct source values are pruned by value, not range. */
const MAX_IN_VALUES = 1000

export interface Candidates {
  /** Live files that may hold a row matching some source key. */
  readonly files: readonly AddFile[]
  readonly predicates: readonly PrunePredicate[]
  /** Whether a file added later (by a concurrent writer) could hold a matching row. */
  readonly mayMatch: (add: AddFile) => boolean
}

export interface SourceFacts {
  readonly numSourceRows: number
  /**
   * With key columns: no two source rows with non-NULL keys share a key (rows with a NULL key
   * never match, so they do not count). Equal keys have equal hashes, so all-distinct hashes
   * prove it; a hash collision only costs the slower exact check later.
   */
  readonly keysUnique: boolean
  /** Per key column i: `min<i>`, `max<i>` (cast to the table's type, as text), `n<i>`. */
  readonly bounds: Readonly<Record<string, string | number | null>>
}

/**
 * What merge needs to know about the source before reading the target, in one scan of it: its
 * row count and, with key columns, whether its keys are unique and their range (for pruning).
 *
 * @example
 * const facts = await sourceFacts(db, snapshot, ['id'], ident('__dm_source'), true)
 * // { numSourceRows: 100, keysUnique: true, bounds: { min0: '50', max0: '149', n0: 0 } }
 */
export async function sourceFacts(
  db: DuckDb,
  snapshot: Snapshot,
  keys: readonly string[] | undefined,
  source: Sql,
  withBounds: boolean,
  checkUnique = true,
): Promise<SourceFacts> {
  const parts: Sql[] = [raw('count(*) as __n')]
  if (keys !== undefined && checkUnique) {
    const keyed = join(
      keys.map((k) => sql`${ident(k)} is not null`),
      ' and ',
    )
    parts.push(
      sql`count(*) filter (where ${keyed}) as __keyed, count(distinct hash(${join(keys.map((k) => ident(k)))})) filter (where ${keyed}) as __hashes`,
    )
  }
  if (keys !== undefined && withBounds) parts.push(boundAggregates(snapshot, keys))
  const row =
    (
      await db.allJson<Record<string, string | number | null>>(
        sql`select ${join(parts)} from ${source}`,
      )
    )[0] ?? {}
  const { __n, __keyed, __hashes, ...bounds } = row
  return {
    numSourceRows: Number(__n ?? 0),
    keysUnique: keys !== undefined && __keyed !== undefined && String(__keyed) === String(__hashes),
    bounds,
  }
}

/** The table's DuckDB type of a key column: source keys are cast to it to compare alike. */
function keyType(snapshot: Snapshot, key: string): string {
  const type = snapshot.schema.fields.find((f) => f.name === key)?.type
  return type === undefined ? 'VARCHAR' : deltaToDuckDbType(type)
}

function castKey(snapshot: Snapshot, key: string): Sql {
  return sql`cast(${ident(key)} as ${raw(keyType(snapshot, key))})`
}

// Distinct counts only for partition keys, the only ones pruned by value.
function boundAggregates(snapshot: Snapshot, keys: readonly string[]): Sql {
  return rangeAggregates(
    keys.map((k) => ({
      column: k,
      type: keyType(snapshot, k),
      distinct: snapshot.partitionColumns.includes(k),
    })),
  )
}

/**
 * Prunes the snapshot's files with one range predicate per key column (the source keys' min and
 * max from sourceFacts, cast to the table's type) and, for partition columns among the keys, the
 * exact set of source values when it is small. A source with no non-NULL key matches no file:
 * SQL equality never matches NULL.
 *
 * @example
 * // source ids 50..149: a file with id stats 0..49 is skipped
 * const facts = await sourceFacts(db, snapshot, ['id'], ident('__dm_source'), true)
 * const { files } = await candidateFiles(db, snapshot, ['id'], ident('__dm_source'), facts.bounds)
 */
export async function candidateFiles(
  db: DuckDb,
  snapshot: Snapshot,
  keys: readonly string[],
  source: Sql,
  bounds: SourceFacts['bounds'],
): Promise<Candidates> {
  const predicates: PrunePredicate[] = []
  for (const [i, key] of keys.entries()) {
    const min = bounds[`min${i}`] ?? null
    const max = bounds[`max${i}`] ?? null
    const isPartition = snapshot.partitionColumns.includes(key)
    if (isPartition && min !== null && Number(bounds[`n${i}`] ?? 0) <= MAX_IN_VALUES) {
      const rows = await db.allJson<{ v: string | null }>(
        sql`select distinct ${castKey(snapshot, key)}::varchar as v from ${source} where ${ident(key)} is not null`,
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
