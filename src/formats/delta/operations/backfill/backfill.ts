/**
 * Staging backfill: inserts the staging rows whose key main lacks, batch by batch, idempotently
 * (one txn per batch). plan.ts reads main and staging once and cuts the batches; apply.ts writes
 * and commits them; a dry run reports the plan.
 */
import { resolve } from 'node:path'
import type { ProgressCallback } from '../../../../progress.js'
import { type SessionOptions, withMergeSession } from '../merge/session.js'
import { outOfMemory } from '../write-context.js'
import { applyBackfill, type BackfillReport, type BatchReport, dryRunBackfill } from './apply.js'
import { checkBackfillOptions, planBackfill } from './plan.js'
import { hasData } from './staging.js'

export type { BackfillReport, BatchReport } from './apply.js'

export const DEFAULT_BATCH_ROWS = 1_000_000

export interface BackfillOptions extends SessionOptions {
  /** The Delta table filled (main); created with theirs' schema and partitioning when missing. */
  readonly ours: string
  /** The staging data: a Delta table (or a folder of Parquet files) holding the rows to add. */
  readonly theirs: string
  /** Key columns: a theirs row is inserted only when ours has no row with the same key. */
  readonly key: readonly string[]
  /** Distinct staging keys per batch (and per commit). Default 1 000 000. */
  readonly batchRows?: number
  /** Move staging under this folder after success instead of deleting it. */
  readonly archive?: string
  /** Plan and report what would be inserted, writing nothing. Default false. */
  readonly dryRun?: boolean
  /** Stop after the current batch when aborted (the CLI aborts on SIGINT/SIGTERM). */
  readonly signal?: AbortSignal
  readonly onProgress?: ProgressCallback
  /** Called after each batch (applied, skipped, or found already applied). */
  readonly onBatch?: (batch: BatchReport, total: number) => void
}

/**
 * Backfills `main` from `staging`: every staging row whose key main lacks is inserted (one per
 * key), rows whose key main has are skipped, and re-running with the same staging data changes
 * nothing. Staging is deleted (or archived) only after every batch committed.
 *
 * @example
 * const report = await backfill({ ours: 'certs', theirs: 'certs-staging', key: ['source_url', 'cert_index'] })
 * report.rowsInserted // 3
 */
export async function backfill(options: BackfillOptions): Promise<BackfillReport> {
  const started = performance.now()
  const planOptions = {
    ours: options.ours,
    theirs: options.theirs,
    key: options.key,
    batchRows: options.batchRows ?? DEFAULT_BATCH_ROWS,
    archive: options.archive,
  }
  checkBackfillOptions(planOptions)
  const nothing = (): BackfillReport => ({
    main: resolve(options.ours),
    staging: resolve(options.theirs),
    merged: false,
    created: false,
    stagingRows: 0,
    rowsInserted: 0,
    rowsSkipped: 0,
    duplicatesInStaging: 0,
    batches: 0,
    perBatch: [],
    stagingAfter: 'kept',
    stagingRemoved: false,
    dryRun: options.dryRun === true,
    version: null,
    durationMs: Math.round(performance.now() - started),
  })
  if (!(await hasData(resolve(options.theirs)))) return nothing()
  return withMergeSession(options, async (db) => {
    options.onProgress?.({ phase: 'backfill: planning', done: 0 })
    const plan = await planBackfill(db, planOptions)
    if (plan === undefined) return nothing()
    if (options.dryRun === true) return dryRunBackfill(db, plan, started)
    return await applyBackfill(db, plan, options, started)
  }).catch((error: unknown) => {
    throw outOfMemory(error, resolve(options.ours), 'the batches committed before it stay') ?? error
  })
}
