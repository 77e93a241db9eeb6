/**
 * Merge and rebase of results databases (SQLite files as experiment trackers write them, DuckDB
 * files): resolves the files, then runs the table strategies over one connection.
 *
 *   check inputs → open session (ours or a temp copy of it, theirs attached read-only; theirs of the
 *     other engine: its tables copied into the session's scratch schema first)
 *     → plan every table (key, schema; errors before any write)
 *     → dry run: count │ else: one transaction: alter/create, insert/delete per table → commit
 *     → close (checkpoint) → with --output: rename temp onto OUT
 */
import { stat } from 'node:fs/promises'
import type { Session } from '../engine/dialect.js'
import {
  assertExists,
  type FileFormat,
  isSamePath,
  sniffFormat,
  writeAtomically,
} from '../engine/files.js'
import { onAbort, safePoint } from '../engine/interrupt.js'
import { DuckmergeError, isDuckmergeError, messageOf } from '../errors.js'
import { duckdbResultsFormat } from '../formats/duckdb/results-session.js'
import { sqliteResultsFormat } from '../formats/sqlite/results-session.js'
import type { ProgressCallback } from '../progress.js'
import { type MergeReport, type Strategy, type TableReport, totals } from './report.js'
import { interrupted, wrapEngineError } from './results-errors.js'
import { selectTables, stageTables } from './results-stage.js'
import { chooseKey, type SideNames } from './table-key.js'
import { runTable, type TableJob } from './table-plan.js'
import { applySchema, planSchema } from './table-schema.js'

export interface ResultsMergeOptions {
  /** SQLite or DuckDB file. */
  readonly ours: string
  readonly theirs: string
  /** Omitted (or equal to ours): ours changes in place, in one transaction. */
  readonly output?: string
  /** Default: every table of theirs. */
  readonly tables?: readonly string[]
  /** Default (merge): the table's primary key, else all shared columns. */
  readonly key?: readonly string[]
  readonly dryRun?: boolean
  readonly onProgress?: ProgressCallback
  /**
   * Aborting stops at the next statement (DuckDB: the running one is interrupted); the call
   * fails with INTERRUPTED, the transaction is rolled back and no output appears.
   */
  readonly signal?: AbortSignal
}

export type ResultsRebaseOptions = ResultsMergeOptions & { readonly key: readonly string[] }

/**
 * Merge accumulates: appends theirs' rows whose key ours lacks, adds theirs' new columns and tables;
 * nothing in ours is overwritten or lost. Merging the same theirs twice changes nothing.
 *
 * @example
 * const report = await mergeResults({ ours: 'results.db', theirs: 'sweep.db' })
 * report.rowsInserted // 60
 */
export function mergeResults(options: ResultsMergeOptions): Promise<MergeReport> {
  return run('merge', options)
}

/**
 * Rebase replaces: deletes ours rows whose key appears in theirs (NULL matching NULL), then
 * inserts every theirs row, in one transaction.
 *
 * @example
 * await rebaseResults({ ours: 'results.db', theirs: 'rerun.db', key: ['experiment_version'] })
 */
export function rebaseResults(options: ResultsRebaseOptions): Promise<MergeReport> {
  if (options.key.length === 0)
    throw new DuckmergeError('USAGE', 'rebase needs key columns', {
      hint: 'Name the columns that identify a row in {key}.',
    })
  return run('rebase', options)
}

type Engine = Extract<FileFormat, 'sqlite' | 'duckdb'>

/** Per file format: open a session, copy a file, the journals that may sit beside one. */
const FORMATS = { sqlite: sqliteResultsFormat, duckdb: duckdbResultsFormat } as const

async function run(strategy: Strategy, options: ResultsMergeOptions): Promise<MergeReport> {
  try {
    return await runUnchecked(strategy, options)
  } catch (error) {
    throw await nameDamagedInput(error, options)
  }
}

/**
 * An engine that meets a damaged page mid-merge ("database disk image is malformed", a block
 * checksum mismatch) does not say which file it was reading. Each input is then checked (theirs
 * first: it is the one most often copied in from elsewhere), and the error names the damaged one.
 */
async function nameDamagedInput(error: unknown, options: ResultsMergeOptions): Promise<unknown> {
  const cause = isDuckmergeError(error, 'INTERNAL') ? error.cause : error
  if (!/malformed|corrupt|damaged|not a database|checksum/i.test(messageOf(cause))) return error
  for (const [side, path] of [
    ['theirs', options.theirs],
    ['ours', options.ours],
  ] as const) {
    const format = await sniffFormat(path).catch(() => 'unknown')
    const damage =
      format === 'sqlite' || format === 'duckdb'
        ? await FORMATS[format].findDamage(path).catch(() => undefined)
        : undefined
    if (damage !== undefined)
      return new DuckmergeError(
        'INPUT_UNREADABLE',
        `Database ${path} is damaged: ${damage}. Nothing was changed; restore ${path} from a copy or re-create it.`,
        { side, path },
        { cause },
      )
  }
  return error
}

async function runUnchecked(
  strategy: Strategy,
  options: ResultsMergeOptions,
): Promise<MergeReport> {
  const started = performance.now()
  const names: SideNames = { ours: options.ours, theirs: options.theirs }
  await assertExists(options.ours, 'Database', { side: 'ours' })
  await assertExists(options.theirs, 'Database', { side: 'theirs' })
  const engine = await engineOf(options.ours, 'ours')
  const theirsEngine = await engineOf(options.theirs, 'theirs')
  if (await isSamePath(options.ours, options.theirs))
    throw new DuckmergeError(
      'USAGE',
      `${options.ours} and ${options.theirs} are the same file: there is nothing to ${strategy}.`,
      { path: options.ours, hint: 'Give two different databases as {ours} and {theirs}.' },
    )
  const output = options.output ?? options.ours
  const inPlace = await isSamePath(output, options.ours)
  const dryRun = options.dryRun ?? false
  if (!inPlace) await assertReplaceable(output, engine)

  const work = async (target: string, readOnly: boolean) => {
    // Same engine: theirs is attached. Mixed: theirs is opened alone and its tables are copied into
    // ours' scratch schema first (results-stage.ts).
    const mixed = engine !== theirsEngine
    const opened = await open(engine, {
      ours: target,
      theirs: mixed ? undefined : options.theirs,
      readOnly,
      labels: names,
    })
    const session: Session = mixed
      ? {
          ...opened,
          schemas: { ours: opened.schemas.ours, theirs: opened.connection.dialect.scratchSchema },
        }
      : opened
    const { signal } = options
    const off = onAbort(signal, () => session.connection.interrupt())
    let closed = false
    try {
      if (mixed) await stage(session, theirsEngine, options, names)
      const tables = await runTables(session, strategy, options, names, readOnly)
      closed = true
      await session.close()
      return tables
    } catch (error) {
      throw signal?.aborted ? interrupted(error) : error
    } finally {
      off()
      if (!closed) await session.close().catch(() => undefined)
    }
  }

  let tables: TableReport[]
  if (dryRun) tables = await work(options.ours, true)
  else if (inPlace) tables = await work(options.ours, false)
  else
    tables = await writeAtomically(
      output,
      async (temp) => {
        await FORMATS[engine].copy(options.ours, temp)
        return work(temp, false)
      },
      options.signal,
    )

  return {
    strategy,
    dryRun,
    ours: options.ours,
    theirs: options.theirs,
    output,
    ...totals(tables),
    durationMs: Math.round(performance.now() - started),
    tables,
  }
}

/**
 * OUT may be replaced only when it is a plain file with no journal beside it: a leftover
 * `-wal`/`-journal` (SQLite) or `.wal` (DuckDB) would be replayed into the new file on its next
 * open, and replacing a folder would delete it.
 */
async function assertReplaceable(output: string, engine: Engine): Promise<void> {
  const existing = await stat(output).catch(() => undefined)
  if (existing?.isDirectory())
    throw new DuckmergeError('OUTPUT_UNWRITABLE', `Cannot write ${output}: it is a folder.`, {
      path: output,
      hint: 'Give the path of a database file as {output}.',
    })
  for (const suffix of FORMATS[engine].journals) {
    const found = await stat(`${output}${suffix}`).catch(() => undefined)
    if (found)
      throw new DuckmergeError(
        'OUTPUT_UNWRITABLE',
        `Cannot replace ${output}: ${output}${suffix} exists, so a program has it open or did not close it cleanly. Close that program (or open and close ${output} once).`,
        { path: output, hint: 'Or choose another {output}.' },
      )
  }
}

async function engineOf(path: string, side: 'ours' | 'theirs'): Promise<Engine> {
  const format = await sniffFormat(path)
  if (format === 'sqlite' || format === 'duckdb') return format
  throw new DuckmergeError(
    'INPUT_UNREADABLE',
    `${path} is not a SQLite or DuckDB file (${format === 'unknown' ? 'unrecognised header' : `it is ${format}`}). Pass a results database.`,
    { side, path, format },
  )
}

/** Copies theirs' tables (another engine's file) into the session's scratch schema. */
async function stage(
  session: Session,
  theirsEngine: Engine,
  options: ResultsMergeOptions,
  names: SideNames,
): Promise<void> {
  const source = await open(theirsEngine, { ours: options.theirs, readOnly: true })
  try {
    await stageTables({
      source: source.connection,
      sourceSchema: source.schemas.ours,
      target: session.connection,
      oursSchema: session.schemas.ours,
      tables: options.tables,
      names,
      onProgress: options.onProgress,
      signal: options.signal,
    })
  } catch (error) {
    if (isDuckmergeError(error)) throw error
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot copy ${names.theirs} (${theirsEngine}) into ${names.ours} (${session.connection.dialect.name}): ${messageOf(error)}. A value does not fit the column type it was given.`,
      {
        side: 'theirs',
        file: names.theirs,
        hint: 'Leave the table out of {tables}, or convert the file first.',
      },

      { cause: error },
    )
  } finally {
    await source.close()
  }
}

function open(
  engine: Engine,
  options: {
    ours: string
    theirs?: string | undefined
    readOnly: boolean
    labels?: { ours: string; theirs?: string | undefined }
  },
): Promise<Session> {
  return FORMATS[engine].open(options)
}

/** Plans every table first (so a bad key or type stops before any write), then runs them. */
async function runTables(
  session: Session,
  strategy: Strategy,
  options: ResultsMergeOptions,
  names: SideNames,
  dryRun: boolean,
): Promise<TableReport[]> {
  const { connection, schemas } = session
  const selected = selectTables(options.tables, await connection.tables(schemas.theirs), names)

  const jobs: TableJob[] = []
  for (const table of selected) {
    const theirs = await connection.describe(schemas.theirs, table)
    if (!theirs) continue
    const ours = await connection.describe(schemas.ours, table)
    const key = chooseKey({ ours, theirs, override: options.key, names }).columns
    const schema = await planSchema({ connection, schemas, ours, theirs, names })
    jobs.push({ connection, schemas, strategy, ours, theirs, key, schema })
  }

  const runAll = async () => {
    const reports: TableReport[] = []
    for (const [i, job] of jobs.entries()) {
      options.onProgress?.({
        phase: `${strategy} ${job.theirs.name}`,
        done: i,
        total: jobs.length,
        unit: 'tables',
      })
      if (options.signal?.aborted) throw interrupted(undefined)
      try {
        if (!dryRun)
          await applySchema(
            { connection, schemas, ours: job.ours, theirs: job.theirs, names },
            job.schema,
          )
        reports.push(await runTable(job, dryRun))
      } catch (error) {
        throw wrapEngineError(error, { strategy, table: job.theirs.name, names, key: job.key })
      }
    }
    await safePoint(options.signal, 'nothing was written (the transaction was rolled back)')
    options.onProgress?.({ phase: strategy, done: jobs.length, total: jobs.length, unit: 'tables' })
    return reports
  }
  if (dryRun) return runAll()
  try {
    return await connection.transaction(runAll)
  } catch (error) {
    throw wrapEngineError(error, { strategy, names, key: [] })
  }
}
