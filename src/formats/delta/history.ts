/**
 * A table's commit history (commitInfo per version, newest first) and time travel by timestamp
 * (PROTOCOL.md, In-Commit Timestamps; otherwise the commit file's modification time).
 */
import { resolve } from 'node:path'
import { DuckmergeError } from '../../errors.js'
import type { CommitInfo, Metadata } from './actions.js'
import { commitModificationTime, listLog, readCommit } from './log-store.js'

export interface CommitSummary {
  readonly version: number
  /** ms since epoch: inCommitTimestamp, else commitInfo.timestamp, else the file's mtime. */
  readonly timestamp: number
  readonly operation: string | null
  readonly operationParameters: Readonly<Record<string, unknown>>
  readonly operationMetrics: Readonly<Record<string, unknown>>
  /** Spark's commitInfo.userMetadata: what the writer's caller recorded (e.g. a change request). */
  readonly userMetadata: string | null
  readonly commitInfo: CommitInfo | null
}

/**
 * The commits still in the log, newest first (at most `limit`). A commit without commitInfo
 * gets operation null and its file's mtime.
 *
 * @example
 * const [last] = await history('/data/events', { limit: 1 })
 * last.operation // 'MERGE'
 */
export async function history(
  tablePath: string,
  options: { readonly limit?: number } = {},
): Promise<CommitSummary[]> {
  const table = resolve(tablePath)
  const { commits } = await listLog(table)
  const chosen = commits
    .slice()
    .reverse()
    .slice(0, options.limit ?? commits.length)
  const out: CommitSummary[] = []
  for (const { version } of chosen) {
    const info = await readCommitInfo(table, version)
    const t = info?.inCommitTimestamp ?? info?.timestamp
    out.push({
      version,
      timestamp: typeof t === 'number' ? t : await commitModificationTime(table, version),
      operation: typeof info?.operation === 'string' ? info.operation : null,
      operationParameters: info?.operationParameters ?? {},
      operationMetrics: info?.operationMetrics ?? {},
      userMetadata: typeof info?.userMetadata === 'string' ? info.userMetadata : null,
      commitInfo: info ?? null,
    })
  }
  return out
}

async function readCommitInfo(table: string, version: number): Promise<CommitInfo | undefined> {
  const actions = await readCommit(table, version)
  for (const a of actions) if ('commitInfo' in a) return a.commitInfo
  return undefined
}

/** Parses an ISO string or ms number; USAGE error naming the bad value otherwise. */
export function parseTimestamp(value: number | string): number {
  const ms = typeof value === 'number' ? value : Date.parse(value)
  if (!Number.isFinite(ms))
    throw new DuckmergeError(
      'USAGE',
      `Invalid timestamp "${value}": pass an ISO 8601 time (e.g. 2024-05-01T12:00:00Z) or ms since epoch.`,
      { value },
    )
  return ms
}

/**
 * The latest version committed at or before `timestamp`, among versions `earliest..latest`.
 * With In-Commit Timestamps enabled (delta.enableInCommitTimestamps) versions from the
 * enablement version use commitInfo.inCommitTimestamp; other versions use the commit file's
 * mtime (Spark, delta-rs) or, with source 'commit-info', commitInfo.timestamp. Timestamps are
 * made monotonic first (each at least the previous + 1 ms), as Spark's history does. A time after
 * the latest commit gives the latest version; one before the earliest is VERSION_NOT_FOUND.
 */
export async function versionAtTimestamp(
  tablePath: string,
  metadata: Metadata,
  earliest: number,
  latest: number,
  options: {
    readonly timestamp: number | string
    readonly source: 'modification-time' | 'commit-info'
  },
): Promise<number> {
  const table = resolve(tablePath)
  const target = parseTimestamp(options.timestamp)
  const config = metadata.configuration
  const ictOn = config['delta.enableInCommitTimestamps'] === 'true'
  const ictFrom = ictOn ? Number(config['delta.inCommitTimestampEnablementVersion'] ?? 0) : Infinity
  const times: number[] = []
  for (let v = earliest; v <= latest; v++) {
    let t: number
    if (v >= ictFrom || options.source === 'commit-info') {
      const info = await readCommitInfo(table, v).catch(() => undefined)
      const value = v >= ictFrom ? info?.inCommitTimestamp : info?.timestamp
      t = typeof value === 'number' ? value : await commitModificationTime(table, v)
    } else {
      t = await commitModificationTime(table, v)
    }
    const previous = times.at(-1)
    times.push(previous !== undefined && t <= previous ? previous + 1 : t)
  }
  const first = times[0] ?? 0
  if (target < first)
    throw new DuckmergeError(
      'VERSION_NOT_FOUND',
      `Delta table ${table} has no version at ${new Date(target).toISOString()}: the earliest available version is ${earliest}, committed at ${new Date(first).toISOString()}.`,
      { table, timestamp: target, earliest },
    )
  let found = earliest
  for (let i = 0; i < times.length; i++) if ((times[i] ?? Infinity) <= target) found = earliest + i
  return found
}
