/**
 * What went wrong with a SQLite file, in our codes and naming the file: another process's lock
 * (LOCKED), or a damaged or foreign file (INPUT_UNREADABLE). Shared by results and migrate.
 */
import { openSqlite } from '../../engine/sqlite.js'
import { sqliteErrorCode } from '../../engine/sqlite-rows.js'
import { DuckmergeError, messageOf } from '../../errors.js'

/** SQLite's codes for a file it cannot read as a database (a damaged page, a truncated file). */
const DAMAGED = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB'])

/** True for an error that says another connection holds a lock SQLite waited for in vain. */
export function isSqliteLocked(error: unknown): boolean {
  const code = sqliteErrorCode(error)
  return (
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_LOCKED' ||
    /database is locked/i.test(messageOf(error))
  )
}

/**
 * A driver error on the SQLite file `path` (as the user named it) as LOCKED or INPUT_UNREADABLE.
 *
 * @example
 * sqliteFileError('exp.db', busyError)
 * // LOCKED: Cannot read exp.db: another process holds a lock on it (database is locked).
 */
export function sqliteFileError(
  path: string,
  error: unknown,
  lockedHint = 'Wait for the other writer to finish, then retry.',
): DuckmergeError {
  const code = sqliteErrorCode(error)
  if (isSqliteLocked(error))
    return new DuckmergeError(
      'LOCKED',
      `Cannot read ${path}: another process holds a lock on it (${messageOf(error)}).`,
      { path, hint: lockedHint },
      { cause: error },
    )
  const damaged = code !== undefined && DAMAGED.has(code)
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `Cannot read SQLite database ${path}: ${messageOf(error)}${damaged ? ' (the file is damaged or truncated; restore it from a copy)' : ''}.`,
    { path, ...(code !== undefined ? { sqliteCode: code } : {}) },
    { cause: error },
  )
}

/**
 * SQLite's own check of every page of `path` (`pragma quick_check`, read-only): what it found
 * wrong, or undefined when the file is sound (or locked, which is not damage).
 *
 * @example
 * findSqliteDamage('exp.db') // 'database disk image is malformed'
 */
export function findSqliteDamage(path: string): string | undefined {
  let db: ReturnType<typeof openSqlite> | undefined
  try {
    db = openSqlite(path, { readonly: true, busyTimeoutMs: 1000 })
    const rows = db.pragma('quick_check') as { quick_check: string }[]
    const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok')
    return problems.length === 0 ? undefined : problems.slice(0, 3).join('; ')
  } catch (error) {
    return isSqliteLocked(error) ? undefined : messageOf(error)
  } finally {
    db?.close()
  }
}
