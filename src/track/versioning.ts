/** Experiment version numbers (`e0.2.0`): parsing, bumping, suggesting the next one from git tags. */
import { DuckmergeError } from '../errors.js'
import { repoRoot } from './git.js'
import { listTags } from './git-tags.js'

export type Bump = 'major' | 'minor' | 'patch'

export interface ExperimentVersion {
  readonly prefix: string
  readonly major: number
  readonly minor: number
  readonly patch: number
}

/** `e0.2.0` → { prefix: 'e', major: 0, minor: 2, patch: 0 }; undefined for any other shape. */
export function parseVersion(name: string, prefix = 'e'): ExperimentVersion | undefined {
  if (!name.startsWith(prefix)) return undefined
  const match = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(name.slice(prefix.length))
  if (!match) return undefined
  return { prefix, major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) }
}

export function formatVersion(v: ExperimentVersion): string {
  return `${v.prefix}${v.major}.${v.minor}.${v.patch}`
}

/** Semver bump: a major bump resets minor and patch, a minor bump resets patch. */
export function bumpVersion(v: ExperimentVersion, bump: Bump): ExperimentVersion {
  if (bump === 'major') return { ...v, major: v.major + 1, minor: 0, patch: 0 }
  if (bump === 'minor') return { ...v, minor: v.minor + 1, patch: 0 }
  return { ...v, patch: v.patch + 1 }
}

export function compareVersions(a: ExperimentVersion, b: ExperimentVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch
}

export interface SuggestVersionOptions {
  /** The git repository whose tags are read. Default: the current folder. */
  readonly repo?: string
  /** Default 'minor': a new experiment; 'patch' for a fix of the last one, 'major' for a new line. */
  readonly bump?: Bump
  /** Tag prefix. Default 'e'. */
  readonly prefix?: string
}

export interface VersionSuggestion {
  readonly version: string
  /** The highest existing tag it was bumped from; null when the repo has none. */
  readonly previous: string | null
  readonly bump: Bump
}

/**
 * Proposes the next experiment version: the highest `e<major>.<minor>.<patch>` tag, bumped
 * (e0.1.0 when there is none). Tags of other shapes are ignored.
 *
 * @example
 * await suggestVersion({ repo: '.', bump: 'minor' })  // { version: 'e0.3.0', previous: 'e0.2.0', bump: 'minor' }
 */
export async function suggestVersion(
  options: SuggestVersionOptions = {},
): Promise<VersionSuggestion> {
  const prefix = options.prefix ?? 'e'
  const bump = options.bump ?? 'minor'
  if (!['major', 'minor', 'patch'].includes(bump))
    throw new DuckmergeError('USAGE', `bump must be major, minor or patch, got "${bump}"`)
  const repo = await repoRoot(options.repo ?? '.')
  let highest: ExperimentVersion | undefined
  for (const tag of await listTags(repo)) {
    const v = parseVersion(tag.name, prefix)
    if (v && (!highest || compareVersions(v, highest) > 0)) highest = v
  }
  if (!highest) return { version: `${prefix}0.1.0`, previous: null, bump }
  return {
    version: formatVersion(bumpVersion(highest, bump)),
    previous: formatVersion(highest),
    bump,
  }
}
