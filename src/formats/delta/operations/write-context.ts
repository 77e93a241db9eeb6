/** What every Delta write operation shares: opening the table for writing, schema checks, commit. */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { DuckDb } from '../../../engine/duckdb.js'
import { interruptedError, onAbort, throwIfInterrupted } from '../../../engine/interrupt.js'
import { raw, type Sql, sql } from '../../../engine/sql.js'
import { DuckmergeError, isDuckmergeError, messageOf } from '../../../errors.js'
import type { ProgressCallback } from '../../../progress.js'
import type { Action, AddFile, Metadata, RemoveFile } from '../actions.js'
import { writeCheckpoint } from '../checkpoint-write.js'
import { columnMappingMode } from '../column-mapping.js'
import { type CommitMetadata, type CommitOptions, type CommitResult, commit } from '../commit.js'
import type { FileStatsOptions } from '../file-stats.js'
import { dataFilePath } from '../partition-values.js'
import { assertWritable, writerFeatures } from '../protocol-support.js'
import type { StructType } from '../schema.js'
import { loadSnapshot } from '../snapshot.js'
import type { Snapshot } from '../snapshot-types.js'
import type { Compression } from '../write-files.js'
import { numRecordsOf } from '../write-files.js'

/** Options every write operation takes. */
export interface WriteOptions {
  /** The table's root folder. */
  readonly path: string
  /** Idempotent write: skipped when the table already holds txn `version` (or later) of `appId`. */
  readonly txn?: { readonly appId: string; readonly version: number }
  /** Checkpoint every N commits; default the table's delta.checkpointInterval, else 10. */
  readonly checkpointInterval?: number
  /** Parquet compression of the data files; default zstd. */
  readonly compression?: Compression
  readonly onProgress?: ProgressCallback
  /** The caller's own commitInfo entries: Spark's userMetadata, extra operationParameters. */
  readonly commitInfo?: CommitMetadata
  /**
   * Aborted (Ctrl-C): the write stops at its next safe point (DuckDB's running statement is
   * interrupted; no file is moved into the table, no commit made after it) and throws
   * INTERRUPTED; its data files and staging folder are removed, the table stays at the version
   * it had. Once committed, the write completes.
   */
  readonly signal?: AbortSignal | undefined
}

/** What a write operation returns (and `--json` prints). */
export interface WriteResult {
  /** The version committed, or the current one when nothing was committed. */
  readonly version: number
  /** Spark's operation name, as in commitInfo. */
  readonly operation: string
  /** Spark's metric names (numFiles, numOutputRows, …) as numbers. */
  readonly metrics: Readonly<Record<string, number>>
  /** True when nothing was committed: the txn was already applied, or nothing matched. */
  readonly skipped?: boolean
  /** Set when the commit succeeded but the checkpoint after it failed (the table is fine). */
  readonly checkpointError?: string
}

/**
 * Loads the latest snapshot and checks duckmerge may write it: protocol (assertWritable), and
 * column mapping in name mode at most (id mode needs Parquet field ids, which this writer does
 * not produce).
 */
export async function openForWrite(path: string, db?: DuckDb): Promise<Snapshot> {
  const snapshot = await loadSnapshot(path, db ? { db } : {})
  assertWritable(snapshot.protocol, snapshot.tablePath, snapshot)
  if (columnMappingMode(snapshot.metadata) === 'id')
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot write Delta table ${snapshot.tablePath}: it uses columnMapping in id mode, which duckmerge reads but does not write (name mode is supported). Write it with Spark or delta-rs.`,
      { table: snapshot.tablePath, feature: 'columnMapping' },
    )
  return snapshot
}

/**
 * Column-mapped tables keep their schema here: new columns would need ids and physical names
 * (delta.columnMapping.maxColumnId), which this writer does not assign.
 */
export function assertSchemaKept(snapshot: Snapshot, changed: boolean): void {
  if (changed && columnMappingMode(snapshot.metadata) !== 'none')
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot change the schema of Delta table ${snapshot.tablePath}: it uses columnMapping, and duckmerge does not add or replace columns of column-mapped tables. Write matching columns, or change the schema with Spark.`,
      { table: snapshot.tablePath, feature: 'columnMapping' },
    )
}

/** PROTOCOL.md, Append-only Tables: no removes with dataChange while delta.appendOnly is true. */
export function assertNotAppendOnly(snapshot: Snapshot, operation: string): void {
  const legacyOrFeature =
    snapshot.protocol.minWriterVersion >= 2 &&
    (snapshot.protocol.minWriterVersion < 7 ||
      writerFeatures(snapshot.protocol).includes('appendOnly'))
  if (legacyOrFeature && snapshot.metadata.configuration['delta.appendOnly'] === 'true')
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot ${operation} Delta table ${snapshot.tablePath}: it is append-only (delta.appendOnly=true). Only appends are allowed.`,
      { table: snapshot.tablePath, property: 'delta.appendOnly' },
    )
}

/** Stats options from the table properties (delta.dataSkippingNumIndexedCols, default 32). */
export function statsOptionsOf(metadata: Pick<Metadata, 'configuration'>): FileStatsOptions {
  const n = Number(metadata.configuration['delta.dataSkippingNumIndexedCols'])
  return Number.isInteger(n) && n >= -1 ? { numIndexedCols: n } : {}
}

/** The checkpoint interval: the option, else delta.checkpointInterval, else 10 (Spark's default). */
export function checkpointIntervalOf(metadata: Metadata | undefined, option?: number): number {
  if (option !== undefined) return option
  const configured = Number(metadata?.configuration['delta.checkpointInterval'])
  return Number.isInteger(configured) && configured > 0 ? configured : 10
}

/** What a write operation reports once its commit succeeded. */
export function writeResultOf(
  result: CommitResult,
  operation: string,
  metrics: Readonly<Record<string, number>>,
): WriteResult {
  return {
    version: result.version,
    operation,
    metrics,
    ...(result.afterCommitError ? { checkpointError: result.afterCommitError } : {}),
  }
}

/** Commits, then writes a checkpoint when the new version is a multiple of the interval. */
export async function commitAndCheckpoint(
  tablePath: string,
  actions: readonly Action[],
  options: CommitOptions & { readonly interval: number; readonly signal?: AbortSignal | undefined },
): Promise<CommitResult> {
  const { interval, signal, ...commitOptions } = options
  try {
    // The last safe point: after it the commit is made and reported, whatever arrives.
    throwIfInterrupted(signal, `nothing was committed to ${tablePath}`)
    return await commit(tablePath, actions, {
      ...commitOptions,
      afterCommit: async (version) => {
        if (interval <= 0 || version === 0 || version % interval !== 0) return
        await writeCheckpoint(await loadSnapshot(tablePath, { version }))
      },
    })
  } catch (error) {
    // Not committed: the files this transaction wrote are referenced by nothing; remove them now
    // rather than leaving them to vacuum.
    const written = actions.flatMap((a) =>
      'add' in a ? [dataFilePath(tablePath, a.add.path)] : [],
    )
    await Promise.all(written.map((p) => fs.rm(p, { force: true })))
    throw error
  }
}

/**
 * Idempotent writes racing with the same txn: the one that loses sees COMMIT_CONFLICT
 * (concurrent-transaction); if the winner recorded this batch (or a later one), the batch is in
 * the table, so the loser reports `skipped` instead of failing.
 */
export async function skipIfTxnWon(
  options: Pick<WriteOptions, 'path' | 'txn'>,
  operation: string,
  run: () => Promise<WriteResult>,
): Promise<WriteResult> {
  try {
    return await run()
  } catch (error) {
    const txn = options.txn
    if (!txn || !isDuckmergeError(error, 'COMMIT_CONFLICT')) throw error
    if (error.details.reason !== 'concurrent-transaction') throw error
    const snapshot = await loadSnapshot(options.path)
    const last = snapshot.appTransactions.get(txn.appId)
    if (last === undefined || last.version < txn.version) throw error
    return { version: snapshot.version, operation, metrics: {}, skipped: true }
  }
}

/** File-system refusals that are the place's fault, not ours: read-only, no space, not a folder. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EEXIST'])

/**
 * Runs a write operation, turning the file system's refusals (a read-only folder, a full disk, a
 * parent that is a file) into OUTPUT_UNWRITABLE naming the path: an expected condition, not a bug.
 */
export async function writing<T>(
  table: string,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run()
  } catch (error) {
    // Whatever the interrupted statement threw (DuckDB's "Interrupted!", wrapped or not).
    if (signal?.aborted && !isDuckmergeError(error, 'INTERRUPTED'))
      throw interruptedError(`nothing was committed to ${table}`, { table }, error)
    const memory = outOfMemory(error, table, 'nothing was committed')
    if (memory) throw memory
    const code = (error as NodeJS.ErrnoException).code
    if (error instanceof DuckmergeError || !code || !UNWRITABLE.has(code)) throw error
    const path = (error as NodeJS.ErrnoException).path ?? table
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write Delta table ${table}: ${path} is not writable (${messageOf(error)})`,
      { table, path },
      { cause: error },
    )
  }
}

/**
 * DuckDB's "Out of Memory Error" (raw, or inside one of our errors) as OUT_OF_MEMORY naming the
 * table and, through the hint, the memory limit option: good inputs, too little memory, so the
 * source is not blamed (issue 14). Undefined for any other error.
 */
export function outOfMemory(
  error: unknown,
  table: string,
  outcome: string,
): DuckmergeError | undefined {
  if (isDuckmergeError(error, 'INTERRUPTED') || isDuckmergeError(error, 'OUT_OF_MEMORY')) return
  if (!/out of memory error/i.test(messageOf(error))) return
  return new DuckmergeError(
    'OUT_OF_MEMORY',
    `DuckDB reached its memory limit writing Delta table ${table}: ${messageOf(error).split('\n')[0]}; ${outcome}.`,
    { table, hint: 'Raise {memoryLimit} (e.g. 4GB).' },
    { cause: error },
  )
}

/**
 * Interrupts `db`'s running statement when `signal` aborts; returns the function that stops
 * listening (call it before closing `db`).
 */
export function interruptOnAbort(db: DuckDb, signal: AbortSignal | undefined): () => void {
  return onAbort(signal, () => db.connection.interrupt())
}

/**
 * Removes `dir` and the folders under it when they hold no file (what a failed create made),
 * deepest first; a folder another process put a file in stays.
 */
export async function removeEmptyFolders(dir: string): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const entry of entries)
    if (entry.isDirectory()) await removeEmptyFolders(join(dir, entry.name))
  await fs.rmdir(dir).catch(() => undefined)
}

/** A remove for a live file (PROTOCOL.md, Add File and Remove File), keeping its DV identity. */
export function removeOf(add: AddFile, now: number, dataChange = true): RemoveFile {
  return {
    path: add.path,
    deletionTimestamp: now,
    dataChange,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues,
    size: add.size,
    ...(add.stats ? { stats: add.stats } : {}),
    ...(add.tags ? { tags: add.tags } : {}),
    ...(add.deletionVector ? { deletionVector: add.deletionVector } : {}),
    ...(add.baseRowId != null ? { baseRowId: add.baseRowId } : {}),
    ...(add.defaultRowCommitVersion != null
      ? { defaultRowCommitVersion: add.defaultRowCommitVersion }
      : {}),
  }
}

/** numFiles / numOutputRows / numOutputBytes of the files a write added. */
export function outputMetrics(adds: readonly AddFile[]): Record<string, number> {
  return {
    numFiles: adds.length,
    numOutputRows: adds.reduce((n, a) => n + numRecordsOf(a), 0),
    numOutputBytes: adds.reduce((n, a) => n + a.size, 0),
  }
}

/** Rows a logical file holds: numRecords minus its deletion vector's cardinality. */
export function liveRowsOf(add: AddFile): number {
  return numRecordsOf(add) - (add.deletionVector?.cardinality ?? 0)
}

/**
 * PROTOCOL.md, Column Invariants: every written row must satisfy each column's
 * `delta.invariants` expression (false or NULL aborts). Evaluated by DuckDB; an expression
 * DuckDB cannot evaluate is UNSUPPORTED_FEATURE rather than silently skipped.
 */
export async function checkInvariants(
  db: DuckDb,
  schema: StructType,
  query: Sql,
  tablePath: string,
): Promise<void> {
  for (const field of schema.fields) {
    const invariant = field.metadata['delta.invariants']
    if (typeof invariant !== 'string') continue
    let expression: string
    try {
      expression = String(
        (JSON.parse(invariant) as { expression: { expression: string } }).expression.expression,
      )
    } catch {
      throw new DuckmergeError(
        'DELTA_LOG_INVALID',
        `Delta table ${tablePath}: column "${field.name}" has an unreadable delta.invariants value.`,
        { table: tablePath },
      )
    }
    let bad: number
    try {
      const row = await db.one<{ n: bigint }>(
        // The expression comes from the table's own log, passed through as SQL (like --where).
        sql`SELECT count(*) AS n FROM (${query}) q WHERE (${raw(expression)}) IS NOT TRUE`,
      )
      bad = Number(row?.n ?? 0)
    } catch (error) {
      throw new DuckmergeError(
        'UNSUPPORTED_FEATURE',
        `Cannot write Delta table ${tablePath}: the invariant of column "${field.name}" (${expression}) cannot be evaluated by DuckDB: ${messageOf(error)}`,
        { table: tablePath, feature: 'invariants' },
      )
    }
    if (bad > 0)
      throw new DuckmergeError(
        'VALIDATION_FAILED',
        `Cannot write Delta table ${tablePath}: ${bad} row(s) violate the invariant of column "${field.name}": ${expression}. Nothing was written.`,
        { table: tablePath, column: field.name, expression, rows: bad },
      )
  }
}
