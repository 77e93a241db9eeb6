/**
 * duckmerge as git's merge driver for data files: install/uninstall (git config and
 * .gitattributes), the driver git runs on a conflicting path, and resolving a conflict it left.
 *
 *   git merge → driver %O %A %B %P → P is a .dvc pointer? mergeDvcPointers (data from the DVC
 *     cache) : merge3(base %O, ours %A, theirs %B → %A; key: P's duckmerge-key attribute)
 *     → merged: exit 0 │ conflicts: .duckmerge/conflicts/<P>.json, one stderr line, exit 1
 *       (git keeps ours in the work tree and the three stages in the index)
 *   duckmerge git resolve P --take … → stages :1 :2 :3 → the same merge → P → git add P
 *
 * Parquet has no declared key, so its key columns come from `.gitattributes`:
 * `runs/*.parquet merge=duckmerge duckmerge-key=run_id` (several: `duckmerge-key=track_id,timestamp`).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { sniffFormat } from '../engine/files.js'
import { DuckmergeError } from '../errors.js'
import { type Merge3Report, merge3 } from '../merge/merge3.js'
import type { Resolution, Side } from '../merge/three-way-types.js'
import { type DvcPointerReport, mergeDvcPointers } from './dvc-merge.js'
import { git, gitAttribute, gitBlobToFile, gitFailure, gitOk, repoRoot } from './git.js'

export const DEFAULT_GLOBS = [
  '*.db',
  '*.sqlite',
  '*.sqlite3',
  '*.duckdb',
  '*.parquet',
  '*.dvc',
] as const
const ATTRIBUTE = 'merge=duckmerge'
/** The `.gitattributes` attribute naming a path's key columns, comma-separated. */
export const KEY_ATTRIBUTE = 'duckmerge-key'

/** What the driver did to one path: a data file's merge, or a `.dvc` pointer's. */
export type GitMergeReport = Merge3Report | DvcPointerReport

export interface GitInstallOptions {
  readonly repo: string
  readonly globs?: readonly string[]
  /** Key columns for the paths of `globs` (written as their `duckmerge-key` attribute). */
  readonly key?: readonly string[]
  /** The command git runs, before `%O %A %B %P` (default: this node and CLI script). */
  readonly command: string
}

/** `pattern merge=duckmerge [duckmerge-key=a,b]`, the line the driver owns for `glob`. */
function attributeLine(glob: string, key: readonly string[] | undefined): string {
  return `${glob} ${ATTRIBUTE}${key && key.length > 0 ? ` ${KEY_ATTRIBUTE}=${key.join(',')}` : ''}`
}

const driverGlob = (line: string): string | undefined => {
  const [glob, ...attributes] = line.trim().split(/\s+/)
  return attributes.includes(ATTRIBUTE) ? glob : undefined
}

/**
 * Registers the driver in the repository's config and its patterns in `.gitattributes` (a
 * pattern's line is replaced when its key changes). Running it again changes nothing.
 *
 * @example
 * await installGitDriver({ repo: '.', command: 'npx duckmerge', globs: ['runs/*.parquet'], key: ['run_id'] })
 * // .gitattributes: runs/*.parquet merge=duckmerge duckmerge-key=run_id
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
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n')
  const added: string[] = []
  for (const glob of options.globs ?? DEFAULT_GLOBS) {
    const line = attributeLine(glob, options.key)
    const at = lines.findIndex((l) => driverGlob(l) === glob)
    if (at >= 0 && lines[at]?.trim() === line) continue
    if (at >= 0) lines[at] = line
    else lines.push(line)
    added.push(glob)
  }
  if (added.length > 0) await writeFile(path, `${lines.join('\n')}\n`)
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
  const kept = lines.filter((l) => driverGlob(l) === undefined)
  await writeFile(path, kept.join('\n'))
  return { removed: lines.length - kept.length }
}

/** Where the driver leaves the report of a conflicted path. */
export function conflictReportPath(root: string, path: string): string {
  return join(root, '.duckmerge', 'conflicts', `${path}.json`)
}

/**
 * The key columns `.gitattributes` declares for `path` (`duckmerge-key=a,b`). Without one, a
 * Parquet file (judged by `file`, a version of it) cannot be merged: KEY_COLUMN_MISSING.
 */
export async function declaredKey(
  root: string,
  path: string,
  file: string,
): Promise<readonly string[] | undefined> {
  const value = await gitAttribute(root, path, KEY_ATTRIBUTE)
  const key = value
    ?.split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
  if (key && key.length > 0) return key
  if ((await sniffFormat(file)) === 'parquet')
    throw new DuckmergeError(
      'KEY_COLUMN_MISSING',
      `${path} is a Parquet file and .gitattributes declares no key to match its rows by. Add its key columns to its line, e.g. "${path} ${ATTRIBUTE} ${KEY_ATTRIBUTE}=run_id".`,
      { path, attribute: KEY_ATTRIBUTE },
    )
  return undefined
}

interface DriverMerge {
  readonly root: string
  readonly path: string
  readonly base: string
  readonly ours: string
  readonly theirs: string
  readonly output: string
  readonly key?: readonly string[]
  readonly take?: Side
  readonly resolutions?: readonly Resolution[]
}

/** One merge of the three versions of `path`: a `.dvc` pointer's data, or the file itself. */
async function mergeVersions(options: DriverMerge): Promise<GitMergeReport> {
  const { root, path, key, ...merge } = options
  const keyFor = async (data: string, file: string) => key ?? (await declaredKey(root, data, file))
  if (path.endsWith('.dvc')) return mergeDvcPointers({ root, pointer: path, keyFor, ...merge })
  const declared = await keyFor(path, options.ours)
  return merge3({ ...merge, ...(declared ? { key: declared } : {}) })
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
}): Promise<GitMergeReport> {
  const root = await repoRoot(options.cwd)
  const report = await mergeVersions({ ...options, root, output: options.ours })
  if (report.hasConflicts) {
    const file = conflictReportPath(root, options.path)
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
}): Promise<GitMergeReport> {
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
    const report = await mergeVersions({
      ...files,
      root,
      path: options.path,
      output: join(root, options.path),
      ...(options.take ? { take: options.take } : {}),
      ...(options.resolutions ? { resolutions: options.resolutions } : {}),
      ...(options.key ? { key: options.key } : {}),
    })
    if (!report.hasConflicts) {
      await gitOk(root, ['add', '--', options.path], (e) => gitFailure('git add', e))
      await rm(conflictReportPath(root, options.path), { force: true })
    }
    return report
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
