/** CLI commands: duckmerge results merge | rebase (SQLite and DuckDB results databases). */

import { formatMergeReport } from '../../merge/report.js'
import { mergeResults, type ResultsMergeOptions, rebaseResults } from '../../merge/results.js'
import {
  type Command,
  type CommandContext,
  flag,
  listOption,
  multiOption,
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
  table: { type: 'string', multiple: true },
  key: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
}

const usage = '--base BASE --exp EXP [--output OUT] [--table NAME]... [--dry-run] [--json]'

const merge: Command = {
  path: ['results', 'merge'],
  summary:
    'Merge results databases (SQLite/DuckDB): add exp rows whose key base lacks, and new columns/tables',
  usage: usage.replace('[--dry-run]', '[--key COLS] [--dry-run]'),
  options: common,
  hintFlags: { tables: 'table', ...sideFlags },
  async run(context) {
    const report = await mergeResults({ ...options(context), signal: context.signal })
    return { report: mergeReportJson(report), text: formatMergeReport(report) }
  },
}

const rebase: Command = {
  path: ['results', 'rebase'],
  summary: 'Rebase results databases: exp rows replace base rows with the same --key',
  usage: usage.replace('[--output OUT]', '--key COLS [--output OUT]'),
  options: common,
  hintFlags: { tables: 'table', ...sideFlags },
  async run(context) {
    const key = listOption(context.values, 'key')
    if (!key) throw usageError('missing required --key (the columns that identify a row)')
    const report = await rebaseResults({ ...options(context), key, signal: context.signal })
    return { report: mergeReportJson(report), text: formatMergeReport(report) }
  },
}

export const resultsCommands: readonly Command[] = [merge, rebase]

function options(context: CommandContext): ResultsMergeOptions {
  const { values } = context
  const output = stringOption(values, 'output')
  if (output === '') throw usageError('--output needs a path')
  const tables = multiOption(values, 'table')
  const key = listOption(values, 'key')
  return {
    ours: requiredString(values, 'base'),
    theirs: requiredString(values, 'exp'),
    dryRun: flag(values, 'dry-run'),
    ...(output !== undefined ? { output } : {}),
    ...(tables.length > 0 ? { tables } : {}),
    ...(key ? { key } : {}),
    ...(context.progress ? { onProgress: context.progress } : {}),
  }
}
