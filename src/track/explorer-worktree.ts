/**
 * `exp worktree` / `exp merge-back`: an experiment that changes code or data runs in its own git
 * worktree with its own copy of the results database; its new rows are merged back afterwards.
 *
 *   worktree NAME:   git worktree add ../exp-NAME -b exp/NAME → mkdir results/ → copy results DB
 *   merge-back NAME: find the worktree of branch exp/NAME → mergeResults(base: main DB, exp: its DB)
 */
import { existsSync, promises as fs } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { openSqlite } from '../engine/sqlite.js'
import { DuckmergeError } from '../errors.js'
import type { MergeReport } from '../merge/report.js'
import { mergeResults } from '../merge/results.js'
import type { ProgressCallback } from '../progress.js'
import { git, gitFailure, gitOk, repoRoot } from './git.js'

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
    return { name: options.name, branch, path, db, copiedFrom, dbFromGit }
  } catch (error) {
    // Leave nothing half-made: the worktree and its branch go again.
    await git(root, ['worktree', 'remove', '--force', path])
    await git(root, ['branch', '-D', branch])
    throw error
  }
}

export interface MergeBackOptions {
  readonly name: string
  readonly repo?: string
  /** The main results database; default `results/experiments.db` under the repository root. */
  readonly db?: string
  readonly dryRun?: boolean
  readonly onProgress?: ProgressCallback
  /** Aborting rolls the merge back (INTERRUPTED): the main database is unchanged. */
  readonly signal?: AbortSignal
}

export interface MergeBackResult {
  readonly name: string
  readonly worktree: string
  readonly report: MergeReport
}

/**
 * Merges the results database of experiment `name`'s worktree into the main one (merge
 * accumulates: rows already there, such as the copied base, are skipped).
 *
 * @example
 * const { report } = await mergeBackExperiment({ name: 'bigger-batch' })
 * report.rowsInserted  // 30
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
  const report = await mergeResults({
    base: mainDb,
    exp: expDb,
    ...(options.dryRun ? { dryRun: true } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  })
  return { name: options.name, worktree, report }
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
