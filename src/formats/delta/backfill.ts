/**
 * Staging backfill: insert the staging rows whose key main lacks, batch by batch, each batch its
 * own idempotent commit, then delete (or archive) the staging table.
 *
 *   plan once: dedup staging by key → batches in key order → flag keys main already holds
 *   for batch k = 0, 1, …:
 *     main has txn(appId) ≥ k?  ── yes ─► skip (committed by an earlier, interrupted run)
 *       └─ no ─► write new rows to new files → commit adds + txn { appId, version: k }
 *     stop requested (SIGINT/SIGTERM)? ─► stop here, staging kept, INTERRUPTED
 *   all batches done ─► rename staging aside, then remove it (or move it under --archive)
 */
import { createHash } from 'node:crypto'
import { existsSync, promises as fs } from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'
import type { DuckDb } from '../../engine/duckdb.js'
import { ident, identList, join as joinSql, raw, type Sql, sql } from '../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../errors.js'
import type { ProgressCallback } from '../../progress.js'
import type { AddFile } from './actions.js'
import { type BackfillPlan, batchRowsSql, planBackfill } from './backfill-plan.js'
import { mergeOperationParameters } from './merge-metrics.js'
import { candidateFiles } from './merge-prune.js'
import { type SessionOptions, withMergeSession } from './merge-session.js'
import { isDeltaTable, type ResolvedSource, resolveSource } from './merge-source.js'
import { createTable } from './operations/create.js'
import {
  checkpointIntervalOf,
  commitAndCheckpoint,
  openForWrite,
} from './operations/write-context.js'
import { registerSnapshot } from './scan.js'
import { duckDbToDeltaType, type StructType, typeToString } from './schema.js'
import type { Snapshot } from './snapshot-types.js'
import { txnAction } from './txn.js'
import { numRecordsOf, writeDataFiles } from './write-files.js'

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
    const source = await resolveSource(db, staging, { withFileInfo: true, what: 'staging' })
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
    let snapshot = await openForWrite(main)
    checkKeys(
      options.keys,
      snapshot.schema.fields.map((f) => f.name),
      'main',
      main,
    )
    checkSchema(snapshot, source, main, staging)

    const appId = await backfillAppId(source, staging, options.keys, batchRows)
    const applied = snapshot.appTransactions.get(appId)?.version ?? -1
    const columns = snapshot.schema.fields.map((f) => f.name)

    options.onProgress?.({ phase: 'backfill: planning', done: 0 })
    const { plan, reads } = await planAgainstMain(db, snapshot, options.keys, columns, batchRows)

    const perBatch: BatchReport[] = []
    const total = plan.batches.length
    let interrupted = false
    for (const counts of plan.batches) {
      if (options.signal?.aborted) {
        interrupted = true
        break
      }
      const batchStarted = performance.now()
      let version: number | null = null
      const alreadyApplied = counts.batch <= applied
      let inserted = 0
      if (!alreadyApplied && counts.rowsInserted > 0) {
        const adds = await writeDataFiles(db, main, batchRowsSql(columns, counts.batch), {
          schema: snapshot.schema,
          partitionColumns: snapshot.partitionColumns,
        })
        inserted = adds.reduce((n, a) => n + numRecordsOf(a), 0)
        version = await commitBatch(
          main,
          snapshot,
          adds,
          appId,
          counts,
          inserted,
          reads,
          options.keys,
        )
        snapshot = { ...snapshot, version }
      }
      const report: BatchReport = {
        batch: counts.batch,
        rowsInserted: inserted,
        rowsSkipped: counts.rowsSkipped + (alreadyApplied ? counts.rowsInserted : 0),
        version,
        alreadyApplied,
        durationMs: Math.round(performance.now() - batchStarted),
      }
      perBatch.push(report)
      options.onBatch?.(report, total)
      options.onProgress?.({
        phase: 'backfill',
        done: perBatch.length,
        total,
        unit: 'batches',
      })
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

/** Plans the batches against main's key columns, read only from files that may hold a staging key. */
async function planAgainstMain(
  db: DuckDb,
  snapshot: Snapshot,
  keys: readonly string[],
  columns: readonly string[],
  batchRows: number,
): Promise<{ plan: BackfillPlan; reads: Reads }> {
  // NULL keys match NULL keys here, which min/max pruning cannot see: read every file then.
  const nullKeys = await db.one<{ n: bigint }>(
    sql`select count(*) as n from __bf_staging where ${orNull(keys)}`,
  )
  const prune = Number(nullKeys?.n ?? 0) === 0
  const candidates = prune
    ? await candidateFiles(db, snapshot, keys, ident('__bf_staging'))
    : undefined
  const files = candidates?.files ?? snapshot.files
  await registerSnapshot(db, snapshot, '__bf_main', { files })
  const plan = await planBackfill(db, {
    staging: ident('__bf_staging'),
    main: files.length > 0 ? sql`(select ${identList(keys)} from __bf_main)` : undefined,
    keys,
    columns,
    batchRows,
  })
  return { plan, reads: { files, scope: candidates?.mayMatch ?? 'all' } }
}

type Reads = { files: readonly AddFile[]; scope: 'all' | ((add: AddFile) => boolean) }

function orNull(keys: readonly string[]): Sql {
  return joinSql(
    keys.map((k) => sql`${ident(k)} is null`),
    ' or ',
  )
}

async function commitBatch(
  main: string,
  snapshot: Snapshot,
  adds: readonly AddFile[],
  appId: string,
  counts: { batch: number; rowsSkipped: number },
  inserted: number,
  reads: Reads,
  keys: readonly string[],
): Promise<number> {
  const bytes = adds.reduce((n, a) => n + a.size, 0)
  const result = await commitAndCheckpoint(
    main,
    [...adds.map((add) => ({ add })), txnAction({ appId, version: counts.batch })],
    {
      readVersion: snapshot.version,
      operation: 'MERGE',
      operationParameters: mergeOperationParameters(
        keys.map((k) => `target.${k} <=> source.${k}`).join(' AND '),
        [{ kind: 'notMatched', action: 'insert', values: 'all' }],
      ),
      operationMetrics: {
        numSourceRows: String(inserted + counts.rowsSkipped),
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

/** Creates main empty, with staging's schema and (for a Delta staging) its partitioning. */
async function createMain(main: string, source: ResolvedSource): Promise<void> {
  const schema: StructType = source.snapshot
    ? source.snapshot.schema
    : {
        type: 'struct',
        fields: source.columns.map((c) => ({
          name: c.name,
          type: duckDbToDeltaType(c.type),
          nullable: true,
          metadata: {},
        })),
      }
  await createTable({
    path: main,
    schema,
    partitionBy: source.snapshot?.partitionColumns ?? [],
  })
}

/**
 * The txn appId of this backfill: the staging table's identity (metaData.id and version, or for
 * Parquet the names and sizes of its files) plus the keys and batch size, since those decide
 * which rows batch k holds. A different staging, or the same one changed, gets a new appId.
 */
async function backfillAppId(
  source: ResolvedSource,
  staging: string,
  keys: readonly string[],
  batchRows: number,
): Promise<string> {
  const hash = createHash('sha256')
  if (source.snapshot) hash.update(`${source.snapshot.metadata.id}@${source.snapshot.version}`)
  else
    for (const file of await listFiles(staging))
      hash.update(`${relative(staging, file.path)}\0${file.size}\n`)
  hash.update(`\0${JSON.stringify(keys)}\0${batchRows}`)
  return `duckmerge-backfill-${hash.digest('hex').slice(0, 32)}`
}

async function listFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = []
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    out.push({ path, size: (await fs.stat(path)).size })
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

/** Missing staging, an empty folder, or a folder without Parquet files: nothing to merge. */
async function hasData(staging: string): Promise<boolean> {
  if (!existsSync(staging)) return false
  const stat = await fs.stat(staging)
  if (!stat.isDirectory()) return true // a single Parquet file
  if (isDeltaTable(staging)) return true
  return (await listFiles(staging)).some((f) => f.path.endsWith('.parquet'))
}

function checkKeys(
  keys: readonly string[],
  columns: readonly string[],
  side: 'main' | 'staging',
  path: string,
): void {
  for (const key of keys)
    if (!columns.includes(key))
      throw new DuckmergeError(
        'KEY_COLUMN_MISSING',
        `Cannot backfill: key column "${key}" is missing in ${side} ${path} (columns: ${columns.join(', ')}). Pass --keys with columns both tables have.`,
        { column: key, side, path },
      )
}

/** Staging must have main's columns with the same types: backfill never changes main's schema. */
function checkSchema(
  snapshot: Snapshot,
  source: ResolvedSource,
  main: string,
  staging: string,
): void {
  const stagingTypes = new Map(
    source.snapshot
      ? source.snapshot.schema.fields.map((f) => [f.name, typeToString(f.type)])
      : source.columns.map((c) => [c.name, typeToString(duckDbToDeltaType(c.type))]),
  )
  const issues: string[] = []
  for (const field of snapshot.schema.fields) {
    const type = stagingTypes.get(field.name)
    const mainType = typeToString(field.type)
    if (type === undefined) issues.push(`"${field.name}" (${mainType}) is missing in staging`)
    else if (type !== mainType)
      issues.push(`"${field.name}" is ${type} in staging but ${mainType} in main`)
    stagingTypes.delete(field.name)
  }
  for (const [name, type] of stagingTypes)
    issues.push(`"${name}" (${type}) is in staging but not in main`)
  if (issues.length > 0)
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot backfill ${main} from ${staging}: the schemas differ: ${issues.join('; ')}. Make staging match main's schema.`,
      { main, staging, issues },
    )
}

/**
 * Deletes staging, or moves it under `archive`. The folder is first renamed aside in one step,
 * so a crash during removal never leaves a half-deleted staging table under its name.
 */
async function retireStaging(
  staging: string,
  archive: string | undefined,
): Promise<string | undefined> {
  if (archive !== undefined) {
    await fs.mkdir(archive, { recursive: true })
    let target = join(resolve(archive), basename(staging))
    if (existsSync(target)) target = `${target}-${new Date().toISOString().replace(/[:.]/g, '-')}`
    try {
      await fs.rename(staging, target)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV')
        throw new DuckmergeError(
          'OUTPUT_UNWRITABLE',
          `Backfill committed, but moving staging ${staging} to ${target} failed: ${messageOf(error)}. Move or delete it by hand; re-running is safe.`,
          { staging, archive: target },
        )
      await fs.cp(staging, target, { recursive: true })
      await removeDir(staging)
    }
    return target
  }
  await removeDir(staging)
  return undefined
}

async function removeDir(dir: string): Promise<void> {
  const aside = join(resolve(dir, '..'), `.${basename(dir)}.deleting-${process.pid}`)
  await fs.rename(dir, aside)
  await fs.rm(aside, { recursive: true, force: true })
}
