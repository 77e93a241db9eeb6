/** The staging side of a backfill: does it hold data, its identity (the txn appId), its schema, and retiring it. */
import { createHash } from 'node:crypto'
import { existsSync, promises as fs } from 'node:fs'
import { basename, join, relative, resolve, sep } from 'node:path'
import { DuckmergeError, type Issue, messageOf } from '../../../../errors.js'
import { duckDbToDeltaType, type StructType, typeToString } from '../../schema.js'
import type { Snapshot } from '../../snapshot-types.js'
import { createTable } from '../create.js'
import { isDeltaTable, type ResolvedSource } from '../merge/source.js'

/** The schema a new main gets: staging's (a Delta staging's own, else its columns' types). */
export function mainSchemaOf(source: ResolvedSource): StructType {
  return source.snapshot
    ? source.snapshot.schema
    : {
        type: 'struct',
        fields: source.columns.map((c) => ({
          name: c.name,
          type: duckDbToDeltaType(c.type),
          nullable: true,
          metadata: {},
        })),
      }
}

/** Creates main empty, with staging's schema and (for a Delta staging) its partitioning. */
export async function createMain(main: string, source: ResolvedSource): Promise<void> {
  await createTable({
    path: main,
    schema: mainSchemaOf(source),
    partitionBy: source.snapshot?.partitionColumns ?? [],
  })
}

/**
 * The txn appId of this backfill: the staging table's identity (metaData.id and version, or for
 * Parquet the names and sizes of its files) plus the keys and batch size, since those decide
 * which rows batch k holds. A different staging, or the same one changed, gets a new appId.
 */
export async function backfillAppId(
  source: ResolvedSource,
  staging: string,
  keys: readonly string[],
  batchRows: number,
): Promise<string> {
  const hash = createHash('sha256')
  if (source.snapshot) hash.update(`${source.snapshot.metadata.id}@${source.snapshot.version}`)
  else
    for (const file of await listFiles(staging))
      hash.update(`${relative(staging, file.path)}\0${file.size}\n`)
  hash.update(`\0${JSON.stringify(keys)}\0${batchRows}`)
  return `duckmerge-backfill-${hash.digest('hex').slice(0, 32)}`
}

export async function listFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = []
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    out.push({ path, size: (await fs.stat(path)).size })
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

/** Missing staging, an empty folder, or a folder without Parquet files: nothing to merge. */
export async function hasData(staging: string): Promise<boolean> {
  if (!existsSync(staging)) return false
  const stat = await fs.stat(staging)
  if (!stat.isDirectory()) return true // a single Parquet file
  if (isDeltaTable(staging)) return true
  return (await listFiles(staging)).some((f) => f.path.endsWith('.parquet'))
}

export function checkKeys(
  keys: readonly string[],
  columns: readonly string[],
  side: 'ours' | 'theirs',
  path: string,
): void {
  for (const key of keys)
    if (!columns.includes(key))
      throw new DuckmergeError(
        'KEY_COLUMN_MISSING',
        `Cannot backfill: key column "${key}" is missing in ${path} (columns: ${columns.join(', ')}).`,
        { column: key, side, path, hint: 'Set {key} to columns both tables have.' },
      )
}

/** Theirs (staging) must have ours' (main's) columns with the same types: backfill never changes ours' schema. */
export function checkSchema(
  snapshot: Snapshot,
  source: ResolvedSource,
  ours: string,
  theirs: string,
): void {
  const theirsTypes = new Map(
    source.snapshot
      ? source.snapshot.schema.fields.map((f) => [f.name, typeToString(f.type)])
      : source.columns.map((c) => [c.name, typeToString(duckDbToDeltaType(c.type))]),
  )
  const issues: Issue[] = []
  for (const field of snapshot.schema.fields) {
    const type = theirsTypes.get(field.name)
    const oursType = typeToString(field.type)
    if (type === undefined)
      issues.push({
        path: [field.name],
        code: 'missing_column',
        message: `"${field.name}" (${oursType}) is missing in ${theirs}`,
      })
    else if (type !== oursType)
      issues.push({
        path: [field.name],
        code: 'column_type',
        message: `"${field.name}" is ${type} in ${theirs} but ${oursType} in ${ours}`,
      })
    theirsTypes.delete(field.name)
  }
  for (const [name, type] of theirsTypes)
    issues.push({
      path: [name],
      code: 'extra_column',
      message: `"${name}" (${type}) is in ${theirs} but not in ${ours}`,
    })
  if (issues.length > 0)
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot backfill ${ours} from ${theirs}: the schemas differ: ${issues.map((i) => i.message).join('; ')}.`,
      { ours, theirs, issues, hint: "Make {theirs} match {ours}'s schema." },
    )
}

export type Retired =
  | { readonly removed: true; readonly archivedTo?: string }
  | { readonly removed: false; readonly leftAt: string; readonly reason: string }

/**
 * Deletes staging, or moves it under `archive`. The folder is first renamed aside in one step,
 * so a crash during removal never leaves a half-deleted staging table under its name. Called
 * after every batch committed, so a failure here (permissions, a file held open) does not fail
 * the backfill: it returns where staging was left and why.
 */
export async function retireStaging(
  staging: string,
  archive: string | undefined,
): Promise<Retired> {
  let leftAt = staging
  try {
    if (archive !== undefined) {
      await fs.mkdir(archive, { recursive: true })
      let target = join(resolve(archive), basename(staging))
      if (existsSync(target)) target = `${target}-${new Date().toISOString().replace(/[:.]/g, '-')}`
      try {
        await fs.rename(staging, target)
        return { removed: true, archivedTo: target }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
      }
      await fs.cp(staging, target, { recursive: true })
      const aside = await renameAside(staging)
      leftAt = aside
      await fs.rm(aside, { recursive: true, force: true })
      return { removed: true, archivedTo: target }
    }
    const aside = await renameAside(staging)
    leftAt = aside
    await fs.rm(aside, { recursive: true, force: true })
    return { removed: true }
  } catch (error) {
    return { removed: false, leftAt, reason: messageOf(error) }
  }
}

async function renameAside(dir: string): Promise<string> {
  const aside = join(resolve(dir, '..'), `.${basename(dir)}.deleting-${process.pid}`)
  await fs.rename(dir, aside)
  return aside
}

/**
 * Staging is deleted after success, so it must not be main, hold main, or sit inside it, and
 * the archive must not be inside staging (it would be moved into itself).
 */
export function assertSeparate(ours: string, theirs: string, archive: string | undefined): void {
  const within = (inner: string, outer: string) =>
    inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : `${outer}${sep}`)
  if (within(ours, theirs) || within(theirs, ours))
    throw new DuckmergeError(
      'OUTPUT_IS_INPUT',
      `Cannot backfill ${ours} from ${theirs}: one is inside the other, and ${theirs} is deleted after the backfill.`,
      { ours, theirs, hint: 'Keep {ours} and {theirs} in separate folders.' },
    )
  if (archive !== undefined && within(resolve(archive), theirs))
    throw new DuckmergeError(
      'OUTPUT_IS_INPUT',
      `Cannot archive ${theirs} into ${resolve(archive)}, a folder inside it.`,
      { theirs, archive, hint: 'Set {archive} to a folder outside it.' },
    )
}
