/** Helpers of the migration tests: read a DuckDB or SQLite file, build a SQLite file from SQL. */
import { DuckDb } from '../../src/engine/duckdb.js'
import { raw } from '../../src/engine/sql.js'
import { allSync, openSqlite } from '../../src/engine/sqlite.js'

/** Rows of a query on a DuckDB file, JSON-safe. */
export async function duckRows(path: string, query: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDb.open({ path, readOnly: true })
  try {
    return await db.allJson(raw(query))
  } finally {
    db.close()
  }
}

export function sqliteRows(path: string, query: string): Record<string, unknown>[] {
  const db = openSqlite(path, { readonly: true })
  try {
    return allSync(db, raw(query))
  } finally {
    db.close()
  }
}

export function makeSqlite(path: string, statements: readonly string[]): string {
  const db = openSqlite(path, { fileMustExist: false })
  for (const s of statements) db.exec(s)
  db.close()
  return path
}
