/** `exp tag`: an annotated git tag whose message records the experiment's params and metrics. */

import { DuckmergeError } from '../errors.js'
import { versionNotFound } from './explorer-diff.js'
import { formatNumber, formatValue } from './explorer-list.js'
import { openResultsTable, type ResultsSourceOptions } from './explorer-source.js'
import { computeStats, type VersionStats } from './explorer-stats.js'
import { git, repoRoot } from './git.js'
import { createAnnotatedTag, tagExists } from './git-tags.js'

export interface TagExperimentOptions extends ResultsSourceOptions {
  /** The version, as in the results database's version column; also the tag's name. */
  readonly version: string
  /** Metrics whose means go into the message (default: every detected metric). */
  readonly metrics?: readonly string[]
  /** Free text appended to the message, e.g. 'initial baseline'. */
  readonly message?: string
  /** Default: the current folder. */
  readonly repo?: string
  /** Build the message, create nothing. */
  readonly dryRun?: boolean
}

export interface TagResult {
  readonly tag: string
  readonly message: string
  /** The commit tagged (HEAD). */
  readonly commit: string
  readonly created: boolean
  readonly params: Readonly<Record<string, unknown>>
  readonly metrics: Readonly<Record<string, number | null>>
}

/**
 * Tags HEAD as `version` with the message `model=… | lr=… | accuracy=… | <message>`: the
 * version's params that are constant over all its rows, then the chosen metrics' means.
 *
 * @example
 * await tagExperiment({ db: 'results/experiments.db', version: 'e0.1.0', metrics: ['accuracy'], message: 'initial baseline' })
 * // { tag: 'e0.1.0', message: 'model=tiny-mlp | lr=0.01 | accuracy=0.75 | initial baseline', … }
 */
export async function tagExperiment(options: TagExperimentOptions): Promise<TagResult> {
  const repo = await repoRoot(options.repo ?? '.')
  if (await tagExists(repo, options.version))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Tag "${options.version}" already exists in ${repo}; experiment tags are never moved. Pick the next version (duckmerge exp tag --suggest).`,
      { repo, tag: options.version },
    )
  const head = await git(repo, ['rev-parse', '--verify', 'HEAD^{commit}'])
  if (head.code !== 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot tag ${options.version}: git repository ${repo} has no commit yet. Commit your code first.`,
      { repo },
    )
  const source = await openResultsTable(options)
  let stats: VersionStats
  try {
    const all = computeStats(source, {
      versions: [options.version],
      withSpread: false,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    })
    const found = all.versions.find((v) => v.version === options.version)
    if (!found) throw versionNotFound(source, options.version)
    stats = found
  } finally {
    source.db.close()
  }
  const metrics: Record<string, number | null> = {}
  for (const [name, m] of Object.entries(stats.metrics)) metrics[name] = m.mean
  const message = tagMessage(stats, options.message)
  if (!options.dryRun) await createAnnotatedTag(repo, options.version, message)
  return {
    tag: options.version,
    message,
    commit: head.stdout.trim(),
    created: !options.dryRun,
    params: stats.params,
    metrics,
  }
}

/** `model=tiny-mlp | lr=0.01 | accuracy=0.75 | initial baseline` (empty parts left out). */
export function tagMessage(stats: VersionStats, note?: string): string {
  const parts = Object.entries(stats.params).map(([k, v]) => `${k}=${formatValue(v)}`)
  for (const [k, m] of Object.entries(stats.metrics))
    if (m.mean !== null) parts.push(`${k}=${formatNumber(m.mean)}`)
  const text = note?.trim()
  if (text) parts.push(text.replace(/\s*\n\s*/g, ' '))
  return parts.join(' | ')
}
