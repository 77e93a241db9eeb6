/** Finding candidates in the registry: by id, or the best by a metric (promote --best, prune). */
import { DuckmergeError } from '../errors.js'
import type { Candidate, Registry } from '../formats/model/registry-file.js'
import { registryPath } from '../formats/model/registry-file.js'

/** The candidate with this id, or NOT_FOUND listing the ids there are. */
export function findCandidate(dir: string, registry: Registry, id: string): Candidate {
  const found = registry.candidates.find((c) => c.id === id)
  if (found) return found
  const known = registry.candidates.map((c) => c.id)
  throw new DuckmergeError(
    'NOT_FOUND',
    `No candidate "${id}" in ${registryPath(dir)} (candidates: ${known.join(', ') || 'none'}). Run duckmerge model list to see them.`,
    { id, known },
  )
}

/**
 * The candidate with the best numeric value of `metric`; ties go to the one registered first.
 *
 * @example
 * bestCandidate('models', registry, 'loss', true) // the lowest loss
 */
export function bestCandidate(
  dir: string,
  registry: Registry,
  metric: string,
  minimize: boolean,
): Candidate {
  const ranked = rankCandidates(registry.candidates, metric, minimize)
  const best = ranked[0]
  if (best) return best
  const seen = [...new Set(registry.candidates.flatMap((c) => Object.keys(c.metrics)))]
  throw new DuckmergeError(
    'NOT_FOUND',
    `No candidate in ${registryPath(dir)} has a numeric metric "${metric}" (metrics seen: ${seen.join(', ') || 'none'}).`,
    { metric, seen, hint: 'Choose {best} among them, or register candidates with {metrics}.' },
  )
}

/** Candidates with a numeric `metric`, best first (stable: earlier registration wins ties). */
export function rankCandidates(
  candidates: readonly Candidate[],
  metric: string,
  minimize: boolean,
): Candidate[] {
  return candidates
    .filter((c) => typeof c.metrics[metric] === 'number' && Number.isFinite(c.metrics[metric]))
    .sort((a, b) => {
      const d = (a.metrics[metric] as number) - (b.metrics[metric] as number)
      return minimize ? d : -d
    })
}
