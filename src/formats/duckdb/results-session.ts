/** Opens DuckDB results databases for merging: both attached to one in-memory DuckDB. */
import { copyFile, stat } from 'node:fs/promises'
import type { Session } from '../../engine/dialect.js'
import { DuckDb } from '../../engine/duckdb.js'
import { DuckDbConnection } from '../../engine/duckdb-dialect.js'
import { ident, literal, sql } from '../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../errors.js'
import { firstLine } from '../parquet/schema.js'

export interface OpenOptions {
  /** The database written to (ours itself, or a copy of it). */
  readonly ours: string
  /** Attached as `theirs`; omitted to open ours alone (a source to copy rows from). */
  readonly theirs?: string | undefined
  /** Attaches ours read-only (dry runs). */
  readonly readOnly: boolean
  /** The files as the user named them, for errors (ours may be a temporary copy). */
  readonly labels?: { readonly ours: string; readonly theirs?: string | undefined }
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
      throw duckDbFileError(options.labels?.[alias] ?? path, error)
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

/**
 * A DuckDB file that cannot be opened: LOCKED when another process holds it (DuckDB allows one
 * writing process per file), else INPUT_UNREADABLE, naming the file as the user gave it.
 */
function duckDbFileError(path: string, error: unknown): DuckmergeError {
  const message = messageOf(error)
  if (/could not set lock|conflicting lock/i.test(message))
    return new DuckmergeError(
      'LOCKED',
      `Cannot open DuckDB database ${path}: another process holds it (${firstLine(message)}).`,
      { path, hint: 'Wait for that process to finish or close the file, then retry.' },
      { cause: error },
    )
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `Cannot open DuckDB database ${path}: ${firstLine(message)}. Check that it is a complete DuckDB file of a version this DuckDB reads.`,
    { path },
    { cause: error },
  )
}

/**
 * Reads every row of every table of the DuckDB file `path` (read-only), so each block's checksum
 * is verified: what DuckDB found wrong, or undefined when the file is sound (or held by another
 * process, which is not damage).
 *
 * @example
 * await findDuckDbDamage('theirs.duckdb') // 'IO Error: Corrupt database file: computed checksum …'
 */
export async function findDuckDbDamage(path: string): Promise<string | undefined> {
  const db = await DuckDb.open()
  try {
    await db.run(sql`attach ${literal(path)} as checked (read_only)`)
    const tables = await db.all<{ schema_name: string; table_name: string }>(
      sql`select schema_name, table_name from duckdb_tables() where database_name = 'checked'`,
    )
    // hash(t) takes the whole row: every column's blocks are read.
    for (const t of tables)
      await db.run(
        sql`select count(hash(t)) from checked.${ident(t.schema_name)}.${ident(t.table_name)} t`,
      )
    return undefined
  } catch (error) {
    const message = firstLine(messageOf(error))
    return /could not set lock|conflicting lock/i.test(message) ? undefined : message
  } finally {
    db.close()
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
  findDamage: findDuckDbDamage,
} as const
