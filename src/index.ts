/**
 * duckmerge library API. Every export is listed by name; anything not exported here is internal.
 * Delta Lake tables have their own entry point: `duckmerge/delta`.
 */
export { DuckmergeError, type ErrorCode, isDuckmergeError } from './errors.js'
export type { MergeReport, Strategy, TableReport } from './merge/report.js'
export type { Progress, ProgressCallback } from './progress.js'

// results databases (SQLite, DuckDB)
export {
  mergeResults,
  type ResultsMergeOptions,
  type ResultsRebaseOptions,
  rebaseResults,
} from './merge/results.js'

// Parquet datasets
export {
  type Compression,
  type DataMergeOptions,
  type DataRebaseOptions,
  mergeData,
  rebaseData,
} from './merge/data.js'

// model files
export {
  type Candidate,
  type HistoryEntry,
  listModels,
  type MetricValue,
  type ModelListing,
  type ModelMergeOptions,
  type ModelMergeReport,
  type ModelRef,
  type ModelsDirOption,
  mergeModel,
  type Production,
  type Registry,
} from './merge/model.js'
export {
  type ModelPromoteOptions,
  type ModelPromoteReport,
  promoteModel,
  rollbackModel,
} from './merge/model-promote.js'
export { type ModelPruneOptions, type ModelPruneReport, pruneModels } from './merge/model-prune.js'

// artifacts (combined, DVC stage)

// experiment tracking and exploring
export type { ArchiveOptions, ArchiveReport } from './track/event-store-archive.js'
export {
  EventStore,
  type EventStoreOptions,
  type ImportReport,
  type NewEvent,
} from './track/event-store.js'
export { type EventView, eventViews } from './track/event-views.js'
export { Tracker, type TrackerEngine, type TrackerOptions } from './track/tracker.js'
