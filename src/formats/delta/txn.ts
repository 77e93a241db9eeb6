/**
 * Idempotent writes (PROTOCOL.md, Transaction Identifiers): a writer records `txn { appId,
 * version }` in the same commit as its data, and skips a batch the table already holds.
 */
import type { Txn } from './actions.js'
import { loadSnapshot } from './snapshot.js'
import type { Snapshot } from './snapshot-types.js'

/**
 * The last version `appId` committed to the table, or undefined if it never did.
 *
 * @example
 * const done = await lastTxnVersion('/data/events', 'nightly-load')
 * if (done === undefined || done < batch) await appendTable({ path, source, txn: { appId: 'nightly-load', version: batch } })
 */
export async function lastTxnVersion(
  tablePath: string,
  appId: string,
): Promise<number | undefined> {
  return (await loadSnapshot(tablePath)).appTransactions.get(appId)?.version
}

/** True when the snapshot already holds txn `version` (or a later one) of `appId`. */
export function isTxnApplied(
  snapshot: Snapshot,
  txn: { readonly appId: string; readonly version: number } | undefined,
): boolean {
  if (!txn) return false
  const last = snapshot.appTransactions.get(txn.appId)
  return last !== undefined && last.version >= txn.version
}

/** The txn action recording a batch, stamped with the current time. */
export function txnAction(txn: { readonly appId: string; readonly version: number }): { txn: Txn } {
  return { txn: { appId: txn.appId, version: txn.version, lastUpdated: Date.now() } }
}
