/** `exp diff`: two experiments side by side — params that differ, metric statistics, runs, code. */

import { ident, type SqlValue, sql } from '../engine/sql.js'
import { allSync } from '../engine/sqlite.js'
import { DuckmergeError } from '../errors.js'
import {
  openResultsTable,
  type ResultsSourceOptions,
  type ResultsTable,
} from './explorer-source.js'
import {
  computeStats,
  type MetricStats,
  naturalCompare,
  type VersionStats,
} from './explorer-stats.js'
import { repoRoot } from './git.js'
import { type DiffStat, diffStat, tagExists } from './git-tags.js'

export interface DiffExperimentsOptions extends ResultsSourceOptions {
  /** The version compared against (left side). */
  readonly base: string
  /** The version compared (right side); deltas are exp − base. */
  readonly exp: string
  readonly metrics?: readonly string[]
  readonly params?: readonly string[]
  /** A SQL predicate over the table's rows, applied to both sides. */
  readonly where?: string
  /** A git repository: adds `git diff --stat` between the tags named like the versions. */
  readonly repo?: string
}

/** A param value: one value, or the sorted values of a sweep. */
export type ParamValue = SqlValue | readonly SqlValue[]

export interface ParamChange {
  readonly param: string
  /** null when the side does not have the param. */
  readonly base: ParamValue
  readonly exp: ParamValue
}

export interface MetricDiff {
  readonly metric: string
  readonly base: MetricStats
  readonly exp: MetricStats
  /** exp mean − base mean. */
  readonly delta: number | null
  /** delta / |base mean|; null when base mean is 0 or missing. */
  readonly relative: number | null
}

export interface ExperimentDiff {
  readonly db: string
  readonly table: string
  readonly base: string
  readonly exp: string
  readonly rows: { readonly base: number; readonly exp: number }
  /** Params whose value differs (including present on one side only). */
  readonly params: readonly ParamChange[]
  /** Params both sides share with the same value. */
  readonly sameParams: Readonly<Record<string, ParamValue>>
  readonly metrics: readonly MetricDiff[]
  readonly runs: {
    readonly onlyInBase: readonly string[]
    readonly onlyInExp: readonly string[]
    readonly inBoth: readonly string[]
  }
  /** The code change between the tags; null without a repo, or naming the missing tags. */
  readonly git: DiffStat | { readonly missingTags: readonly string[] } | null
}

/**
 * Compares two experiments over all their rows.
 *
 * @example
 * const d = await diffExperiments({ db: 'results.db', base: 'e0.1.0', exp: 'e0.2.0', metrics: ['accuracy'] })
 * d.metrics[0]  // { metric: 'accuracy', base: { count: 40, mean: 0.75, std: 0.4385 }, exp: { …mean: 0.8667 }, delta: 0.1167 }
 */
export async function diffExperiments(options: DiffExperimentsOptions): Promise<ExperimentDiff> {
  const repo = options.repo === undefined ? undefined : await repoRoot(options.repo)
  const source = await openResultsTable(options)
  try {
    const stats = computeStats(source, {
      versions: [options.base, options.exp],
      withRange: true,
      ...(options.where !== undefined ? { where: options.where } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.params ? { params: options.params } : {}),
    })
    const base = findVersion(source, stats.versions, options.base, options.where)
    const exp = findVersion(source, stats.versions, options.exp, options.where)
    const changes: ParamChange[] = []
    const sameParams: Record<string, ParamValue> = {}
    for (const p of stats.params) {
      const b = paramValue(base, p)
      const e = paramValue(exp, p)
      if (b === null && e === null) continue
      if (sameValue(b, e)) sameParams[p] = b
      else changes.push({ param: p, base: b, exp: e })
    }
    const metrics = stats.metrics.map((m): MetricDiff => {
      const bs = base.metrics[m] ?? { count: 0, mean: null, std: null }
      const es = exp.metrics[m] ?? { count: 0, mean: null, std: null }
      const delta = bs.mean !== null && es.mean !== null ? es.mean - bs.mean : null
      const relative = delta !== null && bs.mean ? delta / Math.abs(bs.mean) : null
      return { metric: m, base: bs, exp: es, delta, relative }
    })
    const baseRuns = new Set(base.runs)
    const expRuns = new Set(exp.runs)
    let git: ExperimentDiff['git'] = null
    if (repo) {
      const missing: string[] = []
      for (const tag of [options.base, options.exp])
        if (!(await tagExists(repo, tag))) missing.push(tag)
      git =
        missing.length > 0
          ? { missingTags: missing }
          : await diffStat(repo, options.base, options.exp)
    }
    return {
      db: source.path,
      table: source.table,
      base: options.base,
      exp: options.exp,
      rows: { base: base.rows, exp: exp.rows },
      params: changes,
      sameParams,
      metrics,
      runs: {
        onlyInBase: [...baseRuns].filter((r) => !expRuns.has(r)),
        onlyInExp: [...expRuns].filter((r) => !baseRuns.has(r)),
        inBoth: [...baseRuns].filter((r) => expRuns.has(r)),
      },
      git,
    }
  } finally {
    source.db.close()
  }
}

function findVersion(
  source: ResultsTable,
  versions: readonly VersionStats[],
  name: string,
  where: string | undefined,
): VersionStats {
  const found = versions.find((v) => v.version === name)
  if (found) return found
  throw versionNotFound(source, name, where)
}

/** NOT_FOUND naming the version, the table and the versions it does have. */
export function versionNotFound(
  source: ResultsTable,
  name: string,
  where?: string,
): DuckmergeError {
  const v = ident(source.versionColumn)
  const known = allSync<{ v: SqlValue }>(
    source.db,
    sql`select distinct ${v} as v from ${ident(source.table)} where ${v} is not null`,
  )
    .map((r) => String(r.v))
    .sort(naturalCompare)
  const shown = known.length > 20 ? [...known.slice(0, 20), '…'] : known
  const filtered = where !== undefined && known.includes(name) ? ` matching "${where}"` : ''
  return new DuckmergeError(
    'NOT_FOUND',
    `Version "${name}" has no rows${filtered} in table "${source.table}" of ${source.path} (${source.versionColumn}: ${shown.join(', ') || 'none'}). Pass one of these versions.`,
    { path: source.path, table: source.table, version: name, versions: known },
  )
}

function paramValue(version: VersionStats, param: string): ParamValue {
  if (param in version.params) return version.params[param] ?? null
  return version.sweeps[param] ?? null
}

function sameValue(a: ParamValue, b: ParamValue): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => v === b[i])
  return a === b
}
