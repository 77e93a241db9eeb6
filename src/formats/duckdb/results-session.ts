/** Opens DuckDB results databases for merging: both attached to one in-memory DuckDB. */
import { copyFile, stat } from 'node:fs/promises'
import type { Session } from '../../engine/dialect.js'
import { DuckDb } from '../../engine/duckdb.js'
import { DuckDbConnection } from '../../engine/duckdb-dialect.js'
import { ident, literal, sql } from '../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../errors.js'

export interface OpenOptions {
  /** The database written to (ours itself, or a copy of it). */
  readonly ours: string
  /** Attached as `theirs`; omitted to open ours alone (a source to copy rows from). */
  readonly theirs?: string | undefined
  /** Attaches ours read-only (dry runs). */
  readonly readOnly: boolean
}

/**
 * An in-memory DuckDB with ours attached as `ours` and theirs as `theirs` (read-only), so one
 * statement reads theirs and writes ours. Closing checkpoints ours, leaving no `.wal` beside it.
 *
 * @example
 * const session = await openDuckDbSession({ ours: 'a.duckdb', theirs: 'b.duckdb', readOnly: false })
 * // SQL then names ours."predictions" and theirs."predictions"
 */
export async function openDuckDbSession(options: OpenOptions): Promise<Session> {
  const db = await DuckDb.open()
  const attach = async (path: string, alias: 'ours' | 'theirs', readOnly: boolean) => {
    try {
      // ATTACH takes no bound parameter for its path: literal() is the one way in.
      await db.run(
        readOnly
          ? sql`attach ${literal(path)} as ${ident(alias)} (read_only)`
          : sql`attach ${literal(path)} as ${ident(alias)}`,
      )
    } catch (error) {
      db.close()
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `Cannot open DuckDB database ${path}: ${messageOf(error)}. Check that it is a complete DuckDB file of a version this DuckDB reads, and that no other process holds it.`,
        { path },
        { cause: error },
      )
    }
  }
  await attach(options.ours, 'ours', options.readOnly)
  if (options.theirs !== undefined) await attach(options.theirs, 'theirs', true)
  const connection = new DuckDbConnection(db)
  return {
    connection,
    schemas: { ours: 'ours', theirs: 'theirs' },
    close: async () => {
      try {
        if (!options.readOnly) await db.run(sql`checkpoint ours`)
      } finally {
        await connection.close()
      }
    },
  }
}

/** Copies a DuckDB database file, with its write-ahead log when one is beside it. */
export async function copyDuckDbDatabase(source: string, target: string): Promise<void> {
  await copyFile(source, target)
  const wal = await stat(`${source}.wal`).catch(() => undefined)
  if (wal) await copyFile(`${source}.wal`, `${target}.wal`)
}

/** DuckDB results files: how to open, copy, and which journal may sit beside one. */
export const duckdbResultsFormat = {
  open: openDuckDbSession,
  copy: copyDuckDbDatabase,
  journals: ['.wal'],
} as const
