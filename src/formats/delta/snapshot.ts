/**
 * Loading a Delta table's state at a version (PROTOCOL.md, Action Reconciliation): the newest
 * usable checkpoint, then the JSON commits after it, replayed in order.
 *
 *   list _delta_log → pick version (latest | N | as of timestamp)
 *     → newest complete checkpoint ≤ N (fall back to older ones, then to 0.json… on failure)
 *     → replay commits checkpoint+1 … N → assertReadable → load deletion vectors
 */
import { resolve } from 'node:path'
import { DuckDb } from '../../engine/duckdb.js'
import { DuckmergeError } from '../../errors.js'
import type {
  Action,
  AddFile,
  CommitInfo,
  DomainMetadata,
  Metadata,
  Protocol,
  RemoveFile,
  Txn,
} from './actions.js'
import { cachedCheckpoint, checkpointCached } from './checkpoint-cache.js'
import type { CheckpointContents } from './checkpoint-read.js'
import { dvId, readDeletionVector } from './deletion-vectors.js'
import { versionAtTimestamp } from './history.js'
import {
  type CheckpointEntry,
  commitModificationTime,
  commitPath,
  type LogListing,
  listLog,
  readCommit,
  readLastCheckpoint,
} from './log-store.js'
import { assertReadable } from './protocol-support.js'
import { parseSchema } from './schema.js'
import type { Snapshot, SnapshotOptions } from './snapshot-types.js'

/**
 * Loads the state of a Delta table: the latest version, `version`, or the version current at
 * `timestamp`. Refuses (UNSUPPORTED_FEATURE) a table whose protocol duckmerge cannot read before
 * touching any data file; a version that cannot be reconstructed is VERSION_NOT_FOUND naming the
 * earliest available one.
 *
 * @example
 * const snap = await loadSnapshot('/data/events', { version: 3 })
 * snap.files.length // live data files at version 3
 */
export async function loadSnapshot(
  tablePath: string,
  options: SnapshotOptions = {},
): Promise<Snapshot> {
  const table = resolve(tablePath)
  const listing = await listLog(table)
  const latest = Math.max(
    listing.commits.at(-1)?.version ?? -1,
    listing.checkpoints.at(-1)?.version ?? -1,
  )
  if (latest < 0)
    throw new DuckmergeError(
      'INPUT_NOT_FOUND',
      `${table} is not a Delta table: its _delta_log has no commit files.`,
      { path: table },
    )
  return withDb(options, listing, async (db) => {
    let version = latest
    if (options.version !== undefined) {
      version = options.version
      if (!Number.isSafeInteger(version) || version < 0)
        throw new DuckmergeError(
          'USAGE',
          `Delta version must be a whole number >= 0, got ${version}.`,
          {
            version,
          },
        )
      if (version > latest)
        throw new DuckmergeError(
          'VERSION_NOT_FOUND',
          `Delta table ${table} has no version ${version}: the latest is ${latest}.`,
          { table, version, latest },
        )
    } else if (options.timestamp !== undefined) {
      const head = await replay(db, table, listing, latest)
      version = await versionAtTimestamp(table, head.metadata, earliestVersion(listing), latest, {
        timestamp: options.timestamp,
        source: options.timestampSource ?? 'modification-time',
      })
    }
    const state = await replay(db, table, listing, version)
    assertReadable(state.protocol, table)
    return finish(table, version, state)
  })
}

async function withDb<T>(
  options: SnapshotOptions,
  listing: LogListing,
  fn: (db: Lazy) => Promise<T>,
): Promise<T> {
  let opening: Promise<DuckDb> | undefined
  const lazy: Lazy = () => {
    if (options.db) return Promise.resolve(options.db)
    opening ??= DuckDb.open({ threads: 2 })
    return opening
  }
  // A checkpoint not read before will most likely be read: open DuckDB while the log is read.
  const newest = listing.checkpoints.at(-1)
  if (newest && !options.db && !checkpointCached(newest.path)) lazy().catch(() => undefined)
  try {
    return await fn(lazy)
  } finally {
    if (opening) (await opening.catch(() => undefined))?.close()
  }
}

type Lazy = () => Promise<DuckDb>

interface ReplayState {
  protocol: Protocol
  metadata: Metadata
  files: Map<string, AddFile>
  tombstones: Map<string, RemoveFile>
  txns: Map<string, Txn>
  domains: Map<string, DomainMetadata>
  lastCommitInfo: CommitInfo | undefined
  checkpointVersion: number | undefined
}

/** The earliest version whose state can be rebuilt: 0 with 0.json, else the oldest checkpoint. */
export function earliestVersion(listing: LogListing): number {
  if (listing.commits[0]?.version === 0) return 0
  const complete = checkpointGroups(listing).map((g) => g[0]?.version ?? 0)
  return complete.length > 0 ? Math.min(...complete) : (listing.commits[0]?.version ?? 0)
}

/** Checkpoints grouped by version (and by v2 file), complete ones only, newest first. */
function checkpointGroups(listing: LogListing): CheckpointEntry[][] {
  const groups: CheckpointEntry[][] = []
  const multi = new Map<string, CheckpointEntry[]>()
  for (const cp of listing.checkpoints) {
    if (cp.kind !== 'multi-part') groups.push([cp])
    else {
      const key = `${cp.version}/${cp.parts}`
      const list = multi.get(key) ?? []
      list.push(cp)
      multi.set(key, list)
    }
  }
  for (const parts of multi.values()) {
    // PROTOCOL.md, Multi-part checkpoint: usable only when every part 1..n is present.
    const n = parts[0]?.parts ?? 0
    if (new Set(parts.map((p) => p.part)).size === n) groups.push(parts)
  }
  return groups.sort((a, b) => (b[0]?.version ?? 0) - (a[0]?.version ?? 0))
}

async function replay(
  db: Lazy,
  table: string,
  listing: LogListing,
  version: number,
): Promise<ReplayState> {
  const commits = new Set(listing.commits.map((c) => c.version))
  const hint = await readLastCheckpoint(table)
  const failures: DuckmergeError[] = []
  let checkpoint: CheckpointContents | undefined
  for (const group of checkpointGroups(listing)) {
    const cpVersion = group[0]?.version ?? 0
    if (cpVersion > version) continue
    try {
      const contents = await cachedCheckpoint(db, table, group)
      // PROTOCOL.md, Last Checkpoint File: `size` is the number of actions in the checkpoint.
      if (hint?.version === cpVersion && hint.size !== undefined && group[0]?.kind !== 'v2')
        if (hint.size !== contents.size)
          throw new DuckmergeError(
            'DELTA_LOG_INVALID',
            `Delta checkpoint ${group[0]?.path} has ${contents.size} actions but _last_checkpoint says ${hint.size}.`,
            { path: group[0]?.path },
          )
      checkpoint = contents
      break
    } catch (error) {
      if (!(error instanceof DuckmergeError)) throw error
      failures.push(error)
    }
  }
  const start = checkpoint ? checkpoint.version + 1 : 0
  if (!checkpoint && !commits.has(0)) {
    if (failures[0]) throw fallbackImpossible(table, failures[0])
    throw new DuckmergeError(
      'VERSION_NOT_FOUND',
      `Delta table ${table} cannot be read at version ${version}: the log before it was cleaned up. The earliest available version is ${earliestVersion(listing)}.`,
      { table, version, earliest: earliestVersion(listing) },
    )
  }
  for (let v = start; v <= version; v++)
    if (!commits.has(v)) {
      if (failures[0] && !checkpoint) throw fallbackImpossible(table, failures[0])
      throw new DuckmergeError(
        'DELTA_LOG_INVALID',
        `Delta table ${table} is missing commit file ${commitPath(table, v)} needed for version ${version}.`,
        { table, path: commitPath(table, v), version },
      )
    }
  const state = newState()
  if (checkpoint) {
    state.checkpointVersion = checkpoint.version
    for (const action of checkpoint.actions) apply(state, action)
  }
  // Commits are read a window at a time (bounded open files) and applied in version order.
  for (let from = start; from <= version; from += 64) {
    const window: Promise<Action[]>[] = []
    for (let v = from; v <= Math.min(version, from + 63); v++) window.push(readCommit(table, v))
    for (const actions of await Promise.all(window)) {
      state.lastCommitInfo = undefined
      for (const action of actions) apply(state, action)
    }
  }
  if (!state.protocol || !state.metadata)
    throw new DuckmergeError(
      'DELTA_LOG_INVALID',
      `Delta table ${table} has no ${state.protocol ? 'metaData' : 'protocol'} action up to version ${version}; the log is incomplete.`,
      { table, version },
    )
  return state as ReplayState
}

function fallbackImpossible(table: string, failure: DuckmergeError): DuckmergeError {
  return new DuckmergeError(
    'DELTA_LOG_INVALID',
    `${failure.message} The commits before it were cleaned up, so ${table} cannot be read without it; restore the checkpoint.`,
    { ...failure.details, table },
    { cause: failure },
  )
}

type Partial_ = Omit<ReplayState, 'protocol' | 'metadata'> & {
  protocol?: Protocol
  metadata?: Metadata
}

function newState(): Partial_ {
  return {
    files: new Map(),
    tombstones: new Map(),
    txns: new Map(),
    domains: new Map(),
    lastCommitInfo: undefined,
    checkpointVersion: undefined,
  }
}

/** File identity: the decoded path plus the deletion vector's id (PROTOCOL.md, Add File). */
export function fileKey(file: {
  path: string
  deletionVector?: AddFile['deletionVector']
}): string {
  return `${safeDecode(file.path)}\u0000${dvId(file.deletionVector)}`
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

/** PROTOCOL.md, Action Reconciliation, applied in commit order. */
function apply(state: Partial_, action: Action): void {
  if ('add' in action) {
    const key = fileKey(action.add)
    state.tombstones.delete(key)
    state.files.set(key, action.add)
  } else if ('remove' in action) {
    const key = fileKey(action.remove)
    state.files.delete(key)
    state.tombstones.set(key, action.remove)
  } else if ('metaData' in action) state.metadata = action.metaData
  else if ('protocol' in action) state.protocol = action.protocol
  else if ('txn' in action) state.txns.set(action.txn.appId, action.txn)
  else if ('domainMetadata' in action) {
    const d = action.domainMetadata
    if (d.removed) state.domains.delete(d.domain)
    else state.domains.set(d.domain, d)
  } else if ('commitInfo' in action) state.lastCommitInfo = action.commitInfo
  // cdc, checkpointMetadata and sidecar actions do not change the table state.
}

async function finish(table: string, version: number, state: ReplayState): Promise<Snapshot> {
  const schema = parseSchema(state.metadata.schemaString)
  const files = [...state.files.values()]
  const deletionVectors = new Map<string, readonly number[]>()
  const withDv = files.filter((f) => f.deletionVector)
  for (let i = 0; i < withDv.length; i += 16)
    await Promise.all(
      withDv.slice(i, i + 16).map(async (f) => {
        const dv = f.deletionVector
        if (!dv || deletionVectors.has(dvId(dv))) return
        deletionVectors.set(dvId(dv), await readDeletionVector(table, dv, f.path))
      }),
    )
  const snapshot: Snapshot = {
    tablePath: table,
    version,
    timestamp: await commitTimestamp(table, version, state.lastCommitInfo),
    protocol: state.protocol,
    metadata: state.metadata,
    schema,
    partitionColumns: state.metadata.partitionColumns,
    files,
    tombstones: [...state.tombstones.values()],
    appTransactions: state.txns,
    domainMetadata: state.domains,
    deletionVectors,
    ...(state.checkpointVersion === undefined
      ? {}
      : { checkpointVersion: state.checkpointVersion }),
  }
  return snapshot
}

/** inCommitTimestamp, else commitInfo.timestamp, else the commit file's mtime (snapshot-types.ts). */
async function commitTimestamp(
  table: string,
  version: number,
  info: CommitInfo | undefined,
): Promise<number> {
  let commitInfo = info
  if (!commitInfo) {
    // The state came from a checkpoint at `version`: its commit file, if kept, has the commitInfo.
    try {
      const actions = await readCommit(table, version)
      commitInfo = actions.find(
        (a): a is { commitInfo: CommitInfo } => 'commitInfo' in a,
      )?.commitInfo
    } catch {
      commitInfo = undefined
    }
  }
  const t = commitInfo?.inCommitTimestamp ?? commitInfo?.timestamp
  if (typeof t === 'number') return t
  return commitModificationTime(table, version).catch(() => 0)
}
