/** CLI commands: duckmerge model merge | promote | rollback | list | prune */
import { promises as fs } from 'node:fs'
import { resolve } from 'node:path'
import { DuckmergeError, messageOf } from '../../errors.js'
import { type MetricValue, metricsSchema } from '../../formats/model/registry-file.js'
import { listModels, type ModelListing, mergeModel } from '../../merge/model.js'
import { type ModelPromoteReport, promoteModel, rollbackModel } from '../../merge/model-promote.js'
import { pruneModels } from '../../merge/model-prune.js'
import {
  type Command,
  flag,
  intOption,
  requiredString,
  stringOption,
  usageError,
} from '../command.js'
import { formatTable } from '../output.js'

const modelsOption = { models: { type: 'string' } } as const

export const modelCommands: readonly Command[] = [
  {
    path: ['model', 'merge'],
    summary: 'Keep a model file as a candidate (merge accumulates)',
    usage: '--exp FILE --run-id ID [--models DIR] [--metrics JSON|FILE] [--dry-run]',
    options: {
      ...modelsOption,
      exp: { type: 'string' },
      'run-id': { type: 'string' },
      metrics: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    async run({ values, cwd, signal }) {
      const metricsText = stringOption(values, 'metrics')
      const report = await mergeModel({
        signal,
        exp: requiredString(values, 'exp'),
        runId: requiredString(values, 'run-id'),
        ...modelsDir(values),
        ...(metricsText !== undefined ? { metrics: await parseMetrics(metricsText, cwd) } : {}),
        dryRun: flag(values, 'dry-run'),
      })
      const c = report.candidate
      const verb = report.dryRun ? 'would register' : 'registered'
      const text = report.changed
        ? `${verb} candidate ${c.id} (sha256 ${short(c.sha256)}, ${formatBytes(c.size)}) → ${report.path}${report.dryRun ? '\ndry run: nothing written' : ''}`
        : `candidate ${c.id} is already registered with this file: nothing changed`
      return { report, text }
    },
  },
  {
    path: ['model', 'promote'],
    summary: 'Make a model the production model (rebase replaces); the old one stays in the store',
    usage:
      '(--exp FILE | --candidate ID | --best METRIC [--min]) [--name FILE] [--models DIR] [--dry-run]\n\nThe production model is DIR/production/model<ext> (e.g. models/production/model.bin) whichever\ncandidate wins; --name chooses another file name. `model list` shows which candidate it is.',
    options: {
      ...modelsOption,
      exp: { type: 'string' },
      candidate: { type: 'string' },
      best: { type: 'string' },
      min: { type: 'boolean' },
      name: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    async run({ values, signal }) {
      const exp = stringOption(values, 'exp')
      const candidate = stringOption(values, 'candidate')
      const best = stringOption(values, 'best')
      if ([exp, candidate, best].filter((v) => v !== undefined).length !== 1)
        throw usageError('pass exactly one of --exp FILE, --candidate ID or --best METRIC')
      if (flag(values, 'min') && best === undefined) throw usageError('--min only goes with --best')
      const report = await promoteModel({
        ...modelsDir(values),
        ...(exp !== undefined ? { exp } : {}),
        ...(candidate !== undefined ? { candidate } : {}),
        ...(best !== undefined ? { best, minimize: flag(values, 'min') } : {}),
        ...(stringOption(values, 'name') !== undefined
          ? { name: stringOption(values, 'name') as string }
          : {}),
        dryRun: flag(values, 'dry-run'),
        signal,
      })
      return { report, text: formatPromotion(report) }
    },
  },
  {
    path: ['model', 'rollback'],
    summary: 'Restore the production model the last promotion replaced',
    usage: '[--models DIR]',
    options: modelsOption,
    async run({ values }) {
      const report = await rollbackModel(modelsDir(values))
      return { report, text: formatPromotion(report) }
    },
  },
  {
    path: ['model', 'list'],
    summary: 'Show the production model, candidates and promotion history',
    usage: '[--models DIR]',
    options: modelsOption,
    async run({ values }) {
      const report = await listModels(modelsDir(values))
      return { report, text: formatListing(report) }
    },
  },
  {
    path: ['model', 'prune'],
    summary: 'Remove all candidates but the K best by a metric (never the production one)',
    usage: '--keep K --metric M [--min] [--dry-run] [--models DIR]',
    options: {
      ...modelsOption,
      keep: { type: 'string' },
      metric: { type: 'string' },
      min: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    async run({ values }) {
      const keep = intOption(values, 'keep', 0)
      if (keep === undefined) throw usageError('missing required --keep')
      const report = await pruneModels({
        ...modelsDir(values),
        keep,
        metric: requiredString(values, 'metric'),
        minimize: flag(values, 'min'),
        dryRun: flag(values, 'dry-run'),
      })
      const verb = report.dryRun ? 'would remove' : 'removed'
      const lines = [
        `kept ${report.kept.length}: ${report.kept.join(', ') || '(none)'}`,
        `${verb} ${report.removed.length}: ${report.removed.join(', ') || '(none)'} (${formatBytes(report.bytesFreed)})`,
      ]
      if (report.protected.length > 0)
        lines.push(`kept because in production: ${report.protected.join(', ')}`)
      if (report.dryRun) lines.push('dry run: nothing removed')
      return { report, text: lines.join('\n') }
    },
  },
]

function modelsDir(values: Parameters<typeof stringOption>[0]): { models?: string } {
  const models = stringOption(values, 'models')
  return models !== undefined ? { models } : {}
}

/**
 * `--metrics` is a JSON object (`'{"accuracy": 0.9}'`) or the path of a JSON file holding one.
 */
export async function parseMetrics(
  value: string,
  cwd: string,
): Promise<Record<string, MetricValue>> {
  let text = value
  let where = '--metrics'
  if (!value.trimStart().startsWith('{')) {
    where = `metrics file ${value}`
    try {
      text = await fs.readFile(resolve(cwd, value), 'utf8')
    } catch (error) {
      throw new DuckmergeError(
        'INPUT_NOT_FOUND',
        `--metrics is neither a JSON object nor a readable file: ${value} (${messageOf(error)}).`,
        { path: value },
      )
    }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw usageError(`${where} is not valid JSON: ${messageOf(error)}`)
  }
  const parsed = metricsSchema.safeParse(json)
  if (!parsed.success)
    throw usageError(
      `${where} must be a JSON object of numbers, strings, booleans or null, like {"accuracy": 0.93}`,
    )
  return parsed.data
}

function formatPromotion(report: ModelPromoteReport): string {
  const p = report.production
  const name = p.candidateId ?? p.fileName
  if (!report.changed) return `${name} already is the production model: nothing changed`
  const verb =
    report.strategy === 'rollback' ? 'rolled back to' : report.dryRun ? 'would promote' : 'promoted'
  const lines = [`${verb} ${name} (sha256 ${short(p.sha256)}) → ${report.path}`]
  if (report.replaced)
    lines.push(
      `  ${report.dryRun ? 'would replace' : 'replaced'} ${report.replaced.candidateId ?? report.replaced.fileName} (sha256 ${short(report.replaced.sha256)}), kept in ${report.models}/store/${report.replaced.sha256}`,
    )
  if (report.dryRun) lines.push('dry run: nothing written')
  return lines.join('\n')
}

function formatListing(listing: ModelListing): string {
  const p = listing.production
  const lines = [
    `production: ${p ? `${p.candidateId ?? p.fileName} (sha256 ${short(p.sha256)}, promoted ${p.promotedAt})` : '(none)'}`,
    '',
    `candidates (${listing.candidates.length}):`,
  ]
  const metricNames = [...new Set(listing.candidates.flatMap((c) => Object.keys(c.metrics)))]
  lines.push(
    formatTable(
      listing.candidates.map((c) => ({
        production: c.isProduction ? '*' : '',
        id: c.id,
        run_id: c.runId,
        size: formatBytes(c.size),
        sha256: short(c.sha256),
        ...Object.fromEntries(metricNames.map((m) => [m, c.metrics[m] ?? null])),
        registered: c.registeredAt,
      })),
    ),
    '',
    `history (${listing.history.length}):`,
    formatTable(
      listing.history.map((h) => ({
        at: h.at,
        action: h.action,
        model: h.model.candidateId ?? h.model.fileName,
        sha256: short(h.model.sha256),
        replaced: h.replaced ? (h.replaced.candidateId ?? h.replaced.fileName) : '',
      })),
    ),
  )
  if (listing.rollbackTo)
    lines.push(
      '',
      `model rollback would restore ${listing.rollbackTo.candidateId ?? listing.rollbackTo.fileName} (sha256 ${short(listing.rollbackTo.sha256)})`,
    )
  return lines.join('\n')
}

function short(sha256: string): string {
  return `${sha256.slice(0, 12)}…`
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`
}
