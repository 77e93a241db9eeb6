/**
 * duckmerge/delta: Delta Lake tables in TypeScript (reader, writer, MERGE, time travel).
 * Every export is listed by name.
 */
export type * from './actions.js'
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
export type * from './schema.js'

// reader
export {
  deltaToDuckDbType,
  duckDbToDeltaType,
  parseDataType,
  parseSchema,
  schemaToJson,
  typeToString,
} from './schema.js'
export type { Snapshot, SnapshotOptions } from './snapshot-types.js'

// writer

// merge and backfill
