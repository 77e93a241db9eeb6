/**
 * The state of a Delta table at one version: what the reader produces and the writer builds on.
 * Implemented by `loadSnapshot` in snapshot.ts.
 */

import type { DuckDb } from '../../engine/duckdb.js'
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
  /**
   * Deleted row indexes of every live file's deletion vector, keyed by `dvId(descriptor)`
   * (deletion-vectors.ts). Loaded by loadSnapshot so that scanSql can stay synchronous.
   */
  readonly deletionVectors?: ReadonlyMap<string, readonly number[]>
  /** The checkpoint the state was loaded from, if any (its version). */
  readonly checkpointVersion?: number
}

export interface SnapshotOptions {
  /** Load this version; the latest when omitted. */
  readonly version?: number
  /** Load the latest version committed at or before this time (ms since epoch or ISO string). */
  readonly timestamp?: number | string
  /**
   * What "committed at" means for `timestamp` when In-Commit Timestamps are off:
   * 'modification-time' (default; the commit file's mtime, as Spark and delta-rs do) or
   * 'commit-info' (commitInfo.timestamp, for copies whose mtimes were lost, e.g. git clones).
   */
  readonly timestampSource?: 'modification-time' | 'commit-info'
  /** A DuckDB connection to read Parquet checkpoints with; an in-memory one is opened if omitted. */
  readonly db?: DuckDb
}
