/**
 * Three-way merge of files: results databases (SQLite, DuckDB; every table) and Parquet files or
 * datasets, from their common ancestor. Nothing is written while a conflict is unsettled.
 *
 *   sniff formats → copy ours to a temp path beside OUT (databases) │ views (Parquet)
 *     → plan every table (threeWayMerge) → conflicts? drop the temp, return them
 *     → apply every plan (databases) │ COPY the merged rows (Parquet) → rename temp onto OUT
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join as joinPath, sep } from 'node:path'
import type { Connection, TableInfo } from '../engine/dialect.js'
import { DuckDb } from '../engine/duckdb.js'
import { DuckDbConnection } from '../engine/duckdb-dialect.js'
import { assertExists, sniffFormat, writeAtomically } from '../engine/files.js'
import { ident, identList, literal, qualified, raw, sql } from '../engine/sql.js'
import { openSqlite } from '../engine/sqlite.js'
import { SqliteConnection } from '../engine/sqlite-dialect.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { copyDuckDbDatabase } from '../formats/duckdb/results-session.js'
import { copySqliteDatabase } from '../formats/sqlite/results-session.js'
import { chooseKey } from './table-key.js'
import { applyThreeWay, mergedRows, threeWayMerge } from './three-way.js'
import type {
  Conflict,
  MergeRule,
  Relation,
  Resolution,
  Side,
  SideCounts,
  ThreeWayPlan,
} from './three-way-types.js'

export interface Merge3Options {
  readonly base: string
  readonly ours: string
  readonly theirs: string
  /** Default: ours (replaced atomically). */
  readonly output?: string
  /** Required for Parquet; databases default per table (primary key, unique, shared columns). */
  readonly key?: readonly string[]
  readonly rule?: MergeRule
  readonly take?: Side
  readonly resolutions?: readonly Resolution[]
}

export interface Merge3TableReport {
  readonly table: string
  readonly key: readonly string[]
  /** 'merged', or where the table came from when only one side has it. */
  readonly action: 'merged' | 'kept ours' | 'added from theirs'
  readonly ours?: SideCounts
  readonly theirs?: SideCounts
  readonly upserts: number
  readonly deletes: number
  readonly conflicts: number
}

export interface Merge3Report {
  readonly format: 'sqlite' | 'duckdb' | 'parquet'
  readonly base: string
  readonly ours: string
  readonly theirs: string
  readonly output: string
  /** False when conflicts stopped the merge (nothing written). */
  readonly written: boolean
  readonly hasConflicts: boolean
  readonly conflictCount: number
  readonly tables: readonly Merge3TableReport[]
  /** Unsettled conflicts first, at most 1000 per table. */
  readonly conflicts: readonly Conflict[]
  readonly durationMs: number
}

/**
 * Merges theirs into ours from base and writes the result to `output` (default ours). Conflicts
 * are returned, not thrown: `report.hasConflicts` then says nothing was written.
 *
 * @example
 * const report = await merge3({ base: 'anc.db', ours: 'a.db', theirs: 'b.db' })
 * if (report.hasConflicts) console.error(report.conflicts)
 */
export async function merge3(options: Merge3Options): Promise<Merge3Report> {
  const started = performance.now()
  for (const side of ['base', 'ours', 'theirs'] as const)
    await assertExists(options[side], `${side} file`)
  const formats = await Promise.all(
    [options.base, options.ours, options.theirs].map((p) => formatOf(p)),
  )
  const format = formats[1] as Format
  if (formats.some((f) => f !== format))
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `base ${options.base} (${formats[0]}), ours ${options.ours} (${formats[1]}) and theirs ${options.theirs} (${formats[2]}) are not all the same format; a three-way merge needs three versions of one file.`,
      { formats },
    )
  const output = options.output ?? options.ours
  // A dataset folder stays a folder (same hive partitions), not one file under its name.
  const writesFolder = format === 'parquet' && (await isFolder(output))
  const conflicted = new Set<string>()
  let outcome: Omit<Merge3Report, 'durationMs' | 'written'>
  try {
    outcome = await writeAtomically(output, async (temp) => {
      const result = await (format === 'parquet'
        ? mergeParquet(options, temp, writesFolder)
        : mergeDatabases(options, format, temp))
      const report = {
        format,
        base: options.base,
        ours: options.ours,
        theirs: options.theirs,
        output,
        ...result,
      }
      // A conflict leaves nothing behind: failing the write removes the temp copy.
      if (report.hasConflicts) {
        conflicted.add('yes')
        throw new ConflictsFound(report)
      }
      return report
    })
  } catch (error) {
    if (!(error instanceof ConflictsFound)) throw error
    outcome = error.report
  }
  return {
    ...outcome,
    written: conflicted.size === 0,
    durationMs: Math.round(performance.now() - started),
  }
}

type Format = 'sqlite' | 'duckdb' | 'parquet'

class ConflictsFound extends Error {
  constructor(readonly report: Omit<Merge3Report, 'durationMs' | 'written'>) {
    super('conflicts')
  }
}

async function formatOf(path: string): Promise<Format> {
  const info = await stat(path)
  if (info.isDirectory()) return 'parquet'
  const format = await sniffFormat(path)
  if (format === 'unknown')
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `${path} is not a SQLite, DuckDB or Parquet file (unrecognised header).`,
      { path },
    )
  return format
}

interface Planned {
  readonly hasConflicts: boolean
  readonly conflictCount: number
  readonly tables: Merge3TableReport[]
  readonly conflicts: Conflict[]
}

/** Opens ours' temp copy with base and theirs attached; returns the connection and schemas. */
async function openDatabases(
  format: 'sqlite' | 'duckdb',
  temp: string,
  options: Merge3Options,
): Promise<{ connection: Connection; schemas: Record<'base' | Side, string> }> {
  try {
    if (format === 'sqlite') {
      const db = openSqlite(temp)
      db.exec('pragma cache_size = -262144')
      db.prepare('attach database ? as base').run(options.base)
      db.prepare('attach database ? as theirs').run(options.theirs)
      return {
        connection: new SqliteConnection(db),
        schemas: { base: 'base', ours: 'main', theirs: 'theirs' },
      }
    }
    const db = await DuckDb.open()
    await db.run(sql`attach ${literal(temp)} as ours`)
    await db.run(sql`attach ${literal(options.base)} as base (read_only)`)
    await db.run(sql`attach ${literal(options.theirs)} as theirs (read_only)`)
    return {
      connection: new DuckDbConnection(db),
      schemas: { base: 'base', ours: 'ours', theirs: 'theirs' },
    }
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot open ${options.base}, ${options.ours} and ${options.theirs} together: ${messageOf(error)}.`,
      { format },
      { cause: error },
    )
  }
}

async function mergeDatabases(
  options: Merge3Options,
  format: 'sqlite' | 'duckdb',
  temp: string,
): Promise<Planned> {
  await (format === 'sqlite' ? copySqliteDatabase : copyDuckDbDatabase)(options.ours, temp)
  const { connection, schemas } = await openDatabases(format, temp, options)
  const names = { ours: options.base, theirs: options.theirs }
  try {
    const oursTables = await connection.tables(schemas.ours)
    const theirsTables = await connection.tables(schemas.theirs)
    const tables: Merge3TableReport[] = []
    const conflicts: Conflict[] = []
    const plans: ThreeWayPlan[] = []
    for (const table of oursTables) {
      if (!theirsTables.includes(table)) {
        tables.push({ table, key: [], action: 'kept ours', upserts: 0, deletes: 0, conflicts: 0 })
        continue
      }
      const info = (side: 'base' | Side): Promise<TableInfo | undefined> =>
        connection.describe(schemas[side], table)
      const base = await info('base')
      const ours = (await info('ours')) as TableInfo
      const key = chooseKey({
        ours: base ?? ours,
        theirs: ours,
        override: options.key,
        names,
      }).columns
      const rel = (side: 'base' | Side): Relation => ({ schema: schemas[side], name: table })
      const { plan, conflicts: found } = await threeWayMerge({
        connection,
        table,
        base: base ? rel('base') : undefined,
        ours: rel('ours'),
        theirs: rel('theirs'),
        key,
        ...settle(options),
      })
      plans.push(plan)
      conflicts.push(...found)
      tables.push(mergedTableReport(table, key, plan))
    }
    const hasConflicts = plans.some((p) => p.hasConflicts)
    if (!hasConflicts)
      await connection.transaction(async () => {
        for (const plan of plans)
          await applyThreeWay(connection, plan, { schema: schemas.ours, name: plan.table })
        for (const table of theirsTables.filter((t) => !oursTables.includes(t))) {
          // A table only theirs has: added there, or dropped by ours (then kept: nothing is lost).
          await connection.run(
            sql`create table ${qualified(schemas.ours, table)} as select * from ${qualified(schemas.theirs, table)}`,
          )
          tables.push({
            table,
            key: [],
            action: 'added from theirs',
            upserts: 0,
            deletes: 0,
            conflicts: 0,
          })
        }
      })
    for (const plan of plans) await plan.dispose()
    const conflictCount = plans.reduce((n, p) => n + p.unresolved, 0)
    return { hasConflicts, conflictCount, tables, conflicts }
  } finally {
    if (format === 'duckdb') await connection.run(sql`checkpoint ours`).catch(() => undefined)
    await connection.close()
  }
}

const isFolder = (path: string) =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )

/** The hive partition columns of a dataset folder (`part=x/…`), outermost first. */
async function hivePartitions(folder: string): Promise<string[]> {
  const names: string[] = []
  for (const entry of await readdir(folder, { recursive: true }))
    entry.split(sep).forEach((segment, depth) => {
      const name = /^([^=]+)=/.exec(segment)?.[1]
      if (name && names[depth] === undefined) names[depth] = name
    })
  return names.filter((n) => n !== undefined)
}

async function mergeParquet(
  options: Merge3Options,
  temp: string,
  writesFolder: boolean,
): Promise<Planned> {
  const key = options.key
  if (!key || key.length === 0)
    throw new DuckmergeError(
      'KEY_COLUMN_MISSING',
      `Parquet inputs have no declared key, so rows of ${options.ours} cannot be matched.`,
      {
        path: options.ours,
        hint: 'Name the columns that identify a row with {key}.',
      },
    )
  const db = await DuckDb.open()
  const connection = new DuckDbConnection(db)
  try {
    for (const side of ['base', 'ours', 'theirs'] as const) {
      const path = options[side]
      const isDir = (await stat(path)).isDirectory()
      const source = isDir ? joinPath(path, '**', '*.parquet') : path
      await db.run(
        sql`create view ${ident(side)} as select * from read_parquet(${literal(source)}, hive_partitioning = ${raw(String(isDir))})`,
      )
    }
    const table = 'parquet'
    const rel = (side: 'base' | Side): Relation => ({ schema: 'memory', name: side })
    const { plan, conflicts } = await threeWayMerge({
      connection,
      table,
      base: rel('base'),
      ours: rel('ours'),
      theirs: rel('theirs'),
      key,
      ...settle(options),
    })
    const partitions = writesFolder ? await hivePartitions(options.ours) : []
    const rows = mergedRows(plan, rel('ours'))
    if (!plan.hasConflicts && partitions.length > 0)
      await db.run(
        sql`copy (${rows}) to ${literal(temp)} (format parquet, partition_by (${identList(partitions)}))`,
      )
    else if (!plan.hasConflicts && writesFolder) {
      await mkdir(temp)
      await db.run(
        sql`copy (${rows}) to ${literal(joinPath(temp, 'data_0.parquet'))} (format parquet)`,
      )
    } else if (!plan.hasConflicts)
      await db.run(sql`copy (${rows}) to ${literal(temp)} (format parquet)`)
    await plan.dispose()
    return {
      hasConflicts: plan.hasConflicts,
      conflictCount: plan.unresolved,
      conflicts: [...conflicts],
      tables: [mergedTableReport(table, key, plan)],
    }
  } finally {
    await connection.close()
  }
}

/** The report line of a table both sides have, from its three-way plan. */
function mergedTableReport(
  table: string,
  key: readonly string[],
  plan: ThreeWayPlan,
): Merge3TableReport {
  return {
    table,
    key,
    action: 'merged',
    ours: plan.ours,
    theirs: plan.theirs,
    upserts: plan.upserts,
    deletes: plan.deletes,
    conflicts: plan.unresolved,
  }
}

function settle(options: Merge3Options) {
  return {
    ...(options.rule ? { rule: options.rule } : {}),
    ...(options.take ? { take: options.take } : {}),
    ...(options.resolutions ? { resolutions: options.resolutions } : {}),
  }
}

/**
 * Reads a resolutions file: a JSON array of `{table?, key, column?, take | value}`, or an object
 * with that array under `resolutions`.
 */
export async function readResolutions(path: string): Promise<Resolution[]> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read resolutions file ${path}: ${messageOf(error)}.`,
      { path },
      { cause: error },
    )
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { resolutions?: unknown })?.resolutions
  const issues: { path: (string | number)[]; code: string; message: string }[] = []
  if (!Array.isArray(list))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Resolutions file ${path} holds no array of resolutions.`,
      { path },
    )
  list.forEach((r: unknown, i) => {
    const o = r as Record<string, unknown>
    if (typeof o !== 'object' || o === null || typeof o.key !== 'object' || o.key === null)
      issues.push({
        path: [i, 'key'],
        code: 'missing',
        message: `resolution ${i} has no key object`,
      })
    else if (!('value' in o) && o.take !== 'ours' && o.take !== 'theirs')
      issues.push({
        path: [i, 'take'],
        code: 'invalid',
        message: `resolution ${i} needs take "ours" or "theirs", or a value`,
      })
  })
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Resolutions file ${path} has ${issues.length} invalid entr${issues.length === 1 ? 'y' : 'ies'}: ${issues.map((x) => x.message).join('; ')}.`,
      { path, issues },
    )
  return list as Resolution[]
}
