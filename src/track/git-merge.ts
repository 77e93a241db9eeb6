/**
 * duckmerge as git's merge driver for data files: install/uninstall (git config and
 * .gitattributes), the driver git runs on a conflicting path, and resolving a conflict it left.
 *
 *   git merge → driver %O %A %B %P → merge3(base %O, ours %A, theirs %B → %A)
 *     → merged: exit 0 │ conflicts: .duckmerge/conflicts/<P>.json, one stderr line, exit 1
 *       (git keeps ours in the work tree and the three stages in the index)
 *   duckmerge git resolve P --take … → stages :1 :2 :3 → merge3 → P → git add P
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DuckmergeError } from '../errors.js'
import { type Merge3Options, type Merge3Report, merge3 } from '../merge/merge3.js'
import type { Resolution, Side } from '../merge/three-way-types.js'
import { git, gitBlobToFile, gitFailure, gitOk, repoRoot } from './git.js'

export const DEFAULT_GLOBS = ['*.db', '*.sqlite', '*.sqlite3', '*.duckdb', '*.parquet'] as const
const ATTRIBUTE = 'merge=duckmerge'

export interface GitInstallOptions {
  readonly repo: string
  readonly globs?: readonly string[]
  /** The command git runs, before `%O %A %B %P` (default: this node and CLI script). */
  readonly command: string
}

/**
 * Registers the driver in the repository's config and its patterns in `.gitattributes`.
 * Running it again changes nothing.
 */
export async function installGitDriver(
  options: GitInstallOptions,
): Promise<{ readonly root: string; readonly added: readonly string[] }> {
  const root = await repoRoot(options.repo)
  const fail = (stderr: string) => gitFailure('git config', stderr)
  await gitOk(
    root,
    ['config', 'merge.duckmerge.name', 'duckmerge three-way merge of data files'],
    fail,
  )
  await gitOk(
    root,
    ['config', 'merge.duckmerge.driver', `${options.command} git merge-driver %O %A %B %P`],
    fail,
  )
  const path = join(root, '.gitattributes')
  const text = await readFile(path, 'utf8').catch(() => '')
  const lines = text.split('\n').map((l) => l.trim())
  const added = (options.globs ?? DEFAULT_GLOBS).filter((g) => !lines.includes(`${g} ${ATTRIBUTE}`))
  if (added.length > 0) {
    const prefix = text === '' || text.endsWith('\n') ? text : `${text}\n`
    await writeFile(path, `${prefix}${added.map((g) => `${g} ${ATTRIBUTE}\n`).join('')}`)
  }
  return { root, added }
}

/** Removes the driver's config section and its `.gitattributes` lines. */
export async function uninstallGitDriver(repo: string): Promise<{ readonly removed: number }> {
  const root = await repoRoot(repo)
  await git(root, ['config', '--remove-section', 'merge.duckmerge'])
  const path = join(root, '.gitattributes')
  const text = await readFile(path, 'utf8').catch(() => undefined)
  if (text === undefined) return { removed: 0 }
  const lines = text.split('\n')
  const kept = lines.filter((l) => !l.trim().endsWith(ATTRIBUTE))
  await writeFile(path, kept.join('\n'))
  return { removed: lines.length - kept.length }
}

/** Where the driver leaves the report of a conflicted path. */
export function conflictReportPath(root: string, path: string): string {
  return join(root, '.duckmerge', 'conflicts', `${path}.json`)
}

/**
 * What git's driver command does: merges %B into %A from %O in place. Conflicts write the report
 * beside the repository and return it (the CLI exits 1, so git marks the path conflicted).
 */
export async function runGitDriver(options: {
  readonly cwd: string
  readonly base: string
  readonly ours: string
  readonly theirs: string
  readonly path: string
}): Promise<Merge3Report> {
  const report = await merge3({ base: options.base, ours: options.ours, theirs: options.theirs })
  if (report.hasConflicts) {
    const file = conflictReportPath(options.cwd, options.path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, `${JSON.stringify({ path: options.path, ...report }, null, 2)}\n`)
  }
  return report
}

/**
 * Finishes a path git left conflicted: takes base, ours and theirs from the index stages, merges
 * them with the given settlement into the work tree file, stages it, and removes the report.
 */
export async function resolveGitConflict(options: {
  readonly repo: string
  readonly path: string
  readonly take?: Side
  readonly resolutions?: readonly Resolution[]
  readonly key?: readonly string[]
}): Promise<Merge3Report> {
  const root = await repoRoot(options.repo)
  const stages = await gitOk(root, ['ls-files', '-u', '--', options.path], (e) =>
    gitFailure('git ls-files', e),
  )
  if (stages.trim() === '')
    throw new DuckmergeError(
      'NOT_FOUND',
      `${options.path} is not conflicted in ${root}: there is nothing to resolve.`,
      {
        path: options.path,
      },
    )
  const dir = await mkdtemp(join(tmpdir(), 'duckmerge-resolve-'))
  try {
    const files = { base: join(dir, 'base'), ours: join(dir, 'ours'), theirs: join(dir, 'theirs') }
    await gitBlobToFile(root, ':1', options.path, files.base)
    await gitBlobToFile(root, ':2', options.path, files.ours)
    await gitBlobToFile(root, ':3', options.path, files.theirs)
    const merge: Merge3Options = {
      ...files,
      output: join(root, options.path),
      ...(options.take ? { take: options.take } : {}),
      ...(options.resolutions ? { resolutions: options.resolutions } : {}),
      ...(options.key ? { key: options.key } : {}),
    }
    const report = await merge3(merge)
    if (!report.hasConflicts) {
      await gitOk(root, ['add', '--', options.path], (e) => gitFailure('git add', e))
      await rm(conflictReportPath(root, options.path), { force: true })
    }
    return report
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
