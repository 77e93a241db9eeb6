/**
 * duckmerge library API. Every export is listed by name; anything not exported here is internal.
 * Delta Lake tables have their own entry point: `duckmerge/delta`.
 */
export {
  DuckmergeError,
  type ErrorCode,
  hintOf,
  type Issue,
  isDuckmergeError,
  renderHint,
} from './errors.js'
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

export {
  type ArtifactsModelReport,
  type ArtifactsOptions,
  type ArtifactsReport,
  type DataArtifact,
  type ModelArtifact,
  type ModelStrategy,
  mergeArtifacts,
  type ResultsArtifact,
} from './merge/artifacts.js'
export {
  type ArtifactParams,
  type GroupParams,
  parseArtifactParams,
  readArtifactParams,
} from './merge/artifacts-params.js'

// experiment tracking and exploring

export {
  EventStore,
  type EventStoreOptions,
  type ImportReport,
  type NewEvent,
} from './track/event-store.js'
export type { ArchiveOptions, ArchiveReport } from './track/event-store-archive.js'
export { type EventView, eventViews } from './track/event-views.js'
export { Tracker, type TrackerEngine, type TrackerOptions } from './track/tracker.js'

// experiment explorer and versioning (exp list/diff/get/tag/worktree/merge-back/plot)

export {
  type ArtifactResult,
  type GetArtifactOptions,
  getArtifact,
} from './track/explorer-artifact.js'
export {
  type DiffExperimentsOptions,
  diffExperiments,
  type ExperimentDiff,
  type MetricDiff,
  type ParamChange,
  type ParamValue,
} from './track/explorer-diff.js'
export {
  type ExperimentList,
  type ExperimentSummary,
  type ExperimentTag,
  type ListExperimentsOptions,
  listExperiments,
} from './track/explorer-list.js'
export type { ResultsSourceOptions } from './track/explorer-source.js'
export type { MetricStats, VersionStats } from './track/explorer-stats.js'
export {
  createExperimentWorktree,
  type MergeBackOptions,
  type MergeBackResult,
  mergeBackExperiment,
  type WorktreeOptions,
  type WorktreeResult,
} from './track/explorer-worktree.js'
export type { DiffStat, DiffStatFile } from './track/git-tags.js'
export {
  type Band,
  type PlotMetricOptions,
  type PlotPoint,
  type PlotResult,
  plotMetric,
  type XScale,
} from './track/plot.js'
export {
  type Bump,
  type SuggestVersionOptions,
  suggestVersion,
  type VersionSuggestion,
} from './track/versioning.js'
export { type TagExperimentOptions, type TagResult, tagExperiment } from './track/versioning-tag.js'

// SQLite → DuckDB migration (duckmerge migrate)

export {
  type MigratedColumn,
  type MigratedTable,
  type MigrateOptions,
  type MigrationReport,
  migrateSqliteToDuckDb,
  type NestRows,
} from './formats/sqlite/migrate.js'

// three-way merge (merge3, the git merge driver, change requests)

export { diffRelations } from './merge/diff.js'
export {
  type Merge3Options,
  type Merge3Report,
  type Merge3TableReport,
  merge3,
  readResolutions,
} from './merge/merge3.js'
export { applyThreeWay, mergedRows, threeWayMerge } from './merge/three-way.js'
export type {
  Cell,
  Conflict,
  ConflictKind,
  DiffOptions,
  DiffResult,
  DiffRow,
  DiffSummary,
  MergedColumn,
  MergeRule,
  Relation,
  Resolution,
  Row,
  RowKey,
  Side,
  SideCounts,
  ThreeWayOptions,
  ThreeWayPlan,
  ThreeWayResult,
} from './merge/three-way-types.js'

// change request review (diff, conflicts)

export {
  type ChangeConflictItem,
  type ChangeConflictKind,
  type ChangeRequestConflicts,
  type ConflictCell,
  type ConflictsOptions,
  conflictItems,
  conflictsOfChangeRequest,
} from './changes/conflicts-change-request.js'
export {
  type ChangeRequestDiff,
  type ChangeRequestDiffRow,
  type ChangeRequestDiffSummary,
  type DiffAgainst,
  type DiffChangeRequestOptions,
  type DiffKind,
  diffChangeRequest,
} from './changes/diff-change-request.js'
export { diffPage, diffSummary } from './merge/diff.js'
export type { ConflictCounts, DiffPage } from './merge/three-way-types.js'
