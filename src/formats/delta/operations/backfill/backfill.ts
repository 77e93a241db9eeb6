/** Staging backfill: inserts the staging rows whose key main lacks, batch by batch, idempotently (one txn per batch). */
import { resolve } from 'node:path'
import type { DuckDb } from '../../../../engine/duckdb.js'
import { ident, identList, raw, sql } from '../../../../engine/sql.js'
import { DuckmergeError } from '../../../../errors.js'
import type { ProgressCallback } from '../../../../progress.js'
import type { AddFile } from '../../actions.js'
import { registerSnapshot } from '../../scan.js'
import type { Snapshot } from '../../snapshot-types.js'
import { pruneFiles } from '../../stats.js'
import { txnAction } from '../../txn.js'
import { numRecordsOf, writeDataFiles } from '../../write-files.js'
import { assertConstraints } from '../merge/checks.js'
import { mergeOperationParameters } from '../merge/metrics.js'
import { type SessionOptions, withMergeSession } from '../merge/session.js'
import { isDeltaTable, resolveSource } from '../merge/source.js'
import {
  checkpointIntervalOf,
  commitAndCheckpoint,
  openForWrite,
  statsOptionsOf,
} from '../write-context.js'
import { keyBounds, outsideSql } from './bounds.js'
import { stagingFacts } from './facts.js'
import { type BackfillPlan, type BatchPlan, planBackfill } from './plan.js'
import {
  assertSeparate,
  backfillAppId,
  checkKeys,
  checkSchema,
  createMain,
  hasData,
  retireStaging,
} from './staging.js'

export const DEFAULT_BATCH_ROWS = 1_000_000

export interface BackfillOptions extends SessionOptions {
  /** The Delta table to fill; created with staging's schema and partitioning when missing. */
  readonly main: string
  /** A Delta table (or a folder of Parquet files) holding the rows to add. */
  readonly staging: string
  /** Key columns: a staging row is inserted only when main has no row with the same key. */
  readonly keys: readonly string[]
  /** Distinct staging keys per batch (and per commit). Default 1 000 000. */
  readonly batchRows?: number
  /** Move staging under this folder after success instead of deleting it. */
  readonly archive?: string
  /** Stop after the current batch when aborted (the CLI aborts on SIGINT/SIGTERM). */
  readonly signal?: AbortSignal
  readonly onProgress?: ProgressCallback
  /** Called after each batch (applied, skipped, or found already applied). */
  readonly onBatch?: (batch: BatchReport, total: number) => void
}

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
  /** What happened to staging: 'deleted', 'archived', or 'kept' (nothing to merge). */
  readonly stagingAfter: 'deleted' | 'archived' | 'kept'
  readonly archivedTo?: string
  /** Main's version at the end. */
  readonly version: number | null
  readonly appId?: string
  readonly durationMs: number
}

/**
 * Backfills `main` from `staging`: every staging row whose key main lacks is inserted (one per
 * key), rows whose key main has are skipped, and re-running with the same staging data changes
 * nothing. Staging is deleted (or archived) only after every batch committed.
 *
 * @example
 * const report = await backfill({ main: 'certs', staging: 'certs-staging', keys: ['source_url', 'cert_index'] })
 * report.rowsInserted // 3
 */
export async function backfill(options: BackfillOptions): Promise<BackfillReport> {
  const started = performance.now()
  const main = resolve(options.main)
  const staging = resolve(options.staging)
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS
  if (!Number.isInteger(batchRows) || batchRows < 1)
    throw new DuckmergeError('USAGE', `batchRows must be a whole number >= 1, got ${batchRows}.`)
  if (options.keys.length === 0)
    throw new DuckmergeError('USAGE', 'backfill needs at least one key column.')
  assertSeparate(main, staging, options.archive)
  const nothing = (): BackfillReport => ({
    main,
    staging,
    merged: false,
    created: false,
    stagingRows: 0,
    rowsInserted: 0,
    rowsSkipped: 0,
    duplicatesInStaging: 0,
    batches: 0,
    perBatch: [],
    stagingAfter: 'kept',
    version: null,
    durationMs: Math.round(performance.now() - started),
  })
  if (!(await hasData(staging))) return nothing()

  return withMergeSession(options, async (db) => {
    const source = await resolveSource(db, staging, { what: 'staging' })
    await db.run(sql`create temp view __bf_staging as select * from ${source.relation}`)
    const stagingCount = await db.one<{ n: bigint }>(raw('select count(*) as n from __bf_staging'))
    if (Number(stagingCount?.n ?? 0) === 0) return nothing()
    checkKeys(
      options.keys,
      source.columns.map((c) => c.name),
      'staging',
      staging,
    )

    const created = !isDeltaTable(main)
    if (created) await createMain(main, source)
    let snapshot = await openForWrite(main, db)
    checkKeys(
      options.keys,
      snapshot.schema.fields.map((f) => f.name),
      'main',
      main,
    )
    checkSchema(snapshot, source, main, staging)

    const appId = await backfillAppId(source, staging, options.keys, batchRows)
    const applied = snapshot.appTransactions.get(appId)?.version ?? -1

    options.onProgress?.({ phase: 'backfill: planning', done: 0 })
    const stagingRows = Number(stagingCount?.n ?? 0)
    const { plan, reads } = await planAgainstMain(
      db,
      snapshot,
      staging,
      source.snapshot,
      options.keys,
      { batchRows, stagingRows },
    )

    const perBatch: BatchReport[] = []
    const total = plan.batches.length
    let interrupted = false
    for (const batch of plan.batches) {
      if (options.signal?.aborted) {
        interrupted = true
        break
      }
      const batchStarted = performance.now()
      let version: number | null = null
      let inserted = 0
      const alreadyApplied = batch.batch <= applied
      if (!alreadyApplied && batch.newRows !== 0) {
        await assertConstraints(db, snapshot.schema, batch.query, main)
        const adds = await writeDataFiles(db, main, batch.query, {
          schema: snapshot.schema,
          partitionColumns: snapshot.partitionColumns,
          stats: statsOptionsOf(snapshot.metadata),
        })
        inserted = adds.reduce((n, a) => n + numRecordsOf(a), 0)
        if (adds.length > 0) {
          version = await commitBatch(
            main,
            snapshot,
            adds,
            appId,
            batch,
            inserted,
            reads,
            options.keys,
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
    const rowsInserted = perBatch.reduce((n, b) => n + b.rowsInserted, 0)
    const rowsSkipped = perBatch.reduce((n, b) => n + b.rowsSkipped, 0)
    if (interrupted)
      throw new DuckmergeError(
        'INTERRUPTED',
        `Backfill of ${main} from ${staging} stopped after ${perBatch.length} of ${total} batches (${rowsInserted} rows inserted); staging is kept. Run the same command again to insert the rest.`,
        { main, staging, batchesDone: perBatch.length, batches: total, rowsInserted, rowsSkipped },
      )

    const archivedTo = await retireStaging(staging, options.archive)
    return {
      main,
      staging,
      merged: true,
      created,
      stagingRows: plan.stagingRows,
      rowsInserted,
      rowsSkipped,
      duplicatesInStaging: plan.duplicatesInStaging,
      batches: total,
      perBatch,
      stagingAfter: archivedTo === undefined ? 'deleted' : 'archived',
      ...(archivedTo === undefined ? {} : { archivedTo }),
      version: snapshot.version,
      appId,
      durationMs: Math.round(performance.now() - started),
    }
  })
}

/**
 * Plans the batches against main's key columns: staging's key facts (facts.ts) prune
 * main's files and tell whether the duplicate tie-break is needed; main's own key range
 * (bounds.ts) lets staging keys outside it skip the anti-join.
 */
async function planAgainstMain(
  db: DuckDb,
  snapshot: Snapshot,
  staging: string,
  stagingSnapshot: Snapshot | undefined,
  keys: readonly string[],
  sizes: { readonly batchRows: number; readonly stagingRows: number },
): Promise<{ plan: BackfillPlan; reads: Reads }> {
  const { predicates, mayRepeat } = await stagingFacts(
    db,
    snapshot,
    stagingSnapshot,
    keys,
    sizes.stagingRows,
    raw('__bf_staging'),
  )
  const files = pruneFiles(snapshot, predicates)
  await registerSnapshot(db, snapshot, '__bf_main', { files })
  if (mayRepeat) {
    const withFiles = await resolveSource(db, staging, { withFileInfo: true, what: 'staging' })
    await db.run(sql`create temp view __bf_staging_files as select * from ${withFiles.relation}`)
  }
  const outsideMain = outsideSql(keyBounds(snapshot, files, keys), 's')
  const plan = await planBackfill(db, {
    staging: ident('__bf_staging'),
    ...(mayRepeat ? { stagingWithFiles: ident('__bf_staging_files') } : {}),
    stagingRows: sizes.stagingRows,
    main: files.length > 0 ? sql`(select ${identList(keys)} from __bf_main)` : undefined,
    ...(outsideMain ? { outsideMain } : {}),
    keys,
    columns: snapshot.schema.fields.map((f) => f.name),
    batchRows: sizes.batchRows,
  })
  const scope =
    predicates.length === 0
      ? ('all' as const)
      : (add: AddFile) => pruneFiles({ ...snapshot, files: [add] }, predicates).length > 0
  return { plan, reads: { files, scope } }
}

type Reads = { files: readonly AddFile[]; scope: 'all' | ((add: AddFile) => boolean) }

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
