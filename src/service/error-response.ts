/**
 * The one place errors become HTTP responses: DuckmergeError codes map to a status and a wire
 * code (the seed's spelling, snake_case), every body is `{code, message, details?, request_id}`,
 * and anything that is not a DuckmergeError is a bug: logged, answered with only the request id.
 */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Logger } from 'pino'
import { DuckmergeError, type ErrorCode, hintOf } from '../errors.js'
import type { ServiceEnv } from './context.js'

/** HTTP status and wire code of each error code. */
const STATUS: Readonly<Record<ErrorCode, readonly [ContentfulStatusCode, string]>> = {
  USAGE: [400, 'invalid_request'],
  VALIDATION_FAILED: [400, 'invalid_request'],
  INPUT_NOT_FOUND: [404, 'not_found'],
  NOT_FOUND: [404, 'not_found'],
  TABLE_NOT_FOUND: [404, 'not_found'],
  VERSION_NOT_FOUND: [404, 'not_found'],
  INPUT_UNREADABLE: [400, 'unreadable_upload'],
  OUTPUT_UNWRITABLE: [500, 'internal_error'],
  OUTPUT_IS_INPUT: [400, 'invalid_request'],
  COLUMN_NOT_FOUND: [422, 'column_not_found'],
  KEY_COLUMN_MISSING: [422, 'key_column_missing'],
  SCHEMA_MISMATCH: [422, 'schema_mismatch'],
  DUPLICATE_KEY: [422, 'key_not_unique'],
  NULL_KEY: [422, 'key_has_nulls'],
  UNSUPPORTED_FEATURE: [422, 'unsupported_feature'],
  DELTA_LOG_INVALID: [500, 'merge_failed'],
  COMMIT_CONFLICT: [409, 'commit_conflict'],
  LOCKED: [409, 'locked'],
  PERMISSION_DENIED: [403, 'forbidden'],
  INTERRUPTED: [503, 'interrupted'],
  INTERNAL: [500, 'internal_error'],
  MERGE_CONFLICT: [409, 'merge_conflict'],
  ALREADY_EXISTS: [409, 'already_exists'],
  INVALID_STATE: [409, 'invalid_state'],
  EXPECTATIONS_FAILED: [422, 'validation_failed'],
  OUT_OF_MEMORY: [503, 'out_of_memory'],
  INVALID_CURSOR: [400, 'invalid_cursor'],
  UNAUTHORIZED: [401, 'unauthorized'],
  FORBIDDEN: [403, 'forbidden'],
  PRECONDITION_FAILED: [412, 'precondition_failed'],
  MERGE_IN_PROGRESS: [409, 'merge_in_progress'],
  PAYLOAD_TOO_LARGE: [413, 'payload_too_large'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'unsupported_media_type'],
  RATE_LIMITED: [429, 'rate_limited'],
}

/**
 * Reasons with a wire code of their own: a bad column name or a reused Idempotency-Key is a 422,
 * not bad JSON; an upload over its row or column limit, a broken Parquet footer, say so.
 */
const REASONS: Readonly<Record<string, readonly [ContentfulStatusCode, string]>> = {
  'VALIDATION_FAILED invalid_column_name': [422, 'invalid_column_name'],
  'VALIDATION_FAILED idempotency_key_reused': [422, 'idempotency_key_reused'],
  'PAYLOAD_TOO_LARGE too_many_rows': [413, 'too_many_rows'],
  'PAYLOAD_TOO_LARGE too_many_columns': [413, 'too_many_columns'],
  'INPUT_UNREADABLE invalid_parquet': [400, 'invalid_parquet'],
}

/** The status and body an error is answered with (also used for async operations' results). */
export function errorBody(
  error: unknown,
  requestId: string,
): { status: ContentfulStatusCode; body: Record<string, unknown> } {
  if (!(error instanceof DuckmergeError))
    return {
      status: 500,
      body: { code: 'internal_error', message: 'Internal error.', request_id: requestId },
    }
  const [status, code] = STATUS[error.code] ?? [500, 'internal_error']
  if (status === 500)
    return { status, body: { code, message: 'Internal error.', request_id: requestId } }
  const wire = REASONS[`${error.code} ${String(error.details.reason)}`] ?? ([status, code] as const)
  const { hint: _hint, conflicts, ...details } = error.details
  const hint = hintOf(error, (field) => `"${snake(field)}"`)
  const message = hint ? `${error.message} ${hint}` : error.message
  return {
    status: wire[0],
    body: {
      code: wire[1],
      message,
      // The seed's 409 carries the conflict items at the top level.
      ...(Array.isArray(conflicts) ? { conflicts: conflicts.slice(0, 100) } : {}),
      ...(Object.keys(details).length > 0 ? { details } : {}),
      request_id: requestId,
    },
  }
}

/** hono's onError: the JSON error body, X-Request-Id, and WWW-Authenticate on 401. */
export function errorHandler(log: Logger) {
  return (error: Error, c: Context<ServiceEnv>): Response => errorResponse(error, c, log)
}

function errorResponse(error: Error, c: Context<ServiceEnv>, log: Logger): Response {
  const requestId = c.get('requestId') ?? 'unknown'
  const { status, body } = errorBody(error, requestId)
  if (status >= 500) log.error({ err: error, request_id: requestId }, 'request failed')
  const headers: Record<string, string> = { 'X-Request-Id': requestId }
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="duckmerge"'
  if (status === 429 && error instanceof DuckmergeError)
    headers['Retry-After'] = String(error.details.retry_after ?? 60)
  return c.json(body, status, headers)
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)
}
