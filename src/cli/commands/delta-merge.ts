/** CLI commands: duckmerge delta merge / backfill. */

import { type BackfillReport, backfill } from '../../formats/delta/operations/backfill/backfill.js'
import { type MergeResult, merge } from '../../formats/delta/operations/merge/merge.js'
import {
  type Command,
  flag,
  intOption,
  listOption,
  requiredString,
  stringOption,
  usageError,
  type Values,
} from '../command.js'
import { formatDuration } from '../output.js'

const memoryLimitOption = { 'memory-limit': { type: 'string' } } as const

const deltaMerge: Command = {
  path: ['delta', 'merge'],
  summary: 'MERGE a Delta table or Parquet files INTO a Delta table by key (upsert by default)',
  usage:
    'TARGET --source PATH --on K1,K2 [--when-matched update-all|delete|ignore] [--when-not-matched insert-all|ignore] [--when-not-matched-by-source delete|ignore] [--merge-schema] [--dry-run] [--memory-limit SIZE] [--json]',
  help: [
    'Clauses: with no --when-… flag the merge is an upsert (--when-matched update-all',
    '--when-not-matched insert-all). With any --when-… flag, only the clauses given run: an',
    'omitted one does nothing (ignore), as in SQL MERGE, Spark and delta-rs.',
    '--source: a Delta table, a Parquet file, glob or folder, or a CSV / JSON Lines file.',
    '--merge-schema: add the source columns the table lacks that the clauses write (update-all',
    'or insert-all write every source column; delete writes none), as in Spark.',
    '--dry-run: print the report of what the merge would do (same figures; files and bytes',
    'added are null, known only once written) and write nothing.',
  ].join('\n'),
  positionals: ['TARGET'],
  options: {
    source: { type: 'string' },
    on: { type: 'string', multiple: true },
    'when-matched': { type: 'string' },
    'when-not-matched': { type: 'string' },
    'when-not-matched-by-source': { type: 'string' },
    'merge-schema': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    ...memoryLimitOption,
  },
  hintFlags: { key: 'on' },
  async run(context) {
    const { values } = context
    const target = context.positionals[0] ?? ''
    const source = requiredString(values, 'source')
    const on = listOption(values, 'on')
    if (!on) throw usageError('missing required --on (the key columns that match rows)')
    const { matched, notMatched, bySource } = clausesOf(values)
    const memoryLimit = memoryLimitOf(values)
    let builder = merge(target, source, {
      key: on,
      mergeSchema: flag(values, 'merge-schema'),
      signal: context.signal,
      ...(memoryLimit ? { memoryLimit } : {}),
      ...(context.progress ? { onProgress: context.progress } : {}),
    })
    if (matched === 'update-all') builder = builder.whenMatchedUpdate('all')
    if (matched === 'delete') builder = builder.whenMatchedDelete()
    if (notMatched === 'insert-all') builder = builder.whenNotMatchedInsert('all')
    if (bySource === 'delete') builder = builder.whenNotMatchedBySourceDelete()
    const result = await (flag(values, 'dry-run') ? builder.dryRun() : builder.execute())
    return { report: mergeReport(result), text: mergeText(result) }
  },
}

/**
 * The clause flags: none given is an upsert; once one is given, the others default to ignore
 * (an unwritten clause does nothing, as in SQL).
 */
function clausesOf(values: Values): {
  matched: 'update-all' | 'delete' | 'ignore'
  notMatched: 'insert-all' | 'ignore'
  bySource: 'delete' | 'ignore'
} {
  const names = ['when-matched', 'when-not-matched', 'when-not-matched-by-source']
  const anyGiven = names.some((n) => stringOption(values, n) !== undefined)
  const matched = choice(
    values,
    'when-matched',
    ['update-all', 'delete', 'ignore'],
    anyGiven ? 'ignore' : 'update-all',
  )
  const notMatched = choice(
    values,
    'when-not-matched',
    ['insert-all', 'ignore'],
    anyGiven ? 'ignore' : 'insert-all',
  )
  const bySource = choice(values, 'when-not-matched-by-source', ['delete', 'ignore'], 'ignore')
  if (matched === 'ignore' && notMatched === 'ignore' && bySource === 'ignore')
    throw usageError('every clause is "ignore": nothing to merge')
  return { matched, notMatched, bySource }
}

/** --json of `delta merge`: Spark's metric names at the top level, as numbers. */
function mergeReport(result: MergeResult): Record<string, unknown> {
  return {
    table: result.table,
    version: result.version,
    committed: result.committed,
    dryRun: result.dryRun,
    columnsAdded: result.columnsAdded,
    ...result.metrics,
  }
}

function mergeText(result: MergeResult): string {
  const m = result.metrics
  const head = result.dryRun
    ? `dry run: nothing written to ${result.table} (version ${result.version}); the merge would do:`
    : result.committed
      ? `merged into ${result.table} at version ${result.version}`
      : `nothing changed in ${result.table} (version ${result.version})`
  const added = m.numTargetFilesAdded === null ? '' : `+${m.numTargetFilesAdded} added, `
  const lines = [
    head,
    `  rows: ${m.numSourceRows} source, +${m.numTargetRowsInserted} inserted, ${m.numTargetRowsUpdated} updated, ${m.numTargetRowsDeleted} deleted, ${m.numTargetRowsCopied} copied`,
    `  files: ${added}-${m.numTargetFilesRemoved} removed (${m.numTargetFilesAfterSkipping} of ${m.numTargetFilesBeforeSkipping} read)`,
  ]
  if (result.columnsAdded.length > 0)
    lines.push(`  columns added: ${result.columnsAdded.join(', ')}`)
  lines.push(`  took ${formatDuration(m.executionTimeMs)}`)
  return lines.join('\n')
}

const deltaBackfill: Command = {
  path: ['delta', 'backfill'],
  summary:
    'Insert staging rows whose key main lacks, batch by batch (idempotent), then remove staging',
  usage:
    '--main MAIN --staging STAGING --keys K1,K2 [--batch-rows N] [--archive DIR] [--dry-run] [--memory-limit SIZE] [--json]',
  help: [
    '--dry-run: print the report of what the backfill would do (same counts) and write nothing.',
    'When every batch committed but staging cannot be removed, a warning names the folder, the',
    'report says stagingRemoved: false, and the exit code is 0.',
  ].join('\n'),
  hintFlags: { key: 'keys', ours: 'main', theirs: 'staging' },
  // The batch in flight commits whole or not at all; staging is kept for the next run.
  onInterrupt: 'stopping after the current batch',
  options: {
    main: { type: 'string' },
    staging: { type: 'string' },
    keys: { type: 'string', multiple: true },
    'batch-rows': { type: 'string' },
    archive: { type: 'string' },
    'dry-run': { type: 'boolean' },
    ...memoryLimitOption,
  },
  async run(context) {
    const { values } = context
    const keys = listOption(values, 'keys')
    if (!keys) throw usageError('missing required --keys (the columns that identify a row)')
    const batchRows = intOption(values, 'batch-rows', 1)
    const archive = stringOption(values, 'archive')
    const memoryLimit = memoryLimitOf(values)
    const report = await backfill({
      ours: requiredString(values, 'main'),
      theirs: requiredString(values, 'staging'),
      key: keys,
      signal: context.signal,
      dryRun: flag(values, 'dry-run'),
      ...(batchRows === undefined ? {} : { batchRows }),
      ...(archive === undefined ? {} : { archive }),
      ...(memoryLimit ? { memoryLimit } : {}),
      ...(context.progress ? { onProgress: context.progress } : {}),
      ...(context.json || context.progress
        ? {}
        : {
            onBatch: (b, total) =>
              process.stderr.write(
                `backfill: batch ${b.batch + 1}/${total}: +${b.rowsInserted} inserted, ${b.rowsSkipped} skipped${b.alreadyApplied ? ' (already applied)' : b.version === null ? '' : ` (version ${b.version})`}\n`,
              ),
          }),
    })
    if (report.warning !== undefined) process.stderr.write(`backfill: warning: ${report.warning}\n`)
    return { report, text: backfillText(report) }
  },
}

function backfillText(r: BackfillReport): string {
  if (!r.merged)
    return `nothing to merge: staging ${r.staging} is missing or empty; ${r.main} untouched`
  const lines = [
    r.dryRun
      ? `dry run: nothing written; backfilling ${r.main}${r.created ? ' (would be created)' : ''} from ${r.staging} would do:`
      : `backfilled ${r.main}${r.created ? ' (created)' : ''} from ${r.staging}`,
    `  rows: +${r.rowsInserted} inserted, ${r.rowsSkipped} skipped (key already in main), ${r.duplicatesInStaging} duplicates in staging`,
    `  batches: ${r.batches}; main ${r.dryRun ? 'is' : 'now'} at version ${r.version}`,
    `  staging ${r.stagingAfter}${r.archivedTo ? ` to ${r.archivedTo}` : ''}`,
    `  took ${formatDuration(r.durationMs)}`,
  ]
  return lines.join('\n')
}

/** --memory-limit as DuckDB takes it (512MB, 4GB), checked before DuckDB sees it. */
function memoryLimitOf(values: Values): string | undefined {
  const v = stringOption(values, 'memory-limit')
  if (v !== undefined && !/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(v))
    throw usageError(`--memory-limit must be a size like 512MB or 4GB, got "${v}"`)
  return v
}

function choice<T extends string>(
  values: Values,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = stringOption(values, name)
  if (v === undefined) return fallback
  if (!allowed.includes(v as T))
    throw usageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`)
  return v as T
}

export const deltaMergeCommands: readonly Command[] = [deltaMerge, deltaBackfill]
