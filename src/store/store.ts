/**
 * The metadata store: kysely over better-sqlite3 (a file under the data root, the default) or
 * Postgres (a `postgres://` URL), migrated to the latest schema when opened. Query code is the
 * same for both; only migrations know the dialect.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Transaction } from 'kysely'
import pg from 'pg'
import { DuckmergeError, messageOf } from '../errors.js'
import { type AdvisoryLock, pgAdvisoryLock } from './dataset-lock.js'
import { migrationProvider, type StoreDialect } from './migrations.js'
import type { StoreSchema } from './schema.js'

export type StoreDb = Kysely<StoreSchema>
export type StoreTx = Transaction<StoreSchema>

export interface Store {
  readonly db: StoreDb
  readonly dialect: StoreDialect
  /** Where it is, for messages (a Postgres URL without its password). */
  readonly label: string
  /**
   * The cross-process part of a dataset's merge lock (use dataset-lock.ts, not this): Postgres
   * takes a session advisory lock (waiting, or undefined at once when `wait` is false and another
   * session holds it); SQLite has none and always grants a lock that holds nothing.
   */
  advisoryLock(datasetId: number, wait: boolean): Promise<AdvisoryLock | undefined>
  close(): Promise<void>
}

export interface StoreOptions {
  /** `postgres://…` or `postgresql://…`, else a SQLite file path. */
  readonly url: string
}

// int8 columns (ids, versions, row counts, times) arrive as strings from pg; every value the
// store keeps fits a double exactly (versions, counts, epoch ms), so read them as numbers.
pg.types.setTypeParser(20, Number)

/**
 * Opens the store and applies pending migrations.
 *
 * @example
 * const store = await openStore({ url: '/data/duckmerge.db' })
 * await store.db.selectFrom('datasets').selectAll().execute()
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const isPostgres = /^postgres(ql)?:\/\//i.test(options.url)
  const dialect: StoreDialect = isPostgres ? 'postgres' : 'sqlite'
  const label = isPostgres ? options.url.replace(/:[^:@/]*@/, ':***@') : options.url
  let db: StoreDb
  if (isPostgres) {
    db = new Kysely<StoreSchema>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: options.url, max: 4 }),
      }),
    })
  } else {
    mkdirSync(dirname(options.url), { recursive: true })
    let database: Database.Database
    try {
      database = new Database(options.url)
      // WAL lets readers run beside the one writer; busy_timeout waits for a writer's lock
      // instead of failing at once (several CLI processes on one root).
      database.pragma('journal_mode = WAL')
      database.pragma('busy_timeout = 5000')
      database.pragma('foreign_keys = ON')
    } catch (error) {
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `Cannot open the metadata store ${options.url}: ${messageOf(error)}`,
        { path: options.url },
        { cause: error },
      )
    }
    db = new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database }) })
  }
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) })
  const { error } = await migrator.migrateToLatest()
  if (error) {
    await db.destroy()
    // No connection at all (down, wrong host, port, password or database) is not a migration
    // problem: say so, and where to look.
    const code = String((error as { code?: unknown }).code ?? '')
    const unreachable =
      isPostgres && (/^E[A-Z]+$/.test(code) || ['28P01', '28000', '3D000'].includes(code))
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot ${unreachable ? 'connect to' : 'migrate'} the metadata store ${label}: ${messageOf(error)}`,
      {
        store: label,
        ...(unreachable
          ? { hint: 'Check the Postgres URL ({store}: host, port, user, password, database).' }
          : {}),
      },
      { cause: error },
    )
  }
  return {
    db,
    dialect,
    label,
    advisoryLock: async (datasetId, wait) =>
      isPostgres ? pgAdvisoryLock(options.url, datasetId, wait) : { release: async () => {} },
    close: () => db.destroy(),
  }
}

/** Whether a store error is a unique-constraint violation (SQLite and Postgres spell it differently). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  )
}
