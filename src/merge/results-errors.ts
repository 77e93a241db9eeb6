/** The errors of results merge/rebase that wrap what an engine threw, in our codes. */
import { interruptedError } from '../engine/interrupt.js'
import { DuckmergeError, isDuckmergeError, messageOf } from '../errors.js'
import type { Strategy } from './report.js'
import type { SideNames } from './table-key.js'

/** The error of a call stopped through its AbortSignal. */
export function interrupted(cause: unknown): DuckmergeError {
  return interruptedError('nothing was written (the transaction was rolled back)', {}, cause)
}

/**
 * An engine error during a write, as one of our codes, naming the files and the table (the
 * transaction was rolled back, so nothing changed).
 *
 * @example
 * wrapEngineError(sqliteError, { strategy: 'rebase', table: 'runs', names, key: ['version'] })
 * // DUPLICATE_KEY: Cannot rebase b.db into a.db, table "runs": UNIQUE constraint failed…
 */
export function wrapEngineError(
  error: unknown,
  context: {
    readonly strategy: Strategy
    readonly table?: string
    readonly names: SideNames
    readonly key: readonly string[]
  },
): DuckmergeError {
  const { strategy, table, names, key } = context
  if (isDuckmergeError(error)) return error
  const message = messageOf(error)
  const where = `Cannot ${strategy} ${names.theirs} into ${names.ours}${table === undefined ? '' : `, table "${table}"`}`
  if (/database is locked|busy|could not set lock|conflicting lock/i.test(message))
    return new DuckmergeError(
      'LOCKED',
      `${where}: ${message}. Another process is writing ${names.ours}; retry when it is done.`,
      { side: 'ours', path: names.ours },
      { cause: error },
    )
  if (/unique|primary key|duplicate key/i.test(message))
    return new DuckmergeError(
      'DUPLICATE_KEY',
      `${where}: ${message}. A row of ${names.theirs} collides with a row of ${names.ours} on a unique key that the ${strategy} key (${key.join(', ')}) did not match; nothing was changed.`,
      { table, key, hint: "Choose a {key} that covers the table's primary key." },
      { cause: error },
    )
  if (/readonly|read-only|read only|permission/i.test(message))
    return new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `${where}: ${message}.`,
      {
        table,
        side: 'ours',
        path: names.ours,
        hint: 'Make the file writable, or give an {output} to write elsewhere.',
      },
      { cause: error },
    )
  return new DuckmergeError('INTERNAL', `${where}: ${message}`, { table }, { cause: error })
}
