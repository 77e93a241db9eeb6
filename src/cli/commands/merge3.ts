/** CLI command: duckmerge merge3 (three-way merge of results databases and Parquet files). */
import { DuckmergeError } from '../../errors.js'
import { type Merge3Report, merge3, readResolutions } from '../../merge/merge3.js'
import type { Conflict } from '../../merge/three-way-types.js'
import { type Command, listOption, requiredString, stringOption, usageError } from '../command.js'

const merge3Command: Command = {
  path: ['merge3'],
  summary:
    'Three-way merge of results databases (SQLite/DuckDB, every table) or Parquet files/datasets from their common ancestor; conflicts (same cell changed differently, delete vs update) stop it with nothing written',
  usage:
    '--base ANCESTOR --ours OURS --theirs THEIRS [--output OUT] [--key COLS] [--rule cell|row] [--take ours|theirs] [--resolutions FILE] [--json]',
  options: {
    base: { type: 'string' },
    ours: { type: 'string' },
    theirs: { type: 'string' },
    output: { type: 'string' },
    key: { type: 'string', multiple: true },
    rule: { type: 'string' },
    take: { type: 'string' },
    resolutions: { type: 'string' },
  },
  async run({ values }) {
    const rule = stringOption(values, 'rule')
    if (rule !== undefined && rule !== 'cell' && rule !== 'row')
      throw usageError(`--rule must be cell or row, not "${rule}"`)
    const take = stringOption(values, 'take')
    if (take !== undefined && take !== 'ours' && take !== 'theirs')
      throw usageError(`--take must be ours or theirs, not "${take}"`)
    const key = listOption(values, 'key')
    const output = stringOption(values, 'output')
    const resolutionsFile = stringOption(values, 'resolutions')
    const report = await merge3({
      base: requiredString(values, 'base'),
      ours: requiredString(values, 'ours'),
      theirs: requiredString(values, 'theirs'),
      ...(output ? { output } : {}),
      ...(key ? { key } : {}),
      ...(rule ? { rule } : {}),
      ...(take ? { take } : {}),
      ...(resolutionsFile ? { resolutions: await readResolutions(resolutionsFile) } : {}),
    })
    if (report.hasConflicts) throw conflictError(report)
    return { report, text: formatMerge3(report) }
  },
}

export const merge3Commands: readonly Command[] = [merge3Command]

/** MERGE_CONFLICT with the report (and its conflicts) in details, nothing written. */
export function conflictError(report: Merge3Report): DuckmergeError {
  const first = report.conflicts[0]
  return new DuckmergeError(
    'MERGE_CONFLICT',
    `${report.conflictCount} conflict(s) merging ${report.theirs} into ${report.ours}${first ? ` (first: ${describeConflict(first)})` : ''}; nothing was written. Settle them with --take ours|theirs or --resolutions FILE.`,
    { ...report },
  )
}

export function describeConflict(c: Conflict): string {
  const key = 'key' in c ? JSON.stringify(c.key) : ''
  switch (c.kind) {
    case 'cell':
    case 'add-add':
      return `${c.table} ${key} ${c.column}: base ${JSON.stringify(c.base)}, ours ${JSON.stringify(c.ours)}, theirs ${JSON.stringify(c.theirs)}`
    case 'delete-update':
      return `${c.table} ${key}: deleted in ${c.deletedIn}, changed in the other`
    case 'row':
      return `${c.table} ${key}: row changed differently on both sides`
    case 'column-type':
      return `${c.table} column ${c.column}: type ${c.ours} in ours, ${c.theirs} in theirs`
  }
}

export function formatMerge3(report: Merge3Report): string {
  const lines = report.tables.map((t) =>
    t.action === 'merged'
      ? `  ${t.table} (key ${t.key.join(', ')}): ours +${t.ours?.added}/-${t.ours?.deleted}/~${t.ours?.changed}, theirs +${t.theirs?.added}/-${t.theirs?.deleted}/~${t.theirs?.changed}; wrote ${t.upserts} row(s), deleted ${t.deletes}`
      : `  ${t.table}: ${t.action}`,
  )
  return `Merged ${report.theirs} into ${report.ours} from ${report.base} → ${report.output} (${report.durationMs} ms)\n${lines.join('\n')}`
}
