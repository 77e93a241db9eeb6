/**
 * duckmerge/delta: Delta Lake tables in TypeScript (reader, writer, MERGE, time travel).
 * Every export is listed by name.
 */
export type * from './actions.js'

// reader

// The DuckDB wrapper a registered snapshot is queried through (sql is exported below).
export { DuckDb, type DuckDbOptions, withDuckDb } from '../../engine/duckdb.js'
export { type CheckpointContents, readCheckpoint } from './checkpoint-read.js'
export {
  type ColumnMappingMode,
  columnMappingMode,
  logicalValueSql,
  physicalDuckDbType,
  physicalName,
} from './column-mapping.js'
export {
  decodeZ85,
  deletionVectorPath,
  dvId,
  encodeZ85,
  parseRoaringBitmapArray,
  readDeletionVector,
  serializeRoaringBitmapArray,
} from './deletion-vectors.js'
export { type CommitSummary, history, parseTimestamp, versionAtTimestamp } from './history.js'
export {
  type CheckpointEntry,
  type CommitEntry,
  commitFileName,
  commitModificationTime,
  commitPath,
  type LastCheckpoint,
  type LogListing,
  latestVersion,
  listLog,
  logDir,
  padVersion,
  parseActions,
  readCommit,
  readLastCheckpoint,
} from './log-store.js'
export {
  dataFilePath,
  isNullPartitionValue,
  partitionValueJs,
  partitionValueSql,
  typedValue,
} from './partition-values.js'
export {
  assertReadable,
  assertWritable,
  READABLE_FEATURES,
  readerFeatures,
  WRITABLE_FEATURES,
  writerFeatures,
} from './protocol-support.js'
export {
  assertFilesExist,
  planFileGroups,
  registerSnapshot,
  type ScanOptions,
  scanSql,
} from './scan.js'
export type * from './schema.js'
export {
  deltaToDuckDbType,
  duckDbToDeltaType,
  parseDataType,
  parseSchema,
  schemaToJson,
  typeToString,
} from './schema.js'
export { earliestVersion, fileKey, loadSnapshot } from './snapshot.js'
export type { Snapshot, SnapshotOptions } from './snapshot-types.js'
export { type PruneOp, type PrunePredicate, parseStats, pruneFiles } from './stats.js'

// writer

export {
  type CheckpointResult,
  retentionMs,
  writeCheckpoint,
} from './checkpoint-write.js'
export {
  type CommitMetadata,
  type CommitOptions,
  type CommitResult,
  commit,
  ENGINE_INFO,
} from './commit.js'
export {
  type CommitRace,
  type CommitRaceReason,
  type ConcurrentCommit,
  checkCommitRace,
  type ReadSet,
} from './commit-race.js'
export { type DuckDbColumnStats, type FileStatsOptions, statsJson } from './file-stats.js'
export { type AppendOptions, appendTable } from './operations/append.js'
export { checkpoint } from './operations/checkpoint.js'
export { type CreateTableOptions, createTable, minimalProtocol } from './operations/create.js'
export { type DeleteOptions, deleteWhere } from './operations/delete.js'
export { type DeletePlan, planDelete } from './operations/delete-plan.js'
export { type OverwriteOptions, overwriteTable } from './operations/overwrite.js'
export { type DeltaSource, prepareSource } from './operations/source.js'
export { type VacuumOptions, type VacuumResult, vacuum } from './operations/vacuum.js'
export {
  checkpointIntervalOf,
  commitAndCheckpoint,
  removeOf,
  type WriteOptions,
  type WriteResult,
} from './operations/write-context.js'
export { isTxnApplied, lastTxnVersion, txnAction } from './txn.js'
export {
  type Compression,
  encodePath,
  escapePathName,
  NULL_PARTITION,
  numRecordsOf,
  type WriteFilesOptions,
  writeDataFiles,
} from './write-files.js'

// merge and backfill

// SQL fragments for merge sources, conditions and ON predicates with bound values.
export { ident, Sql, sql } from '../../engine/sql.js'
export {
  type BackfillOptions,
  type BackfillReport,
  type BatchReport,
  backfill,
  DEFAULT_BATCH_ROWS,
} from './operations/backfill/backfill.js'
export type {
  Assignments,
  ClauseKind,
  Expression,
  MergeClause,
} from './operations/merge/clauses.js'
export {
  executeMerge,
  MergeBuilder,
  type MergeOptions,
  type MergeResult,
  merge,
} from './operations/merge/merge.js'
export type { MergeMetrics } from './operations/merge/metrics.js'
export type { MergeSource } from './operations/merge/source.js'
