/**
 * Merge and rebase of Parquet datasets, streamed inside DuckDB: rows never pass through JS.
 * Merge accumulates (every base row, plus exp rows; with a dedup key, exp rows whose key base
 * already has are skipped). Rebase replaces (exp rows, plus base rows no exp row shares a key with).
 *
 *   resolve inputs → check output → union schemas → check keys → count (footers)
 *   → rebase: distinct exp keys = exp rows? → plan key matching (exp key range, base row groups)
 *   → dry run: count matches | COPY … TO temp beside output → rename onto output
 */
import { promises as fs } from 'node:fs'
import { type DuckDb, withDuckDb } from '../engine/duckdb.js'
import { tempPathBeside, writeAtomically } from '../engine/files.js'
import { interruptedError, onAbort, removeOnExit, throwIfInterrupted } from '../engine/interrupt.js'
import { DuckmergeError } from '../errors.js'
import { enableQueryProgress, trackQuery } from '../formats/parquet/progress.js'
import { unionSchema } from '../formats/parquet/schema.js'
import {
  datasetName,
  type ParquetSource,
  readParquetSql,
  resolveParquetSource,
} from '../formats/parquet/source.js'
import { type Compression, compressions, copyToParquet } from '../formats/parquet/write.js'
import type { ProgressCallback } from '../progress.js'
import {
  assertKeyColumns,
  assertPartitionColumns,
  assertUniqueKeys,
  countRows,
  readFailure,
  writeFailure,
} from './data-checks.js'
import { type KeyPlan, noKeyRange, planKeyMatch } from './data-key-range.js'
import { assertOutputUsable } from './data-output.js'
import { matchCountQuery, mergeQuery, rebaseQuery } from './data-sql.js'
import type { MergeReport, Strategy, TableReport } from './report.js'

export type { Compression }

export interface DataMergeOptions {
  /**
   * A Parquet file, a glob, a directory of Parquet files (hive folders become columns), or a
   * Delta table (a folder with `_delta_log`: the rows of its snapshot, never removed files).
   */
  readonly base: string
  readonly exp: string
  /** The version of a Delta base to read; the latest when omitted. */
  readonly baseVersion?: number
  /** The version of a Delta exp to read; the latest when omitted. */
  readonly expVersion?: number
  /** A file, or a directory when `partitionBy` is set. Replaced only when the work succeeds. */
  readonly output: string
  /** Skip exp rows whose key base already has (NULL keys match NULL keys). */
  readonly dedupKey?: readonly string[]
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

export interface DataRebaseOptions extends Omit<DataMergeOptions, 'dedupKey'> {
  /** Exp rows supersede base rows with the same key (NULL keys match NULL keys). */
  readonly key: readonly string[]
}

/**
 * Merges exp into base: every base row is kept, and every exp row (with `dedupKey`, only those
 * whose key base does not have, so merging the same exp twice changes nothing). Columns are
 * unioned by name; a column one side lacks is NULL in its rows.
 *
 * @example
 * const report = await mergeData({ base: 'data/', exp: 'new.parquet', output: 'merged.parquet',
 *   dedupKey: ['id'] })
 * report.rowsInserted // exp rows added; report.rowsSkipped: exp rows whose id base had
 */
export async function mergeData(options: DataMergeOptions): Promise<MergeReport> {
  return runDataJob('merge', options, options.dedupKey)
}

/**
 * Rebases base onto exp: every exp row, plus the base rows whose key no exp row has. Exp must
 * hold at most one row per key, else DUPLICATE_KEY names one repeated key and its row count.
 *
 * @example
 * const report = await rebaseData({ base: 'data/', exp: 'reprocessed/', output: 'out.parquet',
 *   key: ['sample_id'] })
 * report.rowsReplaced // base rows superseded by exp rows with the same sample_id
 */
export async function rebaseData(options: DataRebaseOptions): Promise<MergeReport> {
  return runDataJob('rebase', options, options.key)
}

async function runDataJob(
  strategy: Strategy,
  options: Omit<DataMergeOptions, 'dedupKey'>,
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
          const base = await resolveParquetSource(options.base, 'base', {
            db,
            ...version(options.baseVersion),
          })
          const exp = await resolveParquetSource(options.exp, 'exp', {
            db,
            ...version(options.expVersion),
          })
          await assertOutputUsable(options.output, [base, exp], partitionBy.length > 0)
          throwIfInterrupted(signal)
          const job: Job = { db, strategy, options, key, base, exp, partitionBy }
          const { figures, columnsAdded } = await execute(job)
          const table: TableReport = { table: datasetName(base), ...figures, columnsAdded }
          return {
            strategy,
            dryRun: options.dryRun ?? false,
            base: options.base,
            exp: options.exp,
            output: options.output,
            ...figures,
            columnsAdded,
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
  readonly options: Omit<DataMergeOptions, 'dedupKey'>
  readonly key: readonly string[] | undefined
  readonly base: ParquetSource
  readonly exp: ParquetSource
  readonly partitionBy: readonly string[]
}

/** Checks schemas and keys, then computes the figures (dry run) or writes the output. */
async function execute(job: Job): Promise<{ figures: Figures; columnsAdded: readonly string[] }> {
  const { db, strategy, options, key, base, exp } = job
  const { onProgress } = options
  if (onProgress) await enableQueryProgress(db)
  const schema = await unionSchema(db, base, exp)
  if (key) assertKeyColumns(strategy, key, base, exp, schema)
  assertPartitionColumns(job.partitionBy, schema)
  const rowsBefore = await countRows(db, base)
  const expRows = await countRows(db, exp)
  if (strategy === 'rebase' && key)
    await trackQuery(db, `checking keys of ${exp.path}`, onProgress, () =>
      assertUniqueKeys(db, base, exp, key, expRows),
    )
  const plan =
    key && key.length > 0
      ? await planKeyMatch(db, {
          strategy,
          key,
          base,
          exp,
          expSql: readParquetSql(exp),
          schema,
          rowsBefore,
        }).catch((error: unknown) => {
          throw readFailure(error, base, exp)
        })
      : noKeyRange
  const rowsAfter = options.dryRun
    ? rowsBefore + expRows - (await countMatches(job, plan))
    : await writeOutput(job, plan)
  const figures =
    strategy === 'merge'
      ? merged(rowsBefore, expRows, rowsAfter)
      : rebased(rowsBefore, expRows, rowsAfter)
  return { figures, columnsAdded: schema.added }
}

/**
 * Dry run: the rows the write would drop. Merge: exp rows whose key base has (skipped).
 * Rebase: base rows whose key exp has (replaced).
 */
async function countMatches(
  { db, strategy, options, key, base, exp }: Job,
  plan: KeyPlan,
): Promise<number> {
  if (!key || key.length === 0) return 0
  const counted = strategy === 'merge' ? 'exp' : 'base'
  const query = matchCountQuery(readParquetSql(base), readParquetSql(exp), key, counted, plan)
  const row = await trackQuery(db, 'matching keys', options.onProgress, () =>
    db.one<{ n: bigint }>(query),
  ).catch((error: unknown) => {
    throw readFailure(error, base, exp)
  })
  return Number(row?.n ?? 0)
}

/** Streams the result into a temporary path beside the output, then renames it; rows written. */
async function writeOutput(
  { db, strategy, options, key, base, exp, partitionBy }: Job,
  plan: KeyPlan,
): Promise<number> {
  const baseSql = readParquetSql(base)
  const expSql = readParquetSql(exp)
  const query =
    strategy === 'merge'
      ? mergeQuery(baseSql, expSql, key, plan)
      : rebaseQuery(baseSql, expSql, key ?? [], plan)
  const compression = options.compression ?? 'zstd'
  return writeAtomically(
    options.output,
    (temp) =>
      trackQuery(db, `writing ${options.output}`, options.onProgress, () =>
        copyToParquet(db, query, temp, { compression, partitionBy }),
      ).catch((error: unknown) => {
        throw writeFailure(error, temp, options.output, base, exp)
      }),
    options.signal,
  )
}

type Figures = Pick<
  TableReport,
  'rowsBefore' | 'rowsInserted' | 'rowsReplaced' | 'rowsSkipped' | 'rowsAfter'
>

/** Merge: rowsAfter = rowsBefore + rowsInserted; rowsInserted + rowsSkipped = exp rows. */
function merged(rowsBefore: number, expRows: number, rowsAfter: number): Figures {
  const rowsInserted = rowsAfter - rowsBefore
  return {
    rowsBefore,
    rowsInserted,
    rowsReplaced: 0,
    rowsSkipped: expRows - rowsInserted,
    rowsAfter,
  }
}

/** Rebase: every exp row is inserted; rowsAfter = rowsBefore - rowsReplaced + rowsInserted. */
function rebased(rowsBefore: number, expRows: number, rowsAfter: number): Figures {
  return {
    rowsBefore,
    rowsInserted: expRows,
    rowsReplaced: rowsBefore + expRows - rowsAfter,
    rowsSkipped: 0,
    rowsAfter,
  }
}

function validate(
  strategy: Strategy,
  options: Omit<DataMergeOptions, 'dedupKey'>,
  key: readonly string[] | undefined,
): void {
  const issues: string[] = []
  if (strategy === 'rebase' && (!key || key.length === 0))
    issues.push('rebase needs at least one key column (--key)')
  if (key?.some((k) => k === '')) issues.push('key column names must not be empty')
  if (options.partitionBy?.some((c) => c === ''))
    issues.push('partition column names must not be empty')
  if (options.compression !== undefined && !compressions.includes(options.compression))
    issues.push(
      `compression must be one of ${compressions.join(', ')}, got "${String(options.compression)}"`,
    )
  for (const [name, value] of [
    ['base', options.base],
    ['exp', options.exp],
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
