/**
 * The state of a Delta table at one version: what the reader produces and the writer builds on.
 * Implemented by `loadSnapshot` in snapshot.ts.
 */
import type { AddFile, DomainMetadata, Metadata, Protocol, RemoveFile, Txn } from './actions.js'
import type { StructType } from './schema.js'

export interface Snapshot {
  /** Absolute path of the table root. */
  readonly tablePath: string
  readonly version: number
  /** When this version was committed, ms since epoch (inCommitTimestamp, else commitInfo.timestamp, else file mtime). */
  readonly timestamp: number
  readonly protocol: Protocol
  readonly metadata: Metadata
  /** Parsed metadata.schemaString (logical names). */
  readonly schema: StructType
  readonly partitionColumns: readonly string[]
  /** Live files after reconciliation. */
  readonly files: readonly AddFile[]
  /** Remove actions still in the log (for vacuum and conflict checks). */
  readonly tombstones: readonly RemoveFile[]
  /** Latest txn per appId. */
  readonly appTransactions: ReadonlyMap<string, Txn>
  /** Latest domain metadata per domain (removed ones dropped). */
  readonly domainMetadata: ReadonlyMap<string, DomainMetadata>
}

export interface SnapshotOptions {
  /** Load this version; the latest when omitted. */
  readonly version?: number
  /** Load the latest version committed at or before this time (ms since epoch or ISO string). */
  readonly timestamp?: number | string
}
