/** Writes a backfill plan: one commit per batch (its rows plus a txn), then retires staging. */
import type { DuckDb } from '../../../../engine/duckdb.js'
import { type Sql, sql } from '../../../../engine/sql.js'
import { DuckmergeError } from '../../../../errors.js'
import type { ProgressCallback } from '../../../../progress.js'
import type { AddFile } from '../../actions.js'
import type { Snapshot } from '../../snapshot-types.js'
import { txnAction } from '../../txn.js'
import { numRecordsOf, writeDataFiles } from '../../write-files.js'
import { assertConstraints } from '../merge/checks.js'
import { mergeOperationParameters } from '../merge/metrics.js'
import {
  checkpointIntervalOf,
  commitAndCheckpoint,
  openForWrite,
  statsOptionsOf,
} from '../write-context.js'
import type { BatchPlan } from './batches.js'
import type { BackfillPlan, Reads } from './plan.js'
import { createMain, retireStaging } from './staging.js'

export interface BatchReport {
  readonly batch: number
  readonly rowsInserted: number
  readonly rowsSkipped: number
  /** The version this batch committed; null when it had nothing to insert or was already applied. */
  readonly version: number | null
  /** True when main already held this batch's txn (an earlier run committed it). */
  readonly alreadyApplied: boolean
  readonly durationMs: number
}

export interface BackfillReport {
  readonly main: string
  readonly staging: string
  /** False when staging was missing or empty: nothing was done. */
  readonly merged: boolean
  /** True when main did not exist and was created. */
  readonly created: boolean
  readonly stagingRows: number
  readonly rowsInserted: number
  /** Distinct staging keys main already held (including batches an earlier run applied). */
  readonly rowsSkipped: number
  /** Staging rows dropped because an earlier staging row has the same key. */
  readonly duplicatesInStaging: number
  readonly batches: number
  readonly perBatch: readonly BatchReport[]
  /**
   * What happened to staging: 'deleted', 'archived', or 'kept' (nothing to merge, a dry run, or
   * removal failed after every batch committed: see stagingRemoved and warning).
   */
  readonly stagingAfter: 'deleted' | 'archived' | 'kept'
  readonly archivedTo?: string
  /** False when staging is still there (nothing merged, a dry run, or its removal failed). */
  readonly stagingRemoved: boolean
  /** Set when every batch committed but staging could not be removed: names the folder. */
  readonly warning?: string
  /** True when nothing was written: the counts say what the backfill would do. */
  readonly dryRun: boolean
  /** Main's version at the end. */
  readonly version: number | null
  readonly appId?: string
  readonly durationMs: number
}

export interface ApplyOptions {
  readonly archive?: string | undefined
  readonly signal?: AbortSignal | undefined
  readonly onProgress?: ProgressCallback | undefined
  readonly onBatch?: ((batch: BatchReport, total: number) => void) | undefined
}

/**
 * Applies the plan: creates main when it does not exist, writes and commits each batch not yet
 * applied (stopping between batches when `signal` aborts: INTERRUPTED, staging kept), then
 * deletes or archives staging. A staging that cannot be removed once every batch committed is a
 * warning in the report (stagingRemoved: false), not a failure: the backfill succeeded.
 *
 * @example
 * const report = await applyBackfill(db, plan, {}, performance.now())
 */
export async function applyBackfill(
  db: DuckDb,
  plan: BackfillPlan,
  options: ApplyOptions,
  started: number,
): Promise<BackfillReport> {
  const { ours, theirs } = plan
  const created = plan.snapshot === undefined
  if (created) await createMain(ours, plan.source)
  let snapshot = plan.snapshot ?? (await openForWrite(ours, db))
  const perBatch: BatchReport[] = []
  const total = plan.batches.length
  for (const batch of plan.batches) {
    if (options.signal?.aborted) {
      const { rowsInserted, rowsSkipped } = totals(perBatch)
      throw new DuckmergeError(
        'INTERRUPTED',
        `Backfill of ${ours} from ${theirs} stopped after ${perBatch.length} of ${total} batches (${rowsInserted} rows inserted); ${theirs} is kept. Run the same backfill again to insert the rest.`,
        {
          ours,
          theirs,
          batchesDone: perBatch.length,
          batches: total,
          rowsInserted,
          rowsSkipped,
        },
      )
    }
    const batchStarted = performance.now()
    let version: number | null = null
    let inserted = 0
    const alreadyApplied = batch.batch <= plan.appliedUpTo
    if (!alreadyApplied && batch.newRows !== 0) {
      await assertConstraints(db, snapshot.schema, batch.query, ours)
      const adds = await writeDataFiles(db, ours, batch.query, {
        schema: snapshot.schema,
        partitionColumns: snapshot.partitionColumns,
        stats: statsOptionsOf(snapshot.metadata),
      })
      inserted = adds.reduce((n, a) => n + numRecordsOf(a), 0)
      if (adds.length > 0) {
        version = await commitBatch(
          ours,
          snapshot,
          adds,
          plan.appId,
          batch,
          inserted,
          plan.reads,
          plan.key,
        )
        snapshot = { ...snapshot, version }
      }
    }
    const report: BatchReport = {
      batch: batch.batch,
      rowsInserted: inserted,
      rowsSkipped: batch.rows - inserted,
      version,
      alreadyApplied,
      durationMs: Math.round(performance.now() - batchStarted),
    }
    perBatch.push(report)
    options.onBatch?.(report, total)
    options.onProgress?.({ phase: 'backfill', done: perBatch.length, total, unit: 'batches' })
  }
  const retired = await retireStaging(theirs, options.archive)
  return {
    ...reportOf(plan, perBatch, created, started, false),
    ...(retired.removed
      ? {
          stagingAfter: retired.archivedTo === undefined ? 'deleted' : 'archived',
          ...(retired.archivedTo === undefined ? {} : { archivedTo: retired.archivedTo }),
          stagingRemoved: true,
        }
      : {
          stagingAfter: 'kept',
          stagingRemoved: false,
          warning: `every batch committed, but ${theirs} could not be removed: ${retired.reason}. It is still at ${retired.leftAt}; delete it by hand (re-running the backfill is safe).`,
        }),
    version: snapshot.version,
  }
}

/**
 * What applyBackfill would report, without writing: each batch's rows main lacks are counted
 * with the very query apply would write; batches an earlier run applied count as skipped.
 */
export async function dryRunBackfill(
  db: DuckDb,
  plan: BackfillPlan,
  started: number,
): Promise<BackfillReport> {
  const perBatch: BatchReport[] = []
  for (const batch of plan.batches) {
    const batchStarted = performance.now()
    const alreadyApplied = batch.batch <= plan.appliedUpTo
    const inserted = alreadyApplied ? 0 : (batch.newRows ?? (await countRows(db, batch.query)))
    perBatch.push({
      batch: batch.batch,
      rowsInserted: inserted,
      rowsSkipped: batch.rows - inserted,
      version: null,
      alreadyApplied,
      durationMs: Math.round(performance.now() - batchStarted),
    })
  }
  return {
    ...reportOf(plan, perBatch, plan.snapshot === undefined, started, true),
    stagingAfter: 'kept',
    stagingRemoved: false,
    version: plan.snapshot?.version ?? null,
  }
}

async function countRows(db: DuckDb, query: Sql): Promise<number> {
  return Number((await db.one<{ n: bigint }>(sql`select count(*) as n from (${query})`))?.n ?? 0)
}

function totals(perBatch: readonly BatchReport[]): { rowsInserted: number; rowsSkipped: number } {
  return {
    rowsInserted: perBatch.reduce((n, b) => n + b.rowsInserted, 0),
    rowsSkipped: perBatch.reduce((n, b) => n + b.rowsSkipped, 0),
  }
}

function reportOf(
  plan: BackfillPlan,
  perBatch: readonly BatchReport[],
  created: boolean,
  started: number,
  dryRun: boolean,
) {
  return {
    main: plan.ours,
    staging: plan.theirs,
    merged: true,
    created,
    stagingRows: plan.stagingRows,
    ...totals(perBatch),
    duplicatesInStaging: plan.duplicatesInStaging,
    batches: plan.batches.length,
    perBatch,
    appId: plan.appId,
    dryRun,
    durationMs: Math.round(performance.now() - started),
  }
}

async function commitBatch(
  main: string,
  snapshot: Snapshot,
  adds: readonly AddFile[],
  appId: string,
  batch: BatchPlan,
  inserted: number,
  reads: Reads,
  keys: readonly string[],
): Promise<number> {
  const bytes = adds.reduce((n, a) => n + a.size, 0)
  const result = await commitAndCheckpoint(
    main,
    [...adds.map((add) => ({ add })), txnAction({ appId, version: batch.batch })],
    {
      readVersion: snapshot.version,
      operation: 'MERGE',
      operationParameters: mergeOperationParameters(
        keys.map((k) => `target.${k} <=> source.${k}`).join(' AND '),
        [{ kind: 'notMatched', action: 'insert', values: 'all' }],
      ),
      operationMetrics: {
        numSourceRows: String(batch.rows),
        numTargetRowsInserted: String(inserted),
        numTargetRowsUpdated: '0',
        numTargetRowsDeleted: '0',
        numTargetRowsCopied: '0',
        numOutputRows: String(inserted),
        numTargetFilesAdded: String(adds.length),
        numTargetFilesRemoved: '0',
        numTargetBytesAdded: String(bytes),
        numTargetBytesRemoved: '0',
      },
      isBlindAppend: false,
      // A concurrent writer adding a file that may hold one of our keys could make us insert a
      // duplicate: that is a conflict, and a re-run recomputes against the new main.
      reads,
      interval: checkpointIntervalOf(snapshot.metadata),
    },
  )
  return result.version
}
