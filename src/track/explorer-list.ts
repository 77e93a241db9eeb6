/** `exp list`: every experiment (version) of a results database, ranked by a metric. */

import type { SqlValue } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import {
  assertColumns,
  assertNumericColumn,
  openResultsTable,
  type ResultsSourceOptions,
  type ResultsTable,
} from './explorer-source.js'
import { computeStats, type StatsOptions, type VersionStats } from './explorer-stats.js'
import { repoRoot } from './git.js'
import { type GitTag, listTags } from './git-tags.js'

export interface ListExperimentsOptions extends ResultsSourceOptions {
  /** Rank by this metric's mean (ascending unless `descending`). Default: by version. */
  readonly sort?: string
  readonly descending?: boolean
  /** A SQL predicate over the table's rows, e.g. `"lr < 0.01 and model = 'mlp'"`. */
  readonly where?: string
  readonly limit?: number
  /** Metrics to aggregate (default: every REAL column that is not a param). */
  readonly metrics?: readonly string[]
  /** Params to show (default: detected, see computeStats). */
  readonly params?: readonly string[]
  /** A git repository whose tags named like the versions are shown beside them. */
  readonly repo?: string
}

export interface ExperimentTag {
  readonly name: string
  readonly date: string
  readonly subject: string
  readonly message: string
}

export interface ExperimentSummary extends VersionStats {
  /** 1-based position in the listing. */
  readonly rank: number
  /** The git tag named like the version, when `repo` has one. */
  readonly tag?: ExperimentTag
}

export interface ExperimentList {
  readonly db: string
  readonly table: string
  readonly versionColumn: string
  readonly runColumn: string | null
  /** Other tables that also carry the version column. */
  readonly otherTables: readonly string[]
  readonly params: readonly string[]
  readonly metrics: readonly string[]
  readonly sort: { readonly metric: string; readonly descending: boolean } | null
  readonly experiments: readonly ExperimentSummary[]
}

/**
 * Lists the experiments of a results database with row counts, runs, params and metric means,
 * ranked by `sort`.
 *
 * @example
 * const { experiments } = await listExperiments({ db: 'results/experiments.db', sort: 'accuracy', descending: true })
 * experiments[0]  // { rank: 1, version: 'e0.3.0', rows: 30, metrics: { accuracy: { mean: 0.9667, … } }, … }
 */
export async function listExperiments(options: ListExperimentsOptions): Promise<ExperimentList> {
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0))
    throw new DuckmergeError('USAGE', `limit must be a whole number >= 0, got ${options.limit}`)
  const repo = options.repo === undefined ? undefined : await repoRoot(options.repo)
  const source = await openResultsTable(options)
  try {
    const stats = statsWithSort(source, options)
    const sorted = [...stats.versions]
    if (options.sort !== undefined) {
      const metric = options.sort
      const sign = options.descending ? -1 : 1
      sorted.sort((a, b) => {
        const x = a.metrics[metric]?.mean ?? null
        const y = b.metrics[metric]?.mean ?? null
        if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1
        return sign * (x - y)
      })
    } else if (options.descending) sorted.reverse()
    const shown = options.limit === undefined ? sorted : sorted.slice(0, options.limit)
    const tags = repo ? new Map((await listTags(repo)).map((t) => [t.name, t])) : new Map()
    return {
      db: source.path,
      table: source.table,
      versionColumn: source.versionColumn,
      runColumn: source.runColumn ?? null,
      otherTables: source.otherTables,
      params: stats.params,
      metrics: stats.metrics,
      sort:
        options.sort === undefined
          ? null
          : { metric: options.sort, descending: !!options.descending },
      experiments: shown.map((v, i) => withTag({ ...v, rank: i + 1 }, tags.get(v.version))),
    }
  } finally {
    source.db.close()
  }
}

function statsWithSort(source: ResultsTable, options: ListExperimentsOptions) {
  // Listing shows means: no sums of squares, so the one pass reads less.
  const base: StatsOptions = {
    withSpread: false,
    ...(options.where !== undefined ? { where: options.where } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.params ? { params: options.params } : {}),
  }
  const sort = options.sort
  if (sort !== undefined) assertNumericColumn(source, sort, 'sort by')
  if (sort === undefined || options.metrics?.includes(sort)) return computeStats(source, base)
  assertColumns(source, [sort], 'metric')
  const stats = computeStats(source, base)
  if (stats.metrics.includes(sort)) return stats
  // Ranking by a column that is not a default metric (an INTEGER score, say): aggregate it too.
  return computeStats(source, { ...base, metrics: [...stats.metrics, sort] })
}

function withTag(summary: ExperimentSummary, tag: GitTag | undefined): ExperimentSummary {
  if (!tag) return summary
  return {
    ...summary,
    tag: { name: tag.name, date: tag.date, subject: tag.subject, message: tag.message },
  }
}

/** `model=tiny-mlp lr=0.01` / `lr=[0.0003, 0.003, 0.03]`: a version's params on one line. */
export function formatParams(summary: VersionStats): string {
  const parts = Object.entries(summary.params).map(([k, v]) => `${k}=${formatValue(v)}`)
  for (const [k, values] of Object.entries(summary.sweeps))
    parts.push(`${k}=[${values.map(formatValue).join(', ')}]`)
  return parts.join(' ')
}

export function formatValue(value: SqlValue | undefined): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number') return formatNumber(value)
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  return String(value)
}

/** Four significant digits, no trailing zeros: 0.866667 → 0.8667, 30 → 30, 0.0003 → 0.0003. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value)
  const text = value.toPrecision(4)
  return text.includes('e') ? String(Number(text)) : text.replace(/\.?0+$/, '')
}
