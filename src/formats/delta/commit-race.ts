/**
 * Decides whether a transaction that lost the race for version N may retry at N+1 (optimistic
 * concurrency). A lost race is a `CommitRace`, never a data conflict ("conflict" is kept for rows
 * two sides changed differently).
 */
import type { Action, AddFile, RemoveFile } from './actions.js'

/**
 * What the losing transaction read from the table, at its read version.
 * - `files`: the live files it read (its result depends on them): a winner removing one conflicts.
 * - `scope`: which files a winner could add that the transaction would have read: `'none'` for a
 *   blind append, `'all'` for a scan of the whole table, or a test on an add (e.g. the partitions
 *   a replaceWhere reads).
 */
export interface ReadSet {
  readonly files: readonly Pick<AddFile, 'path' | 'deletionVector'>[]
  readonly scope: 'none' | 'all' | ((add: AddFile) => boolean)
}

/** Why a concurrent commit makes ours invalid (the names of Delta's concurrency exceptions). */
export type CommitRaceReason =
  | 'protocol-changed' // ProtocolChangedException
  | 'metadata-changed' // MetadataChangedException
  | 'concurrent-append' // ConcurrentAppendException: files added into what we read
  | 'concurrent-delete-read' // ConcurrentDeleteReadException: a file we read was removed
  | 'concurrent-delete-delete' // ConcurrentDeleteDeleteException: the same file removed twice
  | 'concurrent-transaction' // ConcurrentTransactionException: the same txn appId

/** A concurrent commit that invalidates ours: the transaction must be re-run, not retried. */
export interface CommitRace {
  readonly version: number
  readonly reason: CommitRaceReason
  /** One line for people: what the winner did. */
  readonly detail: string
}

export interface ConcurrentCommit {
  readonly version: number
  readonly actions: readonly Action[]
}

/**
 * Checks our actions and read set against the commits that won the race, in version order.
 * Returns the first winner that invalidates ours, or undefined when retrying at the next version is safe.
 * Follows Delta's WriteSerializable isolation: files added by a winner that was itself a blind
 * append never conflict (its rows are serialized after ours), unless our transaction changes
 * the metadata.
 *
 * @example
 * const race = checkCommitRace(ourActions, { files: readFiles, scope: 'all' }, winners)
 * if (race) throw new DuckmergeError('COMMIT_CONFLICT', `... version ${race.version}: ${race.detail}`)
 */
export function checkCommitRace(
  ours: readonly Action[],
  reads: ReadSet,
  winners: readonly ConcurrentCommit[],
): CommitRace | undefined {
  const readKeys = new Set(reads.files.map(fileKey))
  const ourRemoves = new Set(
    ours.flatMap((a) => ('remove' in a && a.remove.dataChange ? [fileKey(a.remove)] : [])),
  )
  const ourApps = new Set(ours.flatMap((a) => ('txn' in a ? [a.txn.appId] : [])))
  // A transaction that changes the metadata sees blind appends too (Delta's conflict checker).
  const changesMetadata = ours.some((a) => 'metaData' in a)

  for (const winner of winners) {
    const race = (reason: CommitRaceReason, detail: string): CommitRace => ({
      version: winner.version,
      reason,
      detail,
    })
    const isBlindAppend = winner.actions.some(
      (a) => 'commitInfo' in a && a.commitInfo.isBlindAppend === true,
    )
    for (const action of winner.actions) {
      if ('protocol' in action) return race('protocol-changed', 'it changed the table protocol')
      if ('metaData' in action)
        return race('metadata-changed', 'it changed the table metadata (schema or properties)')
      if ('txn' in action && ourApps.has(action.txn.appId))
        return race(
          'concurrent-transaction',
          `it committed txn appId "${action.txn.appId}" version ${action.txn.version} too`,
        )
      const seesAdd = !isBlindAppend || changesMetadata
      if ('add' in action && action.add.dataChange && seesAdd && touches(reads, action.add))
        return race(
          'concurrent-append',
          `it added ${action.add.path}, which this transaction would have read`,
        )
      if ('remove' in action && action.remove.dataChange) {
        const key = fileKey(action.remove)
        if (ourRemoves.has(key))
          return race(
            'concurrent-delete-delete',
            `it removed ${action.remove.path}, which this transaction removes too`,
          )
        if (readKeys.has(key))
          return race(
            'concurrent-delete-read',
            `it removed ${action.remove.path}, which this transaction read`,
          )
      }
    }
  }
  return undefined
}

function touches(reads: ReadSet, add: AddFile): boolean {
  if (reads.scope === 'none') return false
  if (reads.scope === 'all') return true
  return reads.scope(add)
}

/** PROTOCOL.md, Add File and Remove File: a logical file is (path, deletion vector id). */
function fileKey(file: Pick<AddFile | RemoveFile, 'path' | 'deletionVector'>): string {
  const dv = file.deletionVector
  if (!dv) return file.path
  return `${file.path}\0${dv.storageType}${dv.pathOrInlineDv}@${dv.offset ?? ''}`
}
