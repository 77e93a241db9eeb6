/**
 * `exp worktree` / `exp merge-back`: an experiment that changes code or data runs in its own git
 * worktree with its own copy of the results database; its new rows are merged back afterwards.
 *
 *   worktree NAME:   git worktree add ../exp-NAME -b exp/NAME → mkdir results/ → copy results DB
 *                    → DVC project? .dvc/config.local [cache] dir = the main repository's cache
 *   merge-back NAME: find the worktree of branch exp/NAME → fork = git merge-base HEAD exp/NAME
 *                    → the DB at fork (committed, or by its .dvc pointer from the DVC cache)?
 *                      merge3(base: it, ours: main DB, theirs: its DB)
 *                      : mergeResults(base: main DB, exp: its DB)
 *                    → --remove: git worktree remove, git branch -d (only when merged)
 */
import { existsSync, promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, isAbsolute, join, posix, relative, resolve } from 'node:path'
import { openSqlite } from '../engine/sqlite.js'
import { DuckmergeError } from '../errors.js'
import { type Merge3Report, merge3 } from '../merge/merge3.js'
import type { MergeReport } from '../merge/report.js'
import { mergeResults } from '../merge/results.js'
import type { ProgressCallback } from '../progress.js'
import { dvcCacheDir, dvcCachedObject, parseDvcFile } from './dvc.js'
import { git, gitBlobToFile, gitFailure, gitOk, repoRoot } from './git.js'

/** Where experiments write their results, relative to the repository root. */
export const DEFAULT_RESULTS_DB = 'results/experiments.db'

export interface WorktreeOptions {
  /** The experiment's name: branch `exp/NAME`, folder `../exp-NAME` beside the repository. */
  readonly name: string
  /** Default: the current folder. */
  readonly repo?: string
  /** The main results database; default `results/experiments.db` under the repository root. */
  readonly db?: string
}

export interface WorktreeResult {
  readonly name: string
  readonly branch: string
  readonly path: string
  /** The worktree's results database (same path relative to its root as the main one). */
  readonly db: string
  /** The main database copied as the worktree's starting point; null when there was none. */
  readonly copiedFrom: string | null
  /** True when the database is committed to git, so the checkout already brought it. */
  readonly dbFromGit: boolean
  /**
   * In a DVC project: the main repository's cache, which the worktree's `.dvc/config.local`
   * now names, so artifacts are shared rather than copied. Null outside DVC projects.
   */
  readonly dvcCache: string | null
}

/**
 * Creates the experiment's worktree and sets up its results: the results folder exists, and
 * the main results database is copied in (a consistent SQLite backup) unless git already checked
 * one out. Merging back then only adds the rows the experiment wrote.
 *
 * @example
 * await createExperimentWorktree({ name: 'bigger-batch' })
 * // { branch: 'exp/bigger-batch', path: '/home/me/exp-bigger-batch', db: '/home/me/exp-bigger-batch/results/experiments.db', … }
 */
export async function createExperimentWorktree(options: WorktreeOptions): Promise<WorktreeResult> {
  const root = await repoRoot(options.repo ?? '.')
  const branch = `exp/${options.name}`
  const valid = await git(root, ['check-ref-format', `refs/heads/${branch}`])
  if (valid.code !== 0 || options.name.includes('/') || options.name.startsWith('-'))
    throw new DuckmergeError(
      'USAGE',
      `"${options.name}" is not a usable experiment name (it becomes branch ${branch} and folder exp-${options.name}). Use letters, digits, dots, dashes.`,
      { name: options.name },
    )
  if ((await git(root, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])).code === 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Branch ${branch} already exists in ${root}. Pick another experiment name, or merge it back with duckmerge exp merge-back ${options.name}.`,
      { branch },
    )
  const path = join(dirname(root), `exp-${options.name}`)
  if (existsSync(path))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot create the worktree: ${path} already exists. Remove it or pick another experiment name.`,
      { path },
    )
  const mainDb = resolveDb(root, options.db)
  const rel = relative(root, mainDb)
  await gitOk(root, ['worktree', 'add', '-b', branch, path], (e) =>
    gitFailure(`Cannot create worktree ${path}`, e),
  )
  try {
    const db = join(path, rel)
    await fs.mkdir(dirname(db), { recursive: true })
    const dbFromGit = existsSync(db)
    let copiedFrom: string | null = null
    if (!dbFromGit && existsSync(mainDb)) {
      // A backup, not a file copy: consistent even while a tracker is writing to the main DB.
      const source = openSqlite(mainDb, { readonly: true })
      try {
        await source.backup(db)
      } finally {
        source.close()
      }
      copiedFrom = mainDb
    }
    const dvcCache = existsSync(join(root, '.dvc')) ? await shareDvcCache(root, path) : null
    return { name: options.name, branch, path, db, copiedFrom, dbFromGit, dvcCache }
  } catch (error) {
    // Leave nothing half-made: the worktree and its branch go again.
    await git(root, ['worktree', 'remove', '--force', path])
    await git(root, ['branch', '-D', branch])
    throw error
  }
}

/**
 * Points the worktree's DVC cache at the main repository's (`[cache] dir` in its
 * `.dvc/config.local`, which DVC keeps out of git), unless that file already exists there.
 */
async function shareDvcCache(root: string, worktree: string): Promise<string> {
  const cache = await dvcCacheDir(root)
  const local = join(worktree, '.dvc', 'config.local')
  if (existsSync(local)) return dvcCacheDir(worktree)
  await fs.mkdir(dirname(local), { recursive: true })
  await fs.writeFile(local, `[cache]\n    dir = ${cache}\n`)
  return cache
}

export interface MergeBackOptions {
  readonly name: string
  readonly repo?: string
  /** The main results database; default `results/experiments.db` under the repository root. */
  readonly db?: string
  readonly dryRun?: boolean
  /** After a successful merge: remove the worktree, and its branch when git counts it merged. */
  readonly remove?: boolean
  readonly onProgress?: ProgressCallback
  /** Aborting rolls the merge back (INTERRUPTED): the main database is unchanged. */
  readonly signal?: AbortSignal
}

interface MergeBackCommon {
  readonly name: string
  readonly worktree: string
  /** The commit the experiment branched from (git merge-base), when there is one. */
  readonly forkPoint: string | null
  /** Set when `remove` was asked and the merge succeeded. */
  readonly removed?: RemoveResult
}

/**
 * `three-way`: from the results database as it was at the fork point (`baseFrom` says where it
 * was found), so rows changed or deleted in the experiment are changed or deleted in main too.
 * `two-way` (no such version): merge accumulates, rows already there are skipped.
 */
export type MergeBackResult = MergeBackCommon &
  (
    | {
        readonly mode: 'three-way'
        readonly baseFrom: 'git' | 'dvc'
        readonly report: Merge3Report
      }
    | { readonly mode: 'two-way'; readonly report: MergeReport }
  )

export interface RemoveResult {
  readonly worktree: boolean
  readonly branch: boolean
  /** Why something was kept. */
  readonly reasons: readonly string[]
}

/**
 * Merges the results database of experiment `name`'s worktree into the main one: three-way from
 * the fork point's version of the database when git (or DVC) has one, else two-way (merge
 * accumulates: rows already there, such as the copied base, are skipped). A three-way conflict
 * is returned in the report (`report.hasConflicts`), with nothing written.
 *
 * @example
 * const result = await mergeBackExperiment({ name: 'bigger-batch', remove: true })
 * result.mode  // 'three-way'
 */
export async function mergeBackExperiment(options: MergeBackOptions): Promise<MergeBackResult> {
  const root = await repoRoot(options.repo ?? '.')
  const worktree = await findWorktree(root, options.name)
  const mainDb = resolveDb(root, options.db)
  const expDb = join(worktree, relative(root, mainDb))
  if (!existsSync(expDb))
    throw new DuckmergeError(
      'INPUT_NOT_FOUND',
      `Experiment ${options.name} has no results database at ${expDb}. Run the experiment in ${worktree} first.`,
      { path: expDb },
    )
  if (!existsSync(mainDb))
    throw new DuckmergeError(
      'INPUT_NOT_FOUND',
      `Main results database not found: ${mainDb}. Copy ${expDb} there to start from the experiment's results.`,
      { path: mainDb, hint: 'Or choose another results database as {db}.' },
    )
  const forkPoint = await mergeBase(root, `refs/heads/exp/${options.name}`)
  const scratch = await fs.mkdtemp(join(tmpdir(), 'duckmerge-merge-back-'))
  try {
    const base = forkPoint ? await versionAt(root, forkPoint, mainDb, scratch) : undefined
    const common = { name: options.name, worktree, forkPoint }
    const result: MergeBackResult = base
      ? {
          ...common,
          mode: 'three-way',
          baseFrom: base.from,
          report: await merge3({
            base: base.path,
            ours: mainDb,
            theirs: expDb,
            // A dry run merges into a scratch copy that is thrown away.
            output: options.dryRun ? join(scratch, basename(mainDb)) : mainDb,
          }),
        }
      : {
          ...common,
          mode: 'two-way',
          report: await mergeResults({
            ours: mainDb,
            theirs: expDb,
            ...(options.dryRun ? { dryRun: true } : {}),
            ...(options.onProgress ? { onProgress: options.onProgress } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        }
    const merged = result.mode === 'two-way' || !result.report.hasConflicts
    if (!options.remove || options.dryRun || !merged) return result
    return { ...result, removed: await removeExperiment(root, worktree, options.name, [expDb]) }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true })
  }
}

async function mergeBase(root: string, branch: string): Promise<string | null> {
  const result = await git(root, ['merge-base', 'HEAD', branch])
  return result.code === 0 ? result.stdout.trim() : null
}

/**
 * The database as committed at `commit`: the file itself (written into `scratch`), or through
 * its `.dvc` pointer, the DVC cache object (read in place). Undefined when neither is there.
 */
async function versionAt(
  root: string,
  commit: string,
  db: string,
  scratch: string,
): Promise<{ path: string; from: 'git' | 'dvc' } | undefined> {
  const path = relative(root, db).split('\\').join('/')
  const type = async (p: string) => {
    const r = await git(root, ['cat-file', '-t', `${commit}:${p}`])
    return r.code === 0 ? r.stdout.trim() : undefined
  }
  if ((await type(path)) === 'blob') {
    const file = join(scratch, 'base')
    await gitBlobToFile(root, commit, path, file)
    return { path: file, from: 'git' }
  }
  if ((await type(`${path}.dvc`)) !== 'blob') return undefined
  const text = await gitOk(root, ['cat-file', 'blob', `${commit}:${path}.dvc`], (e) =>
    gitFailure(`Cannot read ${path}.dvc at ${commit}`, e),
  )
  const out = parseDvcFile(text, `${path}.dvc at ${commit}`).find(
    (o) => posix.join(posix.dirname(path), o.path) === path,
  )
  const cached = out && (await dvcCachedObject(await dvcCacheDir(root), out))
  return cached ? { path: cached.path, from: 'dvc' } : undefined
}

/**
 * Removes the experiment's worktree when nothing but its results (`own` files and the DVC cache
 * setting) is uncommitted there, then its branch when git counts it merged (`branch -d`).
 */
async function removeExperiment(
  root: string,
  worktree: string,
  name: string,
  own: readonly string[],
): Promise<RemoveResult> {
  const status = await gitOk(
    worktree,
    ['status', '--porcelain', '-z', '--untracked-files=all'],
    (e) => gitFailure(`Cannot read the status of ${worktree}`, e),
  )
  const ours = new Set([...own.map((f) => relative(worktree, f)), join('.dvc', 'config.local')])
  const dirty = status
    .split('\0')
    .filter((entry) => entry.length > 3)
    .map((entry) => entry.slice(3))
    .filter((file) => !ours.has(file))
  if (dirty.length > 0)
    return {
      worktree: false,
      branch: false,
      reasons: [
        `${worktree} has uncommitted changes (${dirty.slice(0, 5).join(', ')}${dirty.length > 5 ? ', …' : ''}); commit or discard them, then remove it.`,
      ],
    }
  const removed = await git(root, ['worktree', 'remove', '--force', worktree])
  if (removed.code !== 0)
    return {
      worktree: false,
      branch: false,
      reasons: [`git worktree remove ${worktree} failed: ${removed.stderr.trim()}`],
    }
  const branch = await git(root, ['branch', '-d', `exp/${name}`])
  return {
    worktree: true,
    branch: branch.code === 0,
    reasons:
      branch.code === 0
        ? []
        : [`branch exp/${name} is kept: it is not merged into ${await currentBranch(root)}.`],
  }
}

async function currentBranch(root: string): Promise<string> {
  const r = await git(root, ['rev-parse', '--abbrev-ref', 'HEAD'])
  return r.code === 0 ? r.stdout.trim() : 'HEAD'
}

async function findWorktree(root: string, name: string): Promise<string> {
  const listing = await gitOk(root, ['worktree', 'list', '--porcelain'], (e) =>
    gitFailure(`Cannot list worktrees of ${root}`, e),
  )
  const branch = `refs/heads/exp/${name}`
  const entries = listing.split('\n\n').map((block) => {
    const lines = block.split('\n')
    return {
      path: lines.find((l) => l.startsWith('worktree '))?.slice('worktree '.length) ?? '',
      branch: lines.find((l) => l.startsWith('branch '))?.slice('branch '.length) ?? '',
    }
  })
  const found = entries.find((e) => e.branch === branch)
  if (!found)
    throw new DuckmergeError(
      'NOT_FOUND',
      `No worktree of experiment "${name}" (branch exp/${name}) in ${root} (experiments: ${
        entries
          .filter((e) => e.branch.startsWith('refs/heads/exp/'))
          .map((e) => basename(e.branch))
          .join(', ') || 'none'
      }). Create it with duckmerge exp worktree ${name}.`,
      { name, repo: root },
    )
  return found.path
}

function resolveDb(root: string, db: string | undefined): string {
  const path = db === undefined ? join(root, DEFAULT_RESULTS_DB) : resolve(db)
  const rel = relative(root, path)
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new DuckmergeError(
      'USAGE',
      `The results database ${path} is outside the repository ${root}; experiment worktrees mirror paths inside it.`,
      { path, repo: root, hint: 'Choose {db} inside the repository.' },
    )
  return path
}
