/**
 * duckmerge library API. Every export is listed by name; anything not exported here is internal.
 * Delta Lake tables have their own entry point: `duckmerge/delta`.
 */
export { DuckmergeError, type ErrorCode, isDuckmergeError } from './errors.js'
export type { MergeReport, Strategy, TableReport } from './merge/report.js'
export type { Progress, ProgressCallback } from './progress.js'

// results databases (SQLite, DuckDB)

// Parquet datasets

// model files

// artifacts (combined, DVC stage)

// experiment tracking and exploring
