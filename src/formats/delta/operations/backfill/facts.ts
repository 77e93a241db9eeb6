/** What backfill planning needs to know about staging's keys: which main files to read, and whether keys may repeat. */
import type { DuckDb } from '../../../../engine/duckdb.js'
import { rangeAggregates } from '../../../../engine/key-range.js'
import { ident, identList, join, raw, type Sql, sql } from '../../../../engine/sql.js'
import { columnMappingMode, physicalName } from '../../column-mapping.js'
import { deltaToDuckDbType, type StructType } from '../../schema.js'
import type { Snapshot } from '../../snapshot-types.js'
import { type PrunePredicate, parseStats } from '../../stats.js'
import { keyBounds } from './bounds.js'

/** Widest key range proved unique with a bitmap: 2^27 bits, a 16 MiB bitstring. */
const MAX_BITMAP_RANGE = 2 ** 27

export interface StagingFacts {
  /** Range predicates on main's files; empty when some staging key is NULL (NULL matches NULL). */
  readonly predicates: readonly PrunePredicate[]
  /** False when no two staging rows share a key; true when they may. */
  readonly mayRepeat: boolean
}

/**
 * Staging's key facts (`schema`: main's, whose types the keys are cast to). From a Delta staging's file statistics when they tell (no NULL key, key
 * ranges known), so only the uniqueness check reads data, and that check reads one integer key
 * column into a bitmap when one fits; otherwise from one scan of staging's keys (their range,
 * NULLs, and distinct key hashes).
 *
 * @example
 * const facts = await stagingFacts(db, main.schema, staging, ['source_url', 'cert_index'], 1_000_000, ident('__bf_staging'))
 * // { predicates: [{ column: 'source_url', op: 'between', … }, …], mayRepeat: false }
 */
export async function stagingFacts(
  db: DuckDb,
  schema: StructType,
  staging: Snapshot | undefined,
  keys: readonly string[],
  stagingRows: number,
  relation: Sql,
): Promise<StagingFacts> {
  const fromLog = staging ? await factsFromLog(db, staging, keys, stagingRows, relation) : undefined
  return fromLog ?? factsFromScan(db, schema, keys, stagingRows, relation)
}

async function factsFromLog(
  db: DuckDb,
  staging: Snapshot,
  keys: readonly string[],
  stagingRows: number,
  relation: Sql,
): Promise<StagingFacts | undefined> {
  if (keys.some((k) => staging.partitionColumns.includes(k))) return undefined
  const mode = columnMappingMode(staging.metadata)
  const physical = keys.map((k) => {
    const field = staging.schema.fields.find((f) => f.name === k)
    return field ? physicalName(field, mode) : k
  })
  // Every file must prove its key columns hold no NULL.
  const noNulls = staging.files.every((file) => {
    const nulls = parseStats(file)?.nullCount
    return physical.every((p) => nulls?.[p] === 0)
  })
  if (!noNulls) return undefined
  const bounds = keyBounds(staging, staging.files, keys)
  const predicates: PrunePredicate[] = bounds.flatMap((b): PrunePredicate[] => {
    if (b.min !== undefined && b.max !== undefined)
      return [{ column: b.column, op: 'between', values: [b.min, b.max] }]
    if (b.min !== undefined) return [{ column: b.column, op: '>=', value: b.min }]
    if (b.max !== undefined) return [{ column: b.column, op: '<=', value: b.max }]
    return []
  })
  // An integer key column whose values are all distinct makes the whole key distinct.
  const integer = bounds.find(
    (b) =>
      typeof b.min === 'number' &&
      typeof b.max === 'number' &&
      b.max - b.min < MAX_BITMAP_RANGE &&
      ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT'].includes(b.type),
  )
  if (integer && (await distinctByBitmap(db, relation, integer)) === stagingRows)
    return { predicates, mayRepeat: false }
  const row = await db.one<{ hashes: bigint }>(
    sql`select count(distinct hash(${identList(keys)})) as hashes from ${relation}`,
  )
  return { predicates, mayRepeat: Number(row?.hashes ?? 0) < stagingRows }
}

/**
 * Distinct values of one integer column, counted as set bits of a bitmap over its range: one
 * streaming pass, no hash table. DuckDB takes the range only as constants, not bound values;
 * they are safe integers from the statistics, checked by keyBounds. Undefined when a value lies
 * outside the range (statistics that do not bound the data): the caller then hashes.
 */
async function distinctByBitmap(
  db: DuckDb,
  relation: Sql,
  bound: { column: string; min?: number | string; max?: number | string },
): Promise<number | undefined> {
  const min = raw(String(bound.min))
  const max = raw(String(bound.max))
  try {
    const row = await db.one<{ d: bigint }>(
      sql`select bit_count(bitstring_agg(cast(${ident(bound.column)} as bigint), ${min}, ${max})) as d from ${relation}`,
    )
    return Number(row?.d ?? 0)
  } catch {
    return undefined
  }
}

/**
 * One pass over staging's keys: their range (main files outside it are never read), whether any
 * key is NULL (NULL matches NULL here, which min/max cannot see: then every file is read), and
 * the number of distinct key hashes (all distinct: no duplicates, no need to look further).
 */
async function factsFromScan(
  db: DuckDb,
  schema: StructType,
  keys: readonly string[],
  stagingRows: number,
  relation: Sql,
): Promise<StagingFacts> {
  const typeOf = new Map(schema.fields.map((f) => [f.name, f.type]))
  const ranges = rangeAggregates(
    keys.map((k) => {
      const type = typeOf.get(k)
      return { column: k, type: type === undefined ? 'VARCHAR' : deltaToDuckDbType(type) }
    }),
  )
  const anyNull = join(
    keys.map((k) => sql`${ident(k)} is null`),
    ' or ',
  )
  const stats =
    (
      await db.allJson<Record<string, string | number | null>>(
        sql`select count(*) filter (where ${anyNull}) as nulls, count(distinct hash(${identList(keys)})) as hashes, ${ranges} from ${relation}`,
      )
    )[0] ?? {}
  const predicates: PrunePredicate[] =
    Number(stats.nulls ?? 0) === 0
      ? keys.map((column, i) => ({
          column,
          op: 'between',
          values: [stats[`min${i}`] ?? null, stats[`max${i}`] ?? null],
        }))
      : []
  // Equal hashes are necessary for equal keys: when every hash differs there is no duplicate.
  return { predicates, mayRepeat: Number(stats.hashes ?? 0) < stagingRows }
}
