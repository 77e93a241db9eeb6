/**
 * duckmerge/delta: Delta Lake tables in TypeScript (reader, writer, MERGE, time travel).
 * Every export is listed by name.
 */
export type * from './actions.js'
export type * from './schema.js'
export type { Snapshot, SnapshotOptions } from './snapshot-types.js'

// reader

// writer

// merge and backfill
