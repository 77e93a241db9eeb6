/** CLI commands: duckmerge data merge | rebase (Parquet datasets). */

import { type Compression, compressions } from '../../formats/parquet/write.js'
import { type DataMergeOptions, mergeData, rebaseData } from '../../merge/data.js'
import { formatMergeReport } from '../../merge/report.js'
import {
  type Command,
  type CommandContext,
  flag,
  intOption,
  listOption,
  type OptionSpecs,
  requiredString,
  stringOption,
  usageError,
} from '../command.js'
import { mergeReportJson, sideFlags } from '../merge-report-json.js'

const common: OptionSpecs = {
  base: { type: 'string' },
  exp: { type: 'string' },
  output: { type: 'string' },
  'partition-by': { type: 'string', multiple: true },
  compression: { type: 'string' },
  'memory-limit': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'base-version': { type: 'string' },
  'exp-version': { type: 'string' },
}

const commonUsage =
  '--base PATH --exp PATH --output OUT [--base-version N] [--exp-version N] [--partition-by COLS] [--compression zstd|snappy|gzip|uncompressed] [--memory-limit SIZE] [--dry-run] [--json]'

const help =
  'PATH is a Parquet file, a glob, a folder of Parquet files (key=value folders become columns), or a Delta table (a folder with _delta_log): a Delta table is read at its latest version, or at --base-version / --exp-version N, with the rows its log removed left out.'

/** The library's per-side version fields, as this command's flags (for hints). */
const versionFlags = { oursVersion: 'base-version', theirsVersion: 'exp-version' }

const merge: Command = {
  path: ['data', 'merge'],
  summary:
    'Merge Parquet datasets: keep every base row, add exp rows (skip known keys with --dedup-key)',
  usage: commonUsage.replace('--output OUT', '--output OUT [--dedup-key COLS]'),
  options: { ...common, 'dedup-key': { type: 'string', multiple: true } },
  help,
  hintFlags: { ...sideFlags, ...versionFlags, key: 'dedup-key' },
  async run(context) {
    const key = listOption(context.values, 'dedup-key')
    const report = await mergeData({ ...commonOptions(context), ...(key ? { key } : {}) })
    return { report: mergeReportJson(report), text: formatMergeReport(report) }
  },
}

const rebase: Command = {
  path: ['data', 'rebase'],
  summary:
    "Rebase Parquet datasets: exp rows replace base rows with the same --key; a column whose type changed takes exp's type",
  usage: commonUsage.replace('--output OUT', '--output OUT --key COLS'),
  options: { ...common, key: { type: 'string', multiple: true } },
  help,
  hintFlags: { ...sideFlags, ...versionFlags },
  async run(context) {
    const key = listOption(context.values, 'key')
    if (!key) throw usageError('missing required --key (the columns that identify a row)')
    const report = await rebaseData({ ...commonOptions(context), key })
    return { report: mergeReportJson(report), text: formatMergeReport(report) }
  },
}

export const dataCommands: readonly Command[] = [merge, rebase]

function commonOptions(context: CommandContext): DataMergeOptions {
  const { values } = context
  const partitionBy = listOption(values, 'partition-by')
  const compression = stringOption(values, 'compression')
  if (compression !== undefined && !compressions.includes(compression as Compression))
    throw usageError(
      `--compression must be one of ${compressions.join(', ')}, got "${compression}"`,
    )
  const baseVersion = intOption(values, 'base-version', 0)
  const expVersion = intOption(values, 'exp-version', 0)
  const memoryLimit = stringOption(values, 'memory-limit')
  if (
    memoryLimit !== undefined &&
    !/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(memoryLimit)
  )
    throw usageError(`--memory-limit must be a size like 512MB or 4GB, got "${memoryLimit}"`)
  return {
    ours: requiredString(values, 'base'),
    theirs: requiredString(values, 'exp'),
    output: requiredString(values, 'output'),
    dryRun: flag(values, 'dry-run'),
    signal: context.signal,
    ...(baseVersion !== undefined ? { oursVersion: baseVersion } : {}),
    ...(expVersion !== undefined ? { theirsVersion: expVersion } : {}),
    ...(partitionBy ? { partitionBy } : {}),
    ...(compression ? { compression: compression as Compression } : {}),
    ...(memoryLimit ? { memoryLimit } : {}),
    ...(context.progress ? { onProgress: context.progress } : {}),
  }
}
