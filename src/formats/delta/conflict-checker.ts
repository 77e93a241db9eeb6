/** Decides whether a transaction that lost the race for version N may retry at N+1 (optimistic concurrency). */
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

/** Why a winning commit makes ours invalid (the names of Delta's concurrency exceptions). */
export type ConflictReason =
  | 'protocol-changed' // ProtocolChangedException
  | 'metadata-changed' // MetadataChangedException
  | 'concurrent-append' // ConcurrentAppendException: files added into what we read
  | 'concurrent-delete-read' // ConcurrentDeleteReadException: a file we read was removed
  | 'concurrent-delete-delete' // ConcurrentDeleteDeleteException: the same file removed twice
  | 'concurrent-transaction' // ConcurrentTransactionException: the same txn appId

export interface Conflict {
  readonly version: number
  readonly reason: ConflictReason
  /** One line for people: what the winner did. */
  readonly detail: string
}

export interface WinningCommit {
  readonly version: number
  readonly actions: readonly Action[]
}

/**
 * Checks our actions and read set against the commits that won the race, in version order.
 * Returns the first logical conflict, or undefined when retrying at the next version is safe.
 * Follows Delta's WriteSerializable isolation: files added by a winner that was itself a blind
 * append never conflict (its rows are serialized after ours), unless our transaction changes
 * the metadata.
 *
 * @example
 * const conflict = checkConflicts(ourActions, { files: readFiles, scope: 'all' }, winners)
 * if (conflict) throw new DuckmergeError('COMMIT_CONFLICT', `... version ${conflict.version}: ${conflict.detail}`)
 */
export function checkConflicts(
  ours: readonly Action[],
  reads: ReadSet,
  winners: readonly WinningCommit[],
): Conflict | undefined {
  const readKeys = new Set(reads.files.map(fileKey))
  const ourRemoves = new Set(
    ours.flatMap((a) => ('remove' in a && a.remove.dataChange ? [fileKey(a.remove)] : [])),
  )
  const ourApps = new Set(ours.flatMap((a) => ('txn' in a ? [a.txn.appId] : [])))
  // A transaction that changes the metadata sees blind appends too (Delta's conflict checker).
  const changesMetadata = ours.some((a) => 'metaData' in a)

  for (const winner of winners) {
    const conflict = (reason: ConflictReason, detail: string): Conflict => ({
      version: winner.version,
      reason,
      detail,
    })
    const isBlindAppend = winner.actions.some(
      (a) => 'commitInfo' in a && a.commitInfo.isBlindAppend === true,
    )
    for (const action of winner.actions) {
      if ('protocol' in action) return conflict('protocol-changed', 'it changed the table protocol')
      if ('metaData' in action)
        return conflict('metadata-changed', 'it changed the table metadata (schema or properties)')
      if ('txn' in action && ourApps.has(action.txn.appId))
        return conflict(
          'concurrent-transaction',
          `it committed txn appId "${action.txn.appId}" version ${action.txn.version} too`,
        )
      const seesAdd = !isBlindAppend || changesMetadata
      if ('add' in action && action.add.dataChange && seesAdd && touches(reads, action.add))
        return conflict(
          'concurrent-append',
          `it added ${action.add.path}, which this transaction would have read`,
        )
      if ('remove' in action && action.remove.dataChange) {
        const key = fileKey(action.remove)
        if (ourRemoves.has(key))
          return conflict(
            'concurrent-delete-delete',
            `it removed ${action.remove.path}, which this transaction removes too`,
          )
        if (readKeys.has(key))
          return conflict(
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
