/** Streaming rows out of SQLite as arrays, for bulk copies that never hold a table in memory. */
import type { Sql } from './sql.js'
import type { SqliteDb } from './sqlite.js'

/** A value as better-sqlite3 returns it: integers as number, or bigint when asked. */
export type SqliteCell = null | number | bigint | string | Uint8Array

/**
 * Iterates the rows of `query` as arrays in column order, one at a time. `bigIntegers` returns
 * every integer as a bigint, for tables holding integers beyond 2^53 that a number would round.
 *
 * @example
 * for (const [id, name] of iterateRowsSync(db, sql`select id, name from runs`)) …
 */
export function iterateRowsSync(
  db: SqliteDb,
  query: Sql,
  options: { readonly bigIntegers?: boolean } = {},
): IterableIterator<SqliteCell[]> {
  return db
    .prepare(query.text)
    .raw(true)
    .safeIntegers(options.bigIntegers ?? false)
    .iterate(...query.values) as IterableIterator<SqliteCell[]>
}

/** SQLite's result code of a driver error ('SQLITE_BUSY', 'SQLITE_CORRUPT', …), if it has one. */
export function sqliteErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined
}
