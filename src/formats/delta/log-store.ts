/**
 * The files of a Delta log on local disk: naming (PROTOCOL.md, Delta Log Entries / Checkpoints),
 * listing what is there, and reading commit files into actions.
 */
import { promises as fs } from 'node:fs'
import { join, resolve } from 'node:path'
import { DuckmergeError, messageOf } from '../../errors.js'
import type { Action } from './actions.js'

/** A commit file `NNNNNNNNNNNNNNNNNNNN.json`. */
export interface CommitEntry {
  readonly version: number
  readonly path: string
}

/**
 * A checkpoint file. PROTOCOL.md, Checkpoints: classic `n.checkpoint.parquet`, multi-part
 * `n.checkpoint.o.p.parquet` (one entry per part), v2 `n.checkpoint.<uuid>.json|parquet`.
 */
export interface CheckpointEntry {
  readonly version: number
  readonly kind: 'classic' | 'multi-part' | 'v2'
  readonly path: string
  readonly format: 'parquet' | 'json'
  /** Multi-part only: this part (1-based) and the number of parts. */
  readonly part?: number
  readonly parts?: number
}

export interface LogListing {
  /** Commit files, ascending by version. */
  readonly commits: readonly CommitEntry[]
  /** Checkpoint files, ascending by version (several entries per version are possible). */
  readonly checkpoints: readonly CheckpointEntry[]
}

/** The `_last_checkpoint` hint (PROTOCOL.md, Last Checkpoint File). Only a hint: verify it. */
export interface LastCheckpoint {
  readonly version: number
  readonly size?: number
  readonly parts?: number
  readonly sizeInBytes?: number
  readonly numOfAddFiles?: number
  readonly v2Checkpoint?: { readonly path: string } | null
  readonly checksum?: string
}

const COMMIT = /^(\d{20})\.json$/
const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/
const MULTI = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/
const V2 = /^(\d{20})\.checkpoint\.([0-9a-fA-F-]{36})\.(json|parquet)$/

/** `<table>/_delta_log`, absolute. @example logDir('t') // '/cwd/t/_delta_log' */
export function logDir(table: string): string {
  return join(resolve(table), '_delta_log')
}

/** @example commitFileName(7) // '00000000000000000007.json' */
export function commitFileName(version: number): string {
  return `${padVersion(version)}.json`
}

/** The absolute path of commit `version`. */
export function commitPath(table: string, version: number): string {
  return join(logDir(table), commitFileName(version))
}

/** @example padVersion(7) // '00000000000000000007' */
export function padVersion(version: number): string {
  if (!Number.isSafeInteger(version) || version < 0)
    throw new DuckmergeError('USAGE', `Delta version must be a whole number >= 0, got ${version}`)
  return String(version).padStart(20, '0')
}

/**
 * Lists the commit and checkpoint files of a table's log. Anything else (`.crc`, `.tmp/`,
 * `_last_checkpoint`, compacted logs, hidden files) is ignored. Throws INPUT_NOT_FOUND when the
 * table has no `_delta_log` folder.
 *
 * @example
 * const { commits, checkpoints } = await listLog('/data/events')
 */
export async function listLog(table: string): Promise<LogListing> {
  const dir = logDir(table)
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch (error) {
    throw notATable(table, error)
  }
  const commits: CommitEntry[] = []
  const checkpoints: CheckpointEntry[] = []
  for (const name of names) {
    let m = COMMIT.exec(name)
    if (m) {
      commits.push({ version: Number(m[1]), path: join(dir, name) })
      continue
    }
    m = CLASSIC.exec(name)
    if (m) {
      checkpoints.push({
        version: Number(m[1]),
        kind: 'classic',
        path: join(dir, name),
        format: 'parquet',
      })
      continue
    }
    m = MULTI.exec(name)
    if (m) {
      checkpoints.push({
        version: Number(m[1]),
        kind: 'multi-part',
        path: join(dir, name),
        format: 'parquet',
        part: Number(m[2]),
        parts: Number(m[3]),
      })
      continue
    }
    m = V2.exec(name)
    if (m) {
      checkpoints.push({
        version: Number(m[1]),
        kind: 'v2',
        path: join(dir, name),
        format: m[3] === 'json' ? 'json' : 'parquet',
      })
    }
  }
  commits.sort((a, b) => a.version - b.version)
  checkpoints.sort((a, b) => a.version - b.version || (a.part ?? 0) - (b.part ?? 0))
  return { commits, checkpoints }
}

/**
 * The newest version in the log: the highest commit file (or checkpoint, if its commit file was
 * cleaned up). Throws INPUT_NOT_FOUND when the folder is not a Delta table.
 *
 * @example
 * await latestVersion('/data/events') // 12
 */
export async function latestVersion(table: string): Promise<number> {
  const { commits, checkpoints } = await listLog(table)
  const last = Math.max(commits.at(-1)?.version ?? -1, checkpoints.at(-1)?.version ?? -1)
  if (last < 0)
    throw new DuckmergeError(
      'INPUT_NOT_FOUND',
      `${resolve(table)} is not a Delta table: ${logDir(table)} has no commit files.`,
      { path: table },
    )
  return last
}

/**
 * Reads commit `version` into its actions, in file order. Throws VERSION_NOT_FOUND when the file
 * is missing and DELTA_LOG_INVALID (naming the file and line) when a line is not a JSON action.
 *
 * @example
 * const actions = await readCommit('/data/events', 3)
 * const adds = actions.flatMap((a) => ('add' in a ? [a.add] : []))
 */
export async function readCommit(table: string, version: number): Promise<Action[]> {
  const path = commitPath(table, version)
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DuckmergeError(
        'VERSION_NOT_FOUND',
        `Delta commit ${version} of ${resolve(table)} does not exist (${path}).`,
        { path, version },
      )
    throw new DuckmergeError('INPUT_UNREADABLE', `Cannot read ${path}: ${messageOf(error)}`, {
      path,
    })
  }
  return parseActions(text, path)
}

/**
 * Parses newline-delimited JSON actions (a commit file, or a v2 checkpoint / sidecar in JSON).
 * Every non-blank line must be a JSON object; anything else is DELTA_LOG_INVALID naming `path`.
 */
export function parseActions(text: string, path: string): Action[] {
  const actions: Action[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim()
    if (!line) continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (error) {
      throw new DuckmergeError(
        'DELTA_LOG_INVALID',
        `Delta log file ${path} is corrupt at line ${i + 1}: ${messageOf(error)}. The file may be truncated; restore it from a backup or remove the unfinished commit.`,
        { path, line: i + 1 },
      )
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new DuckmergeError(
        'DELTA_LOG_INVALID',
        `Delta log file ${path} line ${i + 1} is not an action object.`,
        { path, line: i + 1 },
      )
    actions.push(value as Action)
  }
  return actions
}

/**
 * Reads `_last_checkpoint`. Returns undefined when it is missing or unreadable: PROTOCOL.md,
 * Last Checkpoint File, makes it an optimisation, so a reader falls back to listing.
 */
export async function readLastCheckpoint(table: string): Promise<LastCheckpoint | undefined> {
  try {
    const value = JSON.parse(
      await fs.readFile(join(logDir(table), '_last_checkpoint'), 'utf8'),
    ) as unknown
    if (typeof value !== 'object' || value === null) return undefined
    const v = value as Record<string, unknown>
    if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version)) return undefined
    return v as unknown as LastCheckpoint
  } catch {
    return undefined
  }
}

/** The mtime of commit `version` in ms (what Spark and delta-rs use as its timestamp). */
export async function commitModificationTime(table: string, version: number): Promise<number> {
  const path = commitPath(table, version)
  try {
    return (await fs.stat(path)).mtimeMs
  } catch {
    throw new DuckmergeError(
      'VERSION_NOT_FOUND',
      `Delta commit ${version} of ${resolve(table)} does not exist (${path}).`,
      { path, version },
    )
  }
}

function notATable(table: string, error: unknown): DuckmergeError {
  const abs = resolve(table)
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new DuckmergeError(
      'INPUT_NOT_FOUND',
      `${abs} is not a Delta table: no _delta_log folder found.`,
      { path: abs, hint: "Give the table's root folder (the one holding _delta_log)." },
    )
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `Cannot list ${logDir(table)}: ${messageOf(error)}`,
    {
      path: abs,
    },
  )
}
