/** Opens DuckDB results databases for merging: both attached to one in-memory DuckDB. */
import { copyFile, stat } from 'node:fs/promises'
import type { Session } from '../../engine/dialect.js'
import { DuckDb } from '../../engine/duckdb.js'
import { DuckDbConnection } from '../../engine/duckdb-dialect.js'
import { ident, literal, sql } from '../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../errors.js'

export interface OpenOptions {
  /** The database written to (base itself, or a copy of it). */
  readonly base: string
  /** Attached as `exp`; omitted to open base alone (a source to copy rows from). */
  readonly exp?: string | undefined
  /** Attaches base read-only (dry runs). */
  readonly readOnly: boolean
}

/**
 * An in-memory DuckDB with base attached as `base` and exp as `exp` (read-only), so one
 * statement reads exp and writes base. Closing checkpoints base, leaving no `.wal` beside it.
 *
 * @example
 * const session = await openDuckDbSession({ base: 'a.duckdb', exp: 'b.duckdb', readOnly: false })
 * // SQL then names base."predictions" and exp."predictions"
 */
export async function openDuckDbSession(options: OpenOptions): Promise<Session> {
  const db = await DuckDb.open()
  const attach = async (path: string, alias: 'base' | 'exp', readOnly: boolean) => {
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
  await attach(options.base, 'base', options.readOnly)
  if (options.exp !== undefined) await attach(options.exp, 'exp', true)
  const connection = new DuckDbConnection(db)
  return {
    connection,
    schemas: { base: 'base', exp: 'exp' },
    close: async () => {
      try {
        if (!options.readOnly) await db.run(sql`checkpoint base`)
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
