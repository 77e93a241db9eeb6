/**
 * `migrateSqliteToDuckDb`: moves a SQLite database (every table or the named ones) into a new
 * DuckDB file, keeping every value, and reports per table the types chosen and why, the rows
 * read and written, and a checksum of both sides. The source is only read, inside one read
 * transaction (a consistent snapshot); the target appears only when complete.
 *
 *   check paths → open source (read txn) → read schema → plan (one scan per table)
 *     → dry run: report the plan │ else: write temp file → tables → views → rename onto target
 */
import { existsSync, promises as fs } from 'node:fs'
import { resolve } from 'node:path'
import { withDuckDb } from '../../engine/duckdb.js'
import { assertExists, isSamePath, sniffFormat, writeAtomically } from '../../engine/files.js'
import { ident, sql } from '../../engine/sql.js'
import { allSync, openSqlite, type SqliteDb } from '../../engine/sqlite.js'
import { DuckmergeError } from '../../errors.js'
import type { ProgressCallback } from '../../progress.js'
import { sqliteFileError } from './file-error.js'
import {
  type IndexPlan,
  type MigrationPlan,
  type NestRows,
  planMigration,
  type SequencePlan,
  type StructPlan,
} from './migrate-plan.js'
import { readSqliteSchema, type Skipped } from './migrate-schema.js'
import {
  type Checksum,
  mapColumn,
  sourceChecksum,
  type ViewResult,
  writeTable,
  writeViews,
} from './migrate-write.js'

export type { NestRows } from './migrate-plan.js'

export interface MigrateOptions {
  /** The SQLite database to read (never modified). */
  readonly source: string
  /** The DuckDB file to create. */
  readonly target: string
  /** Only these tables (default: every table). Views are still tried. */
  readonly tables?: readonly string[]
  /** Plan and report without writing anything. */
  readonly dryRun?: boolean
  /** Replace an existing target. */
  readonly force?: boolean
  /** Tables folded into one row per key with a MAP column (e.g. word frequencies). */
  readonly nestRows?: readonly NestRows[]
  /** Column-name prefixes grouped into one STRUCT column per table (`metric_` → `metric`). */
  readonly structs?: readonly string[]
  /** How long to wait for a writer's lock on the source, in ms. Default 5000. */
  readonly busyTimeoutMs?: number
  readonly onProgress?: ProgressCallback
}

export interface MigratedColumn {
  readonly name: string
  readonly declaredType: string
  readonly type: string
  /** Why the type differs from the plain mapping of the declared type, when it does. */
  readonly reason?: string
  readonly nulls: number
  readonly emptyTexts: number
}

export interface MigratedTable {
  readonly name: string
  readonly rowsRead: number
  readonly rowsWritten: number
  readonly columns: readonly MigratedColumn[]
  readonly primaryKey: readonly string[]
  readonly primaryKeySkipped?: string
  readonly sequence?: SequencePlan
  readonly indexes: readonly IndexPlan[]
  /** How the table was folded, and how to unfold it again. */
  readonly nested?: NestRows & {
    readonly column: string
    readonly rows?: number
    readonly unnest: string
  }
  readonly structs: readonly (StructPlan & { readonly unnest: string })[]
  /** In a dry run only `source` is known. */
  readonly checksum: Checksum | { readonly source: string }
}

export interface MigrationReport {
  readonly source: string
  readonly target: string
  readonly dryRun: boolean
  readonly tables: readonly MigratedTable[]
  readonly views: readonly (ViewResult | { name: string; status: 'planned' })[]
  readonly skipped: readonly Skipped[]
  readonly rowsRead: number
  readonly rowsWritten: number
  readonly elapsedMs: number
}

/**
 * Migrates a SQLite database to a new DuckDB file.
 *
 * @example
 * const report = await migrateSqliteToDuckDb({ source: 'results.db', target: 'results.duckdb' })
 * report.tables[0] // { name: 'predictions', rowsRead: 40, rowsWritten: 40, checksum: { matches: true, … }, … }
 */
export async function migrateSqliteToDuckDb(options: MigrateOptions): Promise<MigrationReport> {
  const started = performance.now()
  const source = options.source
  const target = options.target
  await checkPaths(options)
  const db = openSource(source, options.busyTimeoutMs ?? 5000)
  try {
    const dryRun = options.dryRun ?? false
    const plan = readPlan(db, options, !dryRun)
    const results = dryRun ? undefined : await write(db, plan, options)
    const tables = plan.tables.map((planned, i): MigratedTable => {
      const r = results?.tables[i]
      const t = r?.plan ?? planned
      const nestColumn = t.nest ? mapColumn(t) : undefined
      return {
        name: t.name,
        rowsRead: r?.rowsRead ?? t.rows,
        rowsWritten: r?.rowsWritten ?? 0,
        columns: t.columns.map((c) => ({
          name: c.name,
          declaredType: c.declaredType,
          type: c.type,
          ...(c.reason !== undefined ? { reason: c.reason } : {}),
          nulls: c.nulls,
          emptyTexts: c.emptyTexts,
        })),
        primaryKey: t.nest ? t.nest.key : t.primaryKey,
        ...((r?.primaryKeySkipped ?? t.primaryKeySkipped) !== undefined
          ? { primaryKeySkipped: r?.primaryKeySkipped ?? t.primaryKeySkipped }
          : {}),
        ...(t.sequence ? { sequence: t.sequence } : {}),
        indexes: r?.indexes ?? t.indexes,
        ...(t.nest && nestColumn
          ? {
              nested: {
                ...t.nest,
                column: nestColumn,
                ...(r?.nestedRows !== undefined ? { rows: r.nestedRows } : {}),
                unnest: `select ${t.nest.key.map((k) => ident(k).text).join(', ')}, unnest(map_keys(${ident(nestColumn).text})) as ${ident(t.nest.name).text}, unnest(map_values(${ident(nestColumn).text})) as ${ident(t.nest.value).text} from ${ident(t.name).text}`,
              },
            }
          : {}),
        structs: t.structs.map((s) => ({
          ...s,
          unnest: s.fields
            .map((f) => `${ident(s.column).text}.${ident(f.field).text} as ${ident(f.from).text}`)
            .join(', '),
        })),
        checksum: r?.checksum ?? { source: sourceChecksum(t) },
      }
    })
    return {
      source,
      target,
      dryRun,
      tables,
      views: results?.views ?? plan.views.map((v) => ({ name: v.name, status: 'planned' })),
      skipped: plan.skipped,
      rowsRead: tables.reduce((n, t) => n + t.rowsRead, 0),
      rowsWritten: tables.reduce((n, t) => n + t.rowsWritten, 0),
      elapsedMs: Math.round(performance.now() - started),
    }
  } finally {
    if (db.inTransaction) db.exec('commit')
    db.close()
  }
}

async function checkPaths(options: MigrateOptions): Promise<void> {
  await assertExists(options.source, 'source database')
  const format = await sniffFormat(options.source)
  if (format !== 'sqlite')
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `${options.source} is not a SQLite database (${format === 'unknown' ? 'unrecognised content' : `it is ${format}`}).`,
      { path: options.source, format },
    )
  if (await isSamePath(options.source, options.target))
    throw new DuckmergeError(
      'OUTPUT_IS_INPUT',
      `The target ${options.target} is the source database itself; a migration writes a new file.`,
      { path: options.target },
    )
  if (!options.dryRun && !options.force && existsSync(options.target))
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `The target ${options.target} already exists; it was left as it is.`,
      { path: options.target, hint: 'Choose a new target, or set {force} to replace it.' },
    )
}

function openSource(path: string, busyTimeoutMs: number): SqliteDb {
  let db: SqliteDb
  try {
    db = openSqlite(path, { readonly: true, busyTimeoutMs })
  } catch (error) {
    throw sourceError(path, error)
  }
  try {
    // One read transaction for the whole copy: every table is read from the same snapshot.
    db.exec('begin')
    allSync(db, sql`select count(*) from main.sqlite_schema`)
  } catch (error) {
    db.close()
    throw sourceError(path, error)
  }
  return db
}

function readPlan(db: SqliteDb, options: MigrateOptions, defer: boolean): MigrationPlan {
  try {
    return planMigration(db, readSqliteSchema(db), {
      defer,
      source: options.source,
      tables: options.tables,
      nestRows: options.nestRows,
      structs: options.structs,
    })
  } catch (error) {
    if (error instanceof DuckmergeError) throw error
    throw sourceError(options.source, error)
  }
}

/** Maps a driver error on the source to LOCKED or INPUT_UNREADABLE, naming the file. */
function sourceError(path: string, error: unknown): DuckmergeError {
  return sqliteFileError(path, error, 'Wait for the writer to finish, or raise {busyTimeoutMs}.')
}

async function write(db: SqliteDb, plan: MigrationPlan, options: MigrateOptions) {
  const total = plan.tables.reduce((n, t) => n + t.rows, 0)
  const progress = { onProgress: options.onProgress, done: 0, total }
  return writeAtomically(resolve(options.target), async (temp) => {
    try {
      return await withDuckDb({ path: temp, preserveInsertionOrder: true }, async (target) => {
        const tables = []
        for (const t of plan.tables)
          tables.push(await writeTable(target, db, t, options.source, progress))
        const views = await writeViews(target, db, plan.views, (name) =>
          Number(allSync<{ n: number }>(db, sql`select count(*) as n from ${ident(name)}`)[0]?.n),
        )
        await target.run(sql`checkpoint`)
        return { tables, views }
      })
    } finally {
      await fs.rm(`${temp}.wal`, { force: true })
    }
  })
}
