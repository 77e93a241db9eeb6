/**
 * The plan of a staging backfill, computed once in DuckDB before any write: staging rows
 * deduplicated by key, cut into deterministic batches, each row flagged when main has its key.
 */
import type { DuckDb } from '../../engine/duckdb.js'
import { ident, identList, join, raw, type Sql, sql } from '../../engine/sql.js'
import { keyCondition } from './merge-plan.js'

export const PLAN_TABLE = '__bf_plan'
const BATCH = '__bf_batch'
const IN_MAIN = '__bf_in_main'

export interface PlanInput {
  /** Staging rows with `__delta_file` and `__delta_row_index` (for the duplicate tie-break). */
  readonly staging: Sql
  /** Main's rows (only its key columns are read); undefined when main is new and empty. */
  readonly main: Sql | undefined
  readonly keys: readonly string[]
  /** The columns written to main, in its schema order. */
  readonly columns: readonly string[]
  readonly batchRows: number
}

export interface BatchCounts {
  readonly batch: number
  readonly rowsInserted: number
  readonly rowsSkipped: number
}

export interface BackfillPlan {
  readonly stagingRows: number
  readonly duplicatesInStaging: number
  readonly batches: readonly BatchCounts[]
}

/**
 * Builds `__bf_plan`: one row per distinct staging key, its batch number and whether main
 * already holds the key. Keys compare NULL-safely (`is not distinct from`): with SQL equality a
 * NULL-keyed row would never match itself in main, and every re-run would insert it again.
 *
 * Of two staging rows with the same key the one kept is the first by (data file path, row
 * position in that file): deterministic for a given staging table, so a re-run keeps the same
 * one. The others are counted as duplicatesInStaging.
 *
 * Batches are cut from the distinct staging keys in key order, `batchRows` per batch, so batch
 * k holds the same keys on every run over the same staging data whatever main holds: that is
 * what lets a txn { appId, version: k } in main prove batch k was applied. (The anti-join
 * against main would make a re-run safe on its own; the txn skips the work and guards against a
 * batch committed just before a crash being written twice by a concurrent re-run.)
 *
 * @example
 * await planBackfill(db, { staging, main, keys: ['source_url', 'cert_index'], columns, batchRows: 100_000 })
 * // { stagingRows: 1000, duplicatesInStaging: 2, batches: [{ batch: 0, rowsInserted: 700, rowsSkipped: 298 }] }
 */
export async function planBackfill(db: DuckDb, input: PlanInput): Promise<BackfillPlan> {
  const keys = identList(input.keys)
  const inMain = input.main
    ? sql`exists (select 1 from ${input.main} as m where ${keyCondition(input.keys, 's', 'm', true)})`
    : raw('false')
  await db.run(
    sql`create or replace temp table ${ident(PLAN_TABLE)} as select ${identList(input.columns)}, ${inMain} as ${ident(IN_MAIN)}, 0 as ${ident(BATCH)} from (select * from ${input.staging} qualify row_number() over (partition by ${keys} order by __delta_file, __delta_row_index) = 1) as s`,
  )
  const counts = await db.one<{ total: bigint; distinct_rows: bigint }>(
    sql`select (select count(*) from ${input.staging}) as total, (select count(*) from ${ident(PLAN_TABLE)}) as distinct_rows`,
  )
  const stagingRows = Number(counts?.total ?? 0)
  const distinct = Number(counts?.distinct_rows ?? 0)
  // One batch needs no numbering: skip the sort.
  if (distinct > input.batchRows)
    await db.run(
      sql`create or replace temp table ${ident(PLAN_TABLE)} as select * exclude (${ident(BATCH)}), (row_number() over (order by ${keys}) - 1) // ${raw(String(input.batchRows))} as ${ident(BATCH)} from ${ident(PLAN_TABLE)}`,
    )
  const rows = await db.all<{ batch: number | bigint; inserted: bigint; skipped: bigint }>(
    sql`select ${ident(BATCH)} as batch, count(*) filter (where not ${ident(IN_MAIN)}) as inserted, count(*) filter (where ${ident(IN_MAIN)}) as skipped from ${ident(PLAN_TABLE)} group by all order by batch`,
  )
  return {
    stagingRows,
    duplicatesInStaging: stagingRows - distinct,
    batches: rows.map((r) => ({
      batch: Number(r.batch),
      rowsInserted: Number(r.inserted),
      rowsSkipped: Number(r.skipped),
    })),
  }
}

/** The rows batch `batch` inserts into main: its keys main does not hold yet. */
export function batchRowsSql(columns: readonly string[], batch: number): Sql {
  return sql`select ${join(columns.map((c) => ident(c)))} from ${ident(PLAN_TABLE)} where ${ident(BATCH)} = ${raw(String(batch))} and not ${ident(IN_MAIN)}`
}
