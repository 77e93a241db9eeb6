/** CLI command: duckmerge artifacts (results + data + model in one all-or-nothing run, for DVC). */
import { resolve } from 'node:path'
import {
  type ArtifactsOptions,
  type ArtifactsReport,
  type ModelStrategy,
  mergeArtifacts,
} from '../../merge/artifacts.js'
import {
  type ArtifactParams,
  parseModelStrategy,
  readArtifactParams,
} from '../../merge/artifacts-params.js'
import { formatMergeReport, type Strategy } from '../../merge/report.js'
import {
  type Command,
  flag,
  listOption,
  stringOption,
  usageError,
  type Values,
} from '../command.js'
import { artifactsReportJson } from '../merge-report-json.js'
import { formatDuration } from '../output.js'
import { parseMetrics } from './model.js'

const str = { type: 'string' } as const

export const artifactsCommands: readonly Command[] = [
  {
    path: ['artifacts'],
    summary: 'Merge or rebase a results DB, a Parquet dataset and a model in one run (DVC stage)',
    usage:
      '[--strategy merge|rebase] [--params params.yaml] [--key-columns a,b] [--base-db B --exp-db E [--output-db O] [--tables t]] [--base-data B --exp-data E [--output-data O] [--data-strategy S]] [--exp-model FILE --run-id ID [--models DIR] [--model-strategy merge|promote] [--metrics JSON]] [--dry-run]',
    hintFlags: {
      key: 'key-columns',
      'results.ours': 'base-db',
      'results.theirs': 'exp-db',
      'results.output': 'output-db',
      'data.ours': 'base-data',
      'data.theirs': 'exp-data',
      'data.output': 'output-data',
      'model.exp': 'exp-model',
      'model.runId': 'run-id',
    },

    options: {
      strategy: str,
      params: str,
      'key-columns': { type: 'string', multiple: true },
      tables: { type: 'string', multiple: true },
      'base-db': str,
      'exp-db': str,
      'output-db': str,
      'base-data': str,
      'exp-data': str,
      'output-data': str,
      'data-strategy': str,
      'exp-model': str,
      'run-id': str,
      models: str,
      'model-strategy': str,
      metrics: str,
      'dry-run': { type: 'boolean' },
    },
    async run({ values, cwd, progress, signal }) {
      const paramsPath = stringOption(values, 'params')
      const params = paramsPath ? await readArtifactParams(resolve(cwd, paramsPath)) : {}
      const options = await artifactsOptions(values, params, cwd)
      const report = await mergeArtifacts({
        ...options,
        dryRun: flag(values, 'dry-run'),
        signal,
        ...(progress && { onProgress: progress }),
      })
      return { report: artifactsReportJson(report), text: formatArtifactsReport(report) }
    },
  },
]

/**
 * Flags override params.yaml: an artifact's strategy is its own flag, else --strategy, else its
 * params entry, else merge.strategy; key columns likewise.
 */
async function artifactsOptions(
  values: Values,
  params: ArtifactParams,
  cwd: string,
): Promise<ArtifactsOptions> {
  const flagStrategy = strategyFlag(values, 'strategy')
  const flagKey = listOption(values, 'key-columns')
  const group = (prefix: 'db' | 'data') => {
    const base = stringOption(values, `base-${prefix}`)
    const exp = stringOption(values, `exp-${prefix}`)
    const output = stringOption(values, `output-${prefix}`)
    if (base === undefined && exp === undefined && output === undefined) return undefined
    if (base === undefined || exp === undefined)
      throw usageError(`--base-${prefix} and --exp-${prefix} go together (got only one)`)
    return { ours: base, theirs: exp, ...(output !== undefined && { output }) }
  }
  const need = (strategy: Strategy | undefined, name: string): Strategy => {
    if (strategy) return strategy
    throw usageError(
      `no strategy for ${name}: pass --strategy merge|rebase or set merge.strategy in params.yaml`,
    )
  }

  // The shared key (--key-columns, merge.key_columns) is the rebase key, as in xetrack's
  // merge_artifacts.py: a merge keeps its default key (the table's primary key; for data, plain
  // append) unless that artifact's own key_columns are set in params.yaml.
  const keyFor = (strategy: Strategy, own: readonly string[] | undefined) =>
    own ?? (strategy === 'rebase' ? (flagKey ?? params.key) : undefined)
  const db = group('db')
  const data = group('data')
  let results: ArtifactsOptions['results']
  if (db) {
    const strategy = need(
      flagStrategy ?? params.results?.strategy ?? params.strategy,
      'the results database',
    )
    results = {
      ...db,
      strategy,
      ...optional('key', keyFor(strategy, params.results?.key)),
      ...optional('tables', listOption(values, 'tables') ?? params.tables),
    }
  }
  let dataGroup: ArtifactsOptions['data']
  if (data) {
    const strategy = need(
      strategyFlag(values, 'data-strategy') ??
        flagStrategy ??
        params.data?.strategy ??
        params.strategy,
      'the dataset',
    )
    dataGroup = { ...data, strategy, ...optional('key', keyFor(strategy, params.data?.key)) }
  }

  const expModel = stringOption(values, 'exp-model')
  let model: ArtifactsOptions['model']
  if (expModel !== undefined) {
    const runId = stringOption(values, 'run-id')
    if (!runId) throw usageError('--exp-model needs --run-id (the run that produced the model)')
    const metrics = stringOption(values, 'metrics')
    const models = stringOption(values, 'models')
    model = {
      exp: expModel,
      runId,
      strategy: modelStrategy(values, flagStrategy, params),
      ...(models !== undefined && { models }),
      ...(metrics !== undefined && { metrics: await parseMetrics(metrics, cwd) }),
    }
  } else if (stringOption(values, 'run-id') !== undefined) {
    throw usageError('--run-id names the run of --exp-model; pass --exp-model FILE too')
  }
  return {
    ...(results && { results }),
    ...(dataGroup && { data: dataGroup }),
    ...(model && { model }),
  }
}

function modelStrategy(
  values: Values,
  flagStrategy: Strategy | undefined,
  params: ArtifactParams,
): ModelStrategy {
  const flag = stringOption(values, 'model-strategy')
  if (flag !== undefined) {
    const parsed = parseModelStrategy(flag)
    if (!parsed) throw usageError(`--model-strategy must be merge or promote, got "${flag}"`)
    return parsed
  }
  // merge keeps a candidate, rebase promotes: the general strategy maps onto models too.
  const general = flagStrategy ?? params.model?.strategy ?? params.strategy
  const mapped = general === undefined ? undefined : parseModelStrategy(general)
  if (!mapped)
    throw usageError(
      'no strategy for the model: pass --model-strategy merge|promote (or --strategy), or set merge.model in params.yaml',
    )
  return mapped
}

function strategyFlag(values: Values, name: string): Strategy | undefined {
  const value = stringOption(values, name)
  if (value === undefined) return undefined
  if (value !== 'merge' && value !== 'rebase')
    throw usageError(`--${name} must be merge or rebase, got "${value}"`)
  return value
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

function formatArtifactsReport(report: ArtifactsReport): string {
  const sections: string[] = []
  if (report.results)
    sections.push(`results database\n${indent(formatMergeReport(report.results))}`)
  if (report.data) sections.push(`dataset\n${indent(formatMergeReport(report.data))}`)
  if (report.model) {
    const { candidate, promotion } = report.model
    const would = report.dryRun ? 'would be ' : ''
    const lines = [
      candidate.changed
        ? `candidate ${candidate.candidate.id} ${would}registered (sha256 ${candidate.candidate.sha256.slice(0, 12)}…)`
        : `candidate ${candidate.candidate.id} already registered`,
    ]
    if (promotion)
      lines.push(
        promotion.changed
          ? `${report.dryRun ? 'would be promoted' : 'promoted'} to ${promotion.path}${promotion.replaced ? ` (${report.dryRun ? 'would replace' : 'replaced'} ${promotion.replaced.candidateId ?? promotion.replaced.fileName}, kept in the store)` : ''}`
          : 'already the production model',
      )
    sections.push(`model\n${indent(lines.join('\n'))}`)
  }
  if (report.dryRun) {
    sections.push(`dry run: nothing written (${formatDuration(report.durationMs)})`)
    return sections.join('\n')
  }
  sections.push(`all outputs written in ${formatDuration(report.durationMs)}`)
  return sections.join('\n')
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')
}
