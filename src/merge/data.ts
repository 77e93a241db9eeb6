/**
 * Merge and rebase of Parquet datasets, streamed inside DuckDB: rows never pass through JS.
 * Merge accumulates (every ours row, plus theirs rows; with a dedup key, theirs rows whose key ours
 * already has are skipped). Rebase replaces (theirs rows, plus ours rows no theirs row shares a key with).
 *
 *   resolve inputs → check output → union schemas → check keys → count (footers)
 *   → rebase: distinct theirs keys = theirs rows? → plan key matching (theirs key range, ours row groups)
 *   → dry run: count matches | COPY … TO temp beside output → rename onto output
 */
import { promises as fs } from 'node:fs'
import { type DuckDb, withDuckDb } from '../engine/duckdb.js'
import { tempPathBeside, writeAtomically } from '../engine/files.js'
import { interruptedError, onAbort, removeOnExit, throwIfInterrupted } from '../engine/interrupt.js'
import { DuckmergeError } from '../errors.js'
import { enableQueryProgress, trackQuery } from '../formats/parquet/progress.js'
import { type UnionSchema, unionSchema } from '../formats/parquet/schema.js'
import {
  datasetName,
  type ParquetSource,
  readParquetSql,
  resolveParquetSource,
} from '../formats/parquet/source.js'
import { type Compression, compressions, copyToParquet } from '../formats/parquet/write.js'
import type { ProgressCallback } from '../progress.js'
import {
  assertKeptValuesConvert,
  assertKeyColumns,
  assertPartitionColumns,
  assertUniqueKeys,
  countRows,
  readFailure,
  writeFailure,
} from './data-checks.js'
import { type KeyPlan, noKeyRange, planKeyMatch } from './data-key-range.js'
import { assertOutputUsable } from './data-output.js'
import { matchCountQuery, mergeQuery, rebaseQuery, retypedQuery } from './data-sql.js'
import type { MergeReport, Strategy, TableReport } from './report.js'

export type { Compression }

export interface DataMergeOptions {
  /**
   * A Parquet file, a glob, a directory of Parquet files (hive folders become columns), or a
   * Delta table (a folder with `_delta_log`: the rows of its snapshot, never removed files).
   */
  readonly ours: string
  readonly theirs: string
  /** The version of a Delta `ours` to read; the latest when omitted. */
  readonly oursVersion?: number
  /** The version of a Delta `theirs` to read; the latest when omitted. */
  readonly theirsVersion?: number
  /** A file, or a directory when `partitionBy` is set. Replaced only when the work succeeds. */
  readonly output: string
  /** Skip theirs rows whose key ours already has (NULL keys match NULL keys). */
  readonly key?: readonly string[]
  /** Write a hive-partitioned directory (`col=value/…`) instead of one file. */
  readonly partitionBy?: readonly string[]
  /** Default 'zstd'. */
  readonly compression?: Compression
  /** Compute the report without writing anything. */
  readonly dryRun?: boolean
  readonly onProgress?: ProgressCallback
  /** DuckDB's memory_limit, e.g. '2GB'; past it DuckDB spills to a folder beside the output. Default '1GB'. */
  readonly memoryLimit?: string
  /** Aborting interrupts DuckDB; the call then fails with INTERRUPTED and writes nothing. */
  readonly signal?: AbortSignal
}

export interface DataRebaseOptions extends DataMergeOptions {
  /** Theirs rows supersede ours rows with the same key (NULL keys match NULL keys). */
  readonly key: readonly string[]
}

/**
 * Merges theirs into ours: every ours row is kept, and every theirs row (with `key`, only those
 * whose key ours does not have, so merging the same theirs twice changes nothing). Columns are
 * unioned by name; a column one side lacks is NULL in its rows.
 *
 * @example
 * const report = await mergeData({ ours: 'data/', theirs: 'new.parquet', output: 'merged.parquet',
 *   key: ['id'] })
 * report.rowsInserted // theirs rows added; report.rowsSkipped: theirs rows whose id ours had
 */
export async function mergeData(options: DataMergeOptions): Promise<MergeReport> {
  return runDataJob('merge', options, options.key)
}

/**
 * Rebases ours onto theirs: every theirs row, plus the ours rows whose key no theirs row has. Theirs must
 * hold at most one row per key, else DUPLICATE_KEY names one repeated key and its row count.
 *
 * @example
 * const report = await rebaseData({ ours: 'data/', theirs: 'reprocessed/', output: 'out.parquet',
 *   key: ['sample_id'] })
 * report.rowsReplaced // ours rows superseded by theirs rows with the same sample_id
 */
export async function rebaseData(options: DataRebaseOptions): Promise<MergeReport> {
  return runDataJob('rebase', options, options.key)
}

async function runDataJob(
  strategy: Strategy,
  options: DataMergeOptions,
  key: readonly string[] | undefined,
): Promise<MergeReport> {
  const started = performance.now()
  validate(strategy, options, key)
  const partitionBy = options.partitionBy ?? []
  // DuckDB spills past memoryLimit into this folder: beside the output, on the disk that will
  // hold the result anyway (not /tmp, which may be RAM).
  const spill = `${tempPathBeside(options.output)}.spill`
  const { signal } = options
  const forgetSpill = removeOnExit(spill)
  try {
    return await withDuckDb(
      {
        preserveInsertionOrder: false,
        memoryLimit: options.memoryLimit ?? '1GB',
        tempDirectory: spill,
      },
      async (db) => {
        const off = onAbort(signal, () => db.connection.interrupt())
        try {
          // Delta inputs: their checkpoints and data file footers are read with this instance.
          const ours = await resolveParquetSource(options.ours, 'ours', {
            db,
            ...version(options.oursVersion),
          })
          const theirs = await resolveParquetSource(options.theirs, 'theirs', {
            db,
            ...version(options.theirsVersion),
          })
          await assertOutputUsable(options.output, [ours, theirs], partitionBy.length > 0)
          throwIfInterrupted(signal)
          const job: Job = { db, strategy, options, key, ours, theirs, partitionBy }
          const { figures, columnsAdded, schema } = await execute(job)
          const table: TableReport = { table: datasetName(ours), ...figures, columnsAdded }
          return {
            strategy,
            dryRun: options.dryRun ?? false,
            ours: options.ours,
            theirs: options.theirs,
            output: options.output,
            ...figures,
            columnsAdded,
            schema: schema.columns,
            typesChanged: [
              ...schema.widened.map((w) => ({ column: w.column, from: w.ours, to: w.type })),
              ...schema.retyped,
            ],
            durationMs: Math.round(performance.now() - started),
            tables: [table],
          }
        } catch (error) {
          throw signal?.aborted ? interruptedError() : error
        } finally {
          off()
        }
      },
    )
  } finally {
    await fs.rm(spill, { recursive: true, force: true }).catch(() => undefined)
    forgetSpill()
  }
}

const version = (v: number | undefined) => (v === undefined ? {} : { version: v })

interface Job {
  readonly db: DuckDb
  readonly strategy: Strategy
  readonly options: DataMergeOptions
  readonly key: readonly string[] | undefined
  readonly ours: ParquetSource
  readonly theirs: ParquetSource
  readonly partitionBy: readonly string[]
}

/** Checks schemas and keys, then computes the figures (dry run) or writes the output. */
async function execute(
  job: Job,
): Promise<{ figures: Figures; columnsAdded: readonly string[]; schema: UnionSchema }> {
  const { db, strategy, options, key, ours, theirs } = job
  const { onProgress } = options
  if (onProgress) await enableQueryProgress(db)
  // Merge widens a changed type; rebase gives theirs' (the newer side replaces).
  const schema = await unionSchema(db, ours, theirs, strategy === 'merge' ? 'widen' : 'theirs')
  if (key) assertKeyColumns(strategy, key, ours, theirs, schema)
  assertPartitionColumns(job.partitionBy, schema)
  const rowsBefore = await countRows(db, ours)
  const theirsRows = await countRows(db, theirs)
  if (strategy === 'rebase' && key)
    await trackQuery(db, `checking keys of ${theirs.path}`, onProgress, () =>
      assertUniqueKeys(db, ours, theirs, key, theirsRows),
    )
  const plan =
    key && key.length > 0
      ? await planKeyMatch(db, {
          strategy,
          key,
          ours,
          theirs,
          theirsSql: readParquetSql(theirs),
          schema,
          rowsBefore,
        }).catch((error: unknown) => {
          throw readFailure(error, ours, theirs)
        })
      : noKeyRange
  if (strategy === 'rebase' && key && schema.retyped.length > 0)
    await trackQuery(db, 'checking retyped values', onProgress, () =>
      assertKeptValuesConvert(db, ours, theirs, key, plan, schema.retyped),
    )
  const rowsAfter = options.dryRun
    ? rowsBefore + theirsRows - (await countMatches({ ...job, schema }, plan))
    : await writeOutput({ ...job, schema }, plan)
  const figures =
    strategy === 'merge'
      ? merged(rowsBefore, theirsRows, rowsAfter)
      : rebased(rowsBefore, theirsRows, rowsAfter)
  return { figures, columnsAdded: schema.added, schema }
}

/**
 * Dry run: the rows the write would drop. Merge: theirs rows whose key ours has (skipped).
 * Rebase: ours rows whose key theirs has (replaced).
 */
async function countMatches(
  { db, strategy, options, key, ours, theirs, schema }: Job & { schema: UnionSchema },
  plan: KeyPlan,
): Promise<number> {
  if (!key || key.length === 0) return 0
  const counted = strategy === 'merge' ? 'theirs' : 'ours'
  const oursSql = retypedQuery(readParquetSql(ours), schema.retyped)
  const query = matchCountQuery(oursSql, readParquetSql(theirs), key, counted, plan)
  const row = await trackQuery(db, 'matching keys', options.onProgress, () =>
    db.one<{ n: bigint }>(query),
  ).catch((error: unknown) => {
    throw readFailure(error, ours, theirs)
  })
  return Number(row?.n ?? 0)
}

/** Streams the result into a temporary path beside the output, then renames it; rows written. */
async function writeOutput(
  { db, strategy, options, key, ours, theirs, partitionBy, schema }: Job & { schema: UnionSchema },
  plan: KeyPlan,
): Promise<number> {
  const oursSql = retypedQuery(readParquetSql(ours), schema.retyped)
  const theirsSql = readParquetSql(theirs)
  const query =
    strategy === 'merge'
      ? mergeQuery(oursSql, theirsSql, key, plan)
      : rebaseQuery(oursSql, theirsSql, key ?? [], plan)
  const compression = options.compression ?? 'zstd'
  return writeAtomically(
    options.output,
    (temp) =>
      trackQuery(db, `writing ${options.output}`, options.onProgress, () =>
        copyToParquet(db, query, temp, { compression, partitionBy }),
      ).catch((error: unknown) => {
        throw writeFailure(error, temp, options.output, ours, theirs)
      }),
    options.signal,
  )
}

type Figures = Pick<
  TableReport,
  'rowsBefore' | 'rowsInserted' | 'rowsReplaced' | 'rowsSkipped' | 'rowsAfter'
>

/** Merge: rowsAfter = rowsBefore + rowsInserted; rowsInserted + rowsSkipped = theirs rows. */
function merged(rowsBefore: number, theirsRows: number, rowsAfter: number): Figures {
  const rowsInserted = rowsAfter - rowsBefore
  return {
    rowsBefore,
    rowsInserted,
    rowsReplaced: 0,
    rowsSkipped: theirsRows - rowsInserted,
    rowsAfter,
  }
}

/** Rebase: every theirs row is inserted; rowsAfter = rowsBefore - rowsReplaced + rowsInserted. */
function rebased(rowsBefore: number, theirsRows: number, rowsAfter: number): Figures {
  return {
    rowsBefore,
    rowsInserted: theirsRows,
    rowsReplaced: rowsBefore + theirsRows - rowsAfter,
    rowsSkipped: 0,
    rowsAfter,
  }
}

function validate(
  strategy: Strategy,
  options: DataMergeOptions,
  key: readonly string[] | undefined,
): void {
  const issues: string[] = []
  if (strategy === 'rebase' && (!key || key.length === 0))
    issues.push('rebase needs at least one key column')
  if (key?.some((k) => k === '')) issues.push('key column names must not be empty')
  if (options.partitionBy?.some((c) => c === ''))
    issues.push('partition column names must not be empty')
  if (options.compression !== undefined && !compressions.includes(options.compression))
    issues.push(
      `compression must be one of ${compressions.join(', ')}, got "${String(options.compression)}"`,
    )
  for (const [name, value] of [
    ['ours', options.ours],
    ['theirs', options.theirs],

    ['output', options.output],
  ] as const)
    if (typeof value !== 'string' || value === '') issues.push(`${name} path must not be empty`)
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Invalid data ${strategy}: ${issues.join('; ')}.`,
      {
        issues: issues.map((message) => ({ message })),
      },
    )
}
