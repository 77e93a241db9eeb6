/**
 * Atomic commits to a Delta log on a local file system: the one place that creates `N.json`.
 *
 *   prepare actions → write _delta_log/.tmp/<uuid>.json (fsync) → link() it to N.json
 *     ├─ created: N is ours; unlink the temp name; checkpoint every `checkpointInterval`
 *     └─ EEXIST: another writer won N → read N (and later winners) → checkCommitRace
 *          ├─ a winner invalidates ours: COMMIT_CONFLICT naming the winning version and why
 *          └─ none: retry the same actions at N+1
 *
 * link() fails when the name exists, so two writers can never both create N.json (PROTOCOL.md,
 * Creation of New Log Entries: never overwrite a log entry). A rename would silently replace it.
 * The temp file is complete and synced before it gets its public name, so a writer killed at
 * any moment leaves either no N.json or a whole one.
 */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { DuckmergeError, messageOf } from '../../errors.js'
import type { Action, CommitInfo } from './actions.js'
import { type ConcurrentCommit, checkCommitRace, type ReadSet } from './commit-race.js'
import { commitPath, logDir, readCommit } from './log-store.js'

/** What engines see in commitInfo.engineInfo. */
export const ENGINE_INFO = 'duckmerge/0.1.0'

/**
 * What a caller adds to a commit's commitInfo, e.g. the change request a write belongs to.
 * Every write operation takes it as `commitInfo`.
 *
 * @example
 * await appendTable({ path, source, commitInfo: {
 *   userMetadata: 'change request 42 by ana', operationParameters: { changeRequest: 42 } } })
 */
export interface CommitMetadata {
  /** Spark's commitInfo.userMetadata: free text, shown by `history`. */
  readonly userMetadata?: string
  /** Added to commitInfo.operationParameters beside the operation's own (which they may not replace). */
  readonly operationParameters?: Readonly<Record<string, unknown>>
}

export interface CommitOptions {
  /** The version the transaction read; null when it creates the table (commits version 0). */
  readonly readVersion: number | null
  /** Spark's operation name: 'WRITE', 'CREATE TABLE', 'DELETE', 'VACUUM START', … */
  readonly operation: string
  /** Written as strings, as Spark does (arrays and objects as JSON). */
  readonly operationParameters?: Readonly<Record<string, unknown>>
  /** Written as strings, as Spark does (numFiles, numOutputRows, …). */
  readonly operationMetrics?: Readonly<Record<string, number | string>>
  /** True when the commit only adds files and read nothing (no race check on adds). */
  readonly isBlindAppend?: boolean
  /** What the transaction read, for the race check after a lost race. Default: nothing. */
  readonly reads?: ReadSet
  /** Give up after this many lost races without an invalidating winner. Default 10 000. */
  readonly maxAttempts?: number
  /**
   * Called with the committed version (after the commit is durable); used to write checkpoints.
   * Its failure does not undo the commit: the returned `afterCommitError` reports it.
   */
  readonly afterCommit?: (version: number) => Promise<void>
  /** Set commitInfo.inCommitTimestamp (tables with delta.enableInCommitTimestamps). */
  readonly inCommitTimestamp?: boolean
  /** The caller's own entries (userMetadata, extra operationParameters). */
  readonly commitInfo?: CommitMetadata | undefined
}

export interface CommitResult {
  readonly version: number
  /** How many versions were tried (1 when nobody raced us). */
  readonly attempts: number
  readonly commitInfo: CommitInfo
  readonly afterCommitError?: string
}

/**
 * Commits `actions` as the next version of the table: exclusive creation of `N.json`, race
 * check and retry at N+1 after a lost race, COMMIT_CONFLICT when a winner invalidates what this
 * transaction read. A commitInfo action (timestamp, operation, parameters, metrics, engineInfo)
 * is written first.
 *
 * @example
 * const { version } = await commit('/data/events', [{ add }], {
 *   readVersion: 4, operation: 'WRITE', operationParameters: { mode: 'Append', partitionBy: [] },
 *   operationMetrics: { numFiles: 1, numOutputRows: 10, numOutputBytes: 1234 }, isBlindAppend: true,
 * })
 */
export async function commit(
  tablePath: string,
  actions: readonly Action[],
  options: CommitOptions,
): Promise<CommitResult> {
  validateActions(actions)
  validateCommitMetadata(tablePath, options)
  const dir = logDir(tablePath)
  const tmpDir = join(dir, '.tmp')
  await fs.mkdir(tmpDir, { recursive: true })
  const reads = options.reads ?? { files: [], scope: 'none' }
  const maxAttempts = options.maxAttempts ?? 10_000
  let version = options.readVersion === null ? 0 : options.readVersion + 1

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const commitInfo = buildCommitInfo(options)
    const text = `${[{ commitInfo }, ...actions].map((a) => JSON.stringify(a)).join('\n')}\n`
    const temp = join(tmpDir, `${String(version).padStart(20, '0')}.json.${randomUUID()}.tmp`)
    await writeSynced(temp, text)
    let created = false
    try {
      await fs.link(temp, commitPath(tablePath, version))
      created = true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        await fs.rm(temp, { force: true })
        throw new DuckmergeError(
          'OUTPUT_UNWRITABLE',
          `Cannot create Delta commit ${commitPath(tablePath, version)}: ${messageOf(error)}`,
          { path: commitPath(tablePath, version) },
        )
      }
    }
    await fs.rm(temp, { force: true })
    if (created) {
      await syncDir(dir)
      let afterCommitError: string | undefined
      if (options.afterCommit)
        await options.afterCommit(version).catch((error: unknown) => {
          afterCommitError = messageOf(error)
        })
      return {
        version,
        attempts: attempt,
        commitInfo,
        ...(afterCommitError === undefined ? {} : { afterCommitError }),
      }
    }
    // Lost the race for `version`: read every winner up to the current end of the log.
    const winners: ConcurrentCommit[] = []
    for (let v = version; ; v++) {
      const winnerActions = await readCommit(tablePath, v).catch((error: unknown) => {
        if (error instanceof DuckmergeError && error.code === 'VERSION_NOT_FOUND') return undefined
        throw error
      })
      if (!winnerActions) break
      winners.push({ version: v, actions: winnerActions })
    }
    const race = checkCommitRace(actions, reads, winners)
    if (race) {
      const what = options.readVersion === null ? 'create' : `${options.operation} on`
      throw new DuckmergeError(
        'COMMIT_CONFLICT',
        `Cannot ${what} Delta table ${tablePath}: version ${race.version} was committed concurrently and ${race.detail} (${race.reason}). Re-run the operation on the new version.`,
        { path: tablePath, version: race.version, reason: race.reason },
      )
    }
    version += Math.max(1, winners.length)
  }
  throw new DuckmergeError(
    'COMMIT_CONFLICT',
    `Cannot commit to Delta table ${tablePath}: lost the race for a version ${maxAttempts} times in a row. Retry when fewer writers are active.`,
    { path: tablePath },
  )
}

function buildCommitInfo(options: CommitOptions): CommitInfo {
  const timestamp = Date.now()
  const info: Record<string, unknown> = { timestamp }
  if (options.inCommitTimestamp) info.inCommitTimestamp = timestamp
  info.operation = options.operation
  info.operationParameters = stringValues({
    ...options.operationParameters,
    ...options.commitInfo?.operationParameters,
  })
  if (options.readVersion !== null) info.readVersion = options.readVersion
  info.isolationLevel = 'WriteSerializable'
  info.isBlindAppend = options.isBlindAppend ?? false
  info.operationMetrics = stringValues(options.operationMetrics ?? {})
  if (options.commitInfo?.userMetadata !== undefined)
    info.userMetadata = options.commitInfo.userMetadata
  info.engineInfo = ENGINE_INFO
  info.txnId = randomUUID()
  return info as CommitInfo
}

/** Spark writes operationParameters and operationMetrics as strings (JSON for lists). */
function stringValues(values: Readonly<Record<string, unknown>>): Record<string, string | null> {
  const out: Record<string, string | null> = {}
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue
    out[key] =
      value === null
        ? null
        : typeof value === 'string'
          ? value
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value)
  }
  return out
}

/**
 * PROTOCOL.md, Delta Log Entries: one commit holds at most one metaData, one protocol, one txn
 * per appId, and one add / one remove per path. A violation is a bug in the caller.
 */
function validateActions(actions: readonly Action[]): void {
  const seen = new Set<string>()
  const once = (key: string, what: string) => {
    if (seen.has(key))
      throw new DuckmergeError(
        'INTERNAL',
        `Refusing to commit: ${what} appears twice in one commit.`,
      )
    seen.add(key)
  }
  for (const a of actions) {
    if ('metaData' in a) once('metaData', 'a metaData action')
    else if ('protocol' in a) once('protocol', 'a protocol action')
    else if ('txn' in a) once(`txn:${a.txn.appId}`, `txn appId "${a.txn.appId}"`)
    else if ('add' in a) once(`add:${a.add.path}`, `add ${a.add.path}`)
    else if ('remove' in a) once(`remove:${a.remove.path}`, `remove ${a.remove.path}`)
    else if ('commitInfo' in a)
      throw new DuckmergeError('INTERNAL', 'commit() writes commitInfo itself; do not pass one.')
  }
}

/** The caller's operationParameters add to the operation's own; replacing one would misreport it. */
function validateCommitMetadata(tablePath: string, options: CommitOptions): void {
  const own = options.operationParameters ?? {}
  const clashes = Object.keys(options.commitInfo?.operationParameters ?? {}).filter((k) =>
    Object.hasOwn(own, k),
  )
  if (clashes.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot commit ${options.operation} to Delta table ${tablePath}: operation parameter${clashes.length > 1 ? 's' : ''} ${clashes.map((k) => `"${k}"`).join(', ')} belong${clashes.length > 1 ? '' : 's'} to the operation itself (its parameters: ${Object.keys(own).join(', ')}); choose other names.`,
      { table: tablePath, parameters: clashes },
    )
}

async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await fs.open(path, 'wx')
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Makes the new directory entry durable (a power loss after return keeps N.json). Best effort. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r').catch(() => undefined)
  if (!handle) return
  try {
    await handle.sync()
  } catch {
    // Some file systems cannot sync a directory; the commit is still atomic.
  } finally {
    await handle.close()
  }
}
