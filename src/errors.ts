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
  | 'MERGE_CONFLICT' // a three-way merge found conflicts no take or resolution settles
  | 'NULL_KEY' // a key column holds NULL where keys must identify rows
  | 'ALREADY_EXISTS'
  | 'INVALID_STATE' // e.g. merging a closed change request
  | 'EXPECTATIONS_FAILED' // validation rules failed on the merged preview (not bad input)
  | 'OUT_OF_MEMORY' // the engine hit its memory limit (details.hint names the option)
  | 'INVALID_CURSOR' // a page cursor this listing did not return, or from inputs since changed
  | 'UNAUTHORIZED' // no credentials, or credentials that do not check out (HTTP 401)
  | 'FORBIDDEN' // the caller is known but their role is too low (HTTP 403)
  | 'PRECONDITION_FAILED' // If-Match named a version that is no longer the head (HTTP 412)
  | 'MERGE_IN_PROGRESS' // another merge of the same change request is running
  | 'PAYLOAD_TOO_LARGE' // an upload or body over its limit (HTTP 413)
  | 'UNSUPPORTED_MEDIA_TYPE' // a body in a format the endpoint does not take (HTTP 415)
  | 'RATE_LIMITED' // too many requests (HTTP 429)

/**
 * One problem among several, gathered before failing (zod's issue shape, so the service can pass
 * zod's own issues through): `path` locates it (a column, a clause index, a rule name), `code` is
 * stable for scripts. A list of them travels as `details.issues`.
 */
export interface Issue {
  readonly path: readonly (string | number)[]
  readonly code: string
  readonly message: string
}

/**
 * What the caller can change to succeed, kept out of the message (which speaks about the data)
 * because each front end names options differently. `{field}` placeholders name library option
 * fields; the library renders them as `field`, the CLI as its flag (`--field`), the HTTP service
 * as a JSON field. Travels as `details.hint`.
 *
 * @example
 * new DuckmergeError('KEY_COLUMN_MISSING', 'Key column "run_id" is missing in runs.parquet (columns: id, score).',
 *   { file: 'runs.parquet', column: 'run_id', hint: 'Pass {key} with a column both sides have.' })
 */
export function renderHint(hint: string, name: (field: string) => string): string {
  return hint.replace(/\{([\w.]+)\}/g, (_, field: string) => name(field))
}

/** The hint of an error in library words (`key`), or undefined when it has none. */
export function hintOf(
  error: unknown,
  name = (field: string) => `\`${field}\``,
): string | undefined {
  if (!(error instanceof DuckmergeError)) return undefined
  const hint = error.details.hint
  return typeof hint === 'string' ? renderHint(hint, name) : undefined
}

/**
 * Thrown for every failure duckmerge can explain.
 *
 * @example
 * throw new DuckmergeError('KEY_COLUMN_MISSING',
 *   'Cannot rebase runs.parquet onto results.parquet: key column "run_id" is missing in runs.parquet (columns: id, score).',
 *   { file: 'runs.parquet', column: 'run_id', hint: 'Pass {key} with a column both sides have.' })
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
