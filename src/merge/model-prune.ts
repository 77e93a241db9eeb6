/**
 * Pruning candidates: keep the K best by a metric, remove the others' files and registry entries.
 * Never removes the production model's candidate; never touches the store, which holds every
 * model that was in production, so rollback keeps working after a prune.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { DuckmergeError } from '../errors.js'
import type { Candidate, Registry } from '../formats/model/registry-file.js'
import { assertModelsDir, defaultModelsDir, type ModelsDirOption, updateRegistry } from './model.js'
import { bestCandidate, rankCandidates } from './model-candidates.js'

export interface ModelPruneOptions extends ModelsDirOption {
  /** How many candidates to keep (the production one is kept on top of these). */
  readonly keep: number
  readonly metric: string
  /** Lower is better (e.g. loss). */
  readonly minimize?: boolean
  /** Report what would be removed, remove nothing. */
  readonly dryRun?: boolean
}

export interface ModelPruneReport {
  readonly action: 'prune'
  readonly models: string
  readonly dryRun: boolean
  readonly metric: string
  /** Candidate ids kept, best first. */
  readonly kept: readonly string[]
  /** Candidate ids removed (or that would be, with dryRun). */
  readonly removed: readonly string[]
  /** Kept although outside the top K: the production model. */
  readonly protected: readonly string[]
  /** Bytes freed in candidates/. */
  readonly bytesFreed: number
  readonly durationMs: number
}

/**
 * Removes every candidate but the `keep` best by `metric` (candidates without the metric rank
 * last) and the production one.
 *
 * @example
 * await pruneModels({ models: 'models', keep: 3, metric: 'loss', minimize: true, dryRun: true })
 */
export async function pruneModels(options: ModelPruneOptions): Promise<ModelPruneReport> {
  const started = performance.now()
  const dir = options.models ?? defaultModelsDir
  if (!Number.isInteger(options.keep) || options.keep < 0)
    throw new DuckmergeError('USAGE', `keep must be a whole number >= 0, got ${options.keep}`, {
      hint: 'Set {keep} to a whole number of 0 or more.',
    })
  await assertModelsDir(dir)
  const dryRun = options.dryRun ?? false
  return updateRegistry(dir, async (registry) => {
    if (registry.candidates.length > 0) bestCandidate(dir, registry, options.metric, false)
    const plan = planPrune(registry, options.keep, options.metric, options.minimize ?? false)
    const removedIds = new Set(plan.removed.map((c) => c.id))
    const value: ModelPruneReport = {
      action: 'prune',
      models: dir,
      dryRun,
      metric: options.metric,
      kept: plan.kept.map((c) => c.id),
      removed: plan.removed.map((c) => c.id),
      protected: plan.protected.map((c) => c.id),
      bytesFreed: plan.removed.reduce((n, c) => n + c.size, 0),
      durationMs: 0,
    }
    const timed = () => ({ ...value, durationMs: Math.round(performance.now() - started) })
    if (dryRun || removedIds.size === 0) return { value: timed() }
    // Registry first, files after: a crash in between leaves orphan files, never dangling entries.
    const next: Registry = {
      ...registry,
      candidates: registry.candidates.filter((c) => !removedIds.has(c.id)),
    }
    const afterWrite = async () => {
      for (const id of removedIds) await fs.rm(join(dir, 'candidates', id), { force: true })
    }
    return { value: timed(), next, afterWrite }
  })
}

interface PrunePlan {
  readonly kept: readonly Candidate[]
  readonly removed: readonly Candidate[]
  readonly protected: readonly Candidate[]
}

function planPrune(registry: Registry, keep: number, metric: string, minimize: boolean): PrunePlan {
  const ranked = rankCandidates(registry.candidates, metric, minimize)
  const unranked = registry.candidates.filter((c) => !ranked.includes(c))
  const order = [...ranked, ...unranked]
  const top = order.slice(0, keep)
  const isProduction = (c: Candidate) =>
    registry.production !== null &&
    (registry.production.candidateId === c.id || registry.production.sha256 === c.sha256)
  const rest = order.slice(keep)
  const protectedOnes = rest.filter(isProduction)
  return {
    kept: [...top, ...protectedOnes],
    removed: rest.filter((c) => !isProduction(c)),
    protected: protectedOnes,
  }
}
