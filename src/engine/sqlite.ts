/** Opening SQLite files through better-sqlite3, with the pragmas duckmerge relies on. */
import Database from 'better-sqlite3'
import type { Sql } from './sql.js'

export type SqliteDb = Database.Database

export interface SqliteOptions {
  readonly readonly?: boolean
  /** Fail instead of creating the file. Default true: a typo should not create an empty DB. */
  readonly fileMustExist?: boolean
  /** How long to wait for another writer's lock, in ms. */
  readonly busyTimeoutMs?: number
}

export function openSqlite(path: string, options: SqliteOptions = {}): SqliteDb {
  const db = new Database(path, {
    readonly: options.readonly ?? false,
    fileMustExist: options.fileMustExist ?? true,
    timeout: options.busyTimeoutMs ?? 10_000,
  })
  return db
}

/** Runs a statement built with `sql`; returns the number of rows changed. */
export function runSync(db: SqliteDb, query: Sql): number {
  return db.prepare(query.text).run(...query.values).changes
}

/** All rows of a query built with `sql`. */
export function allSync<T = Record<string, unknown>>(db: SqliteDb, query: Sql): T[] {
  return db.prepare(query.text).all(...query.values) as T[]
}
