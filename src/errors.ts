/** The one error type of duckmerge: a stable `code` for scripts, a message for people. */

export type ErrorCode =
  | 'USAGE' // the call itself is wrong: unknown flag, missing argument
  | 'INPUT_NOT_FOUND'
  | 'INPUT_UNREADABLE' // exists, but is not the format it should be, or is corrupt
  | 'OUTPUT_UNWRITABLE'
  | 'OUTPUT_IS_INPUT'
  | 'TABLE_NOT_FOUND'
  | 'COLUMN_NOT_FOUND'
  | 'KEY_COLUMN_MISSING'
  | 'SCHEMA_MISMATCH'
  | 'DUPLICATE_KEY'
  | 'VALIDATION_FAILED'
  | 'DELTA_LOG_INVALID'
  | 'VERSION_NOT_FOUND'
  | 'COMMIT_CONFLICT'
  | 'UNSUPPORTED_FEATURE'
  | 'LOCKED' // another writer holds the resource
  | 'NOT_FOUND' // a named thing (model, candidate, tag, experiment) does not exist
  | 'PERMISSION_DENIED'
  | 'INTERRUPTED'
  | 'INTERNAL'

/**
 * Thrown for every failure duckmerge can explain.
 *
 * @example
 * throw new DuckmergeError('KEY_COLUMN_MISSING',
 *   'Cannot rebase runs.parquet: key column "run_id" is missing in exp (columns: id, score). ' +
 *   'Pass --key with a column both sides have.', { file: 'runs.parquet', column: 'run_id' })
 */
export class DuckmergeError extends Error {
  override readonly name = 'DuckmergeError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

export function isDuckmergeError(error: unknown, code?: ErrorCode): error is DuckmergeError {
  return error instanceof DuckmergeError && (code === undefined || error.code === code)
}

/** The message of any thrown value, for wrapping lower errors into ours. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
