/**
 * The batches of a staging backfill, computed in DuckDB before any write: duplicate staging keys
 * resolved, deterministic batches, and per batch the query of rows main lacks.
 */
import { absentKeyRows } from '../../../../engine/absent-key.js'
import type { DuckDb } from '../../../../engine/duckdb.js'
import { duckdbDialect } from '../../../../engine/duckdb-dialect.js'
import { ident, identList, join, raw, type Sql, sql } from '../../../../engine/sql.js'
import { keyCondition } from '../merge/queries.js'

const BATCH = '__bf_batch'

export interface BatchesInput {
  /** A view of the staging rows. */
  readonly staging: Sql
  /**
   * The same rows with `__delta_file` and `__delta_row_index` (the duplicate tie-break); omitted
   * when the caller proved every key distinct.
   */
  readonly stagingWithFiles?: Sql
  readonly stagingRows: number
  /** Main's key columns (a relation); undefined when main is new and empty. */
  readonly main: Sql | undefined
  /**
   * A predicate over alias `s`, never NULL, true when main cannot hold the row's key (it lies
   * outside main's key range, from bounds.ts): such rows skip the anti-join.
   */
  readonly outsideMain?: Sql
  readonly keys: readonly string[]
  /** The columns written to main, in its schema order. */
  readonly columns: readonly string[]
  readonly batchRows: number
}

export interface BatchPlan {
  readonly batch: number
  /** Distinct staging keys in this batch. */
  readonly rows: number
  /** How many of them main lacks; undefined when only writing the batch will tell (one batch). */
  readonly newRows: number | undefined
  /** The rows to insert: this batch's keys main lacks. */
  readonly query: Sql
}

export interface Batches {
  readonly stagingRows: number
  readonly duplicatesInStaging: number
  readonly batches: readonly BatchPlan[]
}

/**
 * Plans a backfill. Keys compare NULL-safely (`is not distinct from`): with SQL equality a
 * NULL-keyed row would never match itself in main, and every re-run would insert it again.
 *
 * Of several staging rows with one key, the one kept is the first by (data file path, row
 * position in that file): deterministic for a given staging table, so a re-run keeps the same
 * row. The others count as duplicatesInStaging. Only keys that do repeat pay for this ordering.
 *
 * Batches are cut from the distinct staging keys in key order, `batchRows` per batch, so batch k
 * holds the same keys on every run over the same staging data, whatever main holds: that is what
 * lets a txn { appId, version: k } in main prove batch k was applied. The anti-join against main
 * would make a re-run safe on its own; the txn also skips the work, and a concurrent re-run that
 * commits batch k first makes ours fail with a conflict instead of writing it twice.
 *
 * One batch (the default: up to 1M keys) is never materialized: its query streams staging
 * through the anti-join straight into the Parquet writer.
 *
 * @example
 * const plan = await planBatches(db, { staging: ident('s'), stagingRows: 1000, main, keys, columns, batchRows: 400 })
 * // { stagingRows: 1000, duplicatesInStaging: 2, batches: [{ batch: 0, rows: 400, newRows: 280, query }, …] }
 */
export async function planBatches(db: DuckDb, input: BatchesInput): Promise<Batches> {
  const keys = identList(input.keys)
  const columns = identList(input.columns)
  let duplicatesInStaging = 0
  if (input.stagingWithFiles) {
    await db.run(
      sql`create or replace temp table __bf_dups as select ${keys}, count(*) as __bf_n from ${input.staging} group by all having count(*) > 1`,
    )
    const dups = await db.one<{ n: bigint | null }>(
      raw('select sum(__bf_n - 1) as n from __bf_dups'),
    )
    duplicatesInStaging = Number(dups?.n ?? 0)
  }
  const distinct = input.stagingRows - duplicatesInStaging
  const isDup = keyCondition(input.keys, 's', 'd', true)
  const sColumns = join(input.columns.map((c) => sql`s.${ident(c)}`))
  const deduped =
    duplicatesInStaging === 0 || !input.stagingWithFiles
      ? input.staging
      : sql`(select ${sColumns} from ${input.staging} as s where not exists (select 1 from __bf_dups as d where ${isDup}) union all select ${columns} from (select s.* from ${input.stagingWithFiles} as s where exists (select 1 from __bf_dups as d where ${isDup}) qualify row_number() over (partition by ${join(input.keys.map((k) => sql`s.${ident(k)}`))} order by s.__delta_file, s.__delta_row_index) = 1))`
  // Rows outside main's key range go straight through; only the others probe main's keys. The
  // probe side (main) is fixed, but a smaller build side makes each probe cheaper: measured
  // 316 ms instead of 425 ms for the benchmark's 1M staging rows against 10M main rows.
  // A relation read twice must be a table or a plain view, not the dedup query above.
  const lacking = (relation: Sql, extra: readonly string[], isPlain: boolean): Sql => {
    const names = identList([...input.columns, ...extra])
    if (!input.main) return sql`select ${names} from ${relation} as s`
    // The one "rows whose key is absent" piece (engine/absent-key.ts), NULL-safe.
    const absent = (where?: Sql) =>
      absentKeyRows({
        dialect: duckdbDialect,
        source: relation,
        target: input.main as Sql,
        key: input.keys,
        columns: join([...input.columns, ...extra].map((c) => sql`s.${ident(c)}`)),
        ...(where ? { where } : {}),
      })
    if (!input.outsideMain || !isPlain) return absent()
    return sql`select ${names} from ${relation} as s where ${input.outsideMain} union all ${absent(sql`not (${input.outsideMain})`)}`
  }

  if (distinct <= input.batchRows)
    return {
      stagingRows: input.stagingRows,
      duplicatesInStaging,
      batches: [
        {
          batch: 0,
          rows: distinct,
          newRows: undefined,
          query: lacking(deduped, [], deduped === input.staging),
        },
      ],
    }

  const batchOf = raw(`(row_number() over (order by ${keys.text}) - 1) // ${input.batchRows}`)
  await db.run(
    sql`create or replace temp table __bf_plan as select ${columns}, ${batchOf} as ${ident(BATCH)} from ${deduped}`,
  )
  await db.run(
    sql`create or replace temp table __bf_new as ${lacking(raw('__bf_plan'), [BATCH], true)}`,
  )
  const counts = await db.all<{ batch: bigint | number; rows: bigint; fresh: bigint }>(
    sql`select p.${ident(BATCH)} as batch, p.n as rows, coalesce(f.n, 0) as fresh from (select ${ident(BATCH)}, count(*) as n from __bf_plan group by all) as p left join (select ${ident(BATCH)}, count(*) as n from __bf_new group by all) as f using (${ident(BATCH)}) order by batch`,
  )
  return {
    stagingRows: input.stagingRows,
    duplicatesInStaging,
    batches: counts.map((c) => {
      const batch = Number(c.batch)
      return {
        batch,
        rows: Number(c.rows),
        newRows: Number(c.fresh),
        query: sql`select ${columns} from __bf_new where ${ident(BATCH)} = ${raw(String(batch))}`,
      }
    }),
  }
}
