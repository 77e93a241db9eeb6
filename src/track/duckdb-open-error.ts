/** Why a DuckDB file would not open, as our error: LOCKED naming the holder, else unreadable. */
import { DuckmergeError, messageOf } from '../errors.js'

/**
 * @example
 * duckDbOpenError('e.duckdb', error, { doing: 'Cannot track into', advice: 'Use one file per process.' })
 * // LOCKED: Cannot track into e.duckdb: /usr/bin/node (PID 42) holds its lock. Use one file per process.
 */
export function duckDbOpenError(
  path: string,
  error: unknown,
  say: { readonly doing: string; readonly advice: string },
): DuckmergeError {
  const message = messageOf(error)
  if (/lock/i.test(message)) {
    const holder = /Conflicting lock is held in (.*?)(\.|$)/.exec(message)?.[1] ?? 'another process'
    return new DuckmergeError(
      'LOCKED',
      `${say.doing} ${path}: ${holder} holds its lock. ${say.advice}`,
      { path, holder },
      { cause: error },
    )
  }
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `${say.doing} ${path}: ${message}.`,
    { path },
    { cause: error },
  )
}
