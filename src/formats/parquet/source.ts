/**
 * Resolves a Parquet dataset path (a file, a glob, a directory of files, or a Delta table) into
 * the exact list of files DuckDB will read, checking each one is Parquet before any query runs.
 */
import { promises as fs } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path'
import type { DuckDb } from '../../engine/duckdb.js'
import { join as joinSql, raw, type Sql, sql } from '../../engine/sql.js'
import { DuckmergeError } from '../../errors.js'
import { logDir } from '../delta/log-store.js'
import { dataFilePath } from '../delta/partition-values.js'
import { assertFilesExist, planFileGroups, scanSql } from '../delta/scan.js'
import { loadSnapshot } from '../delta/snapshot.js'

/** Which input a source is, in `details.side` of its errors: merged into (ours) or in (theirs). */
export type Side = 'ours' | 'theirs'

export interface ParquetSource {
  readonly side: Side
  /** The path as the user gave it. */
  readonly path: string
  readonly kind: 'file' | 'glob' | 'directory' | 'delta'
  /** Absolute paths of every file read, sorted (a Delta table's: the live files of its snapshot). */
  readonly files: readonly string[]
  /** Folder the files are relative to: the directory, the glob's fixed prefix, or the file's folder. */
  readonly root: string
  /** True when files sit under `key=value` folders below `root`: those become columns. */
  readonly isHivePartitioned: boolean
  /** A Delta table: the version read and the SELECT of its rows (deletion vectors applied). */
  readonly delta?: { readonly version: number; readonly scan: Sql }
}

export interface SourceOptions {
  /** A Delta table's version to read (the latest when omitted); refused for other inputs. */
  readonly version?: number
  /** The connection Delta checkpoints and data file footers are read with. */
  readonly db?: DuckDb
}

const globChars = /[*?[]/

/**
 * Lists the Parquet files behind `path`: the file itself, every `*.parquet` under a directory
 * (skipping hidden `.x` and `_x` entries such as `_delta_log` and `_SUCCESS`, as Spark and Hive
 * do), or every file a glob matches. Throws INPUT_NOT_FOUND when nothing is there and
 * INPUT_UNREADABLE naming the first file that is not Parquet or is truncated.
 *
 * @example
 * const ours = await resolveParquetSource('data/', 'ours')
 * // { kind: 'directory', files: ['/abs/data/year=2024/part-0.parquet', …], isHivePartitioned: true }
 */
export async function resolveParquetSource(
  path: string,
  side: Side,
  options: SourceOptions = {},
): Promise<ParquetSource> {
  const abs = resolve(path)
  const stat = await fs.stat(abs).catch(() => undefined)
  if (stat?.isDirectory() && (await hasDeltaLog(abs)))
    return resolveDeltaSource(path, side, options)
  if (options.version !== undefined)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `${path} is not a Delta table (no commit in a _delta_log folder), so it has no version ${options.version} to read.`,
      { side, path, version: options.version, hint: 'Leave out the version for Parquet inputs.' },
    )
  let source: ParquetSource
  if (stat?.isFile()) {
    source = {
      side,
      path,
      kind: 'file',
      files: [abs],
      root: dirname(abs),
      isHivePartitioned: false,
    }
  } else if (stat?.isDirectory()) {
    const files = await listParquetFiles(abs)
    if (files.length === 0)
      throw new DuckmergeError(
        'INPUT_NOT_FOUND',
        `Directory ${path} holds no .parquet files. Pass a directory, file or glob of Parquet files.`,
        { side, path },
      )
    source = {
      side,
      path,
      kind: 'directory',
      files,
      root: abs,
      isHivePartitioned: hasHiveFolders(abs, files),
    }
  } else if (globChars.test(path)) {
    const files = await expandGlob(abs)
    if (files.length === 0)
      throw new DuckmergeError(
        'INPUT_NOT_FOUND',
        `Glob ${path} matches no files. Check the pattern and the current folder.`,
        { side, path },
      )
    const root = globRoot(abs)
    source = {
      side,
      path,
      kind: 'glob',
      files,
      root,
      isHivePartitioned: hasHiveFolders(root, files),
    }
  } else {
    throw new DuckmergeError('INPUT_NOT_FOUND', `Parquet path not found: ${path}`, {
      side,
      path,
    })
  }
  for (const file of source.files) await assertParquetFile(shownPath(source, file), side)
  return source
}

/**
 * A folder is read as a Delta table when its `_delta_log` holds a commit or a checkpoint (as
 * delta-rs decides); a `_delta_log` with neither is one more skipped `_` entry of a directory.
 */
async function hasDeltaLog(dir: string): Promise<boolean> {
  const names = await fs.readdir(logDir(dir)).catch(() => [] as string[])
  return names.some(
    (n) => /^\d{20}\.(json|checkpoint\b.*\.parquet)$/.test(n) || n === '_last_checkpoint',
  )
}

/**
 * A Delta table read for what it is: the rows of its snapshot (latest, or `version`), never every
 * Parquet file in the folder, which would bring back the rows its log removed (issue 14).
 */
async function resolveDeltaSource(
  path: string,
  side: Side,
  options: SourceOptions,
): Promise<ParquetSource> {
  const snapshot = await loadSnapshot(path, {
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.db ? { db: options.db } : {}),
  })
  await assertFilesExist(snapshot, snapshot.files)
  const files = snapshot.files.map((f) => dataFilePath(snapshot.tablePath, f.path))
  for (const file of files) await assertParquetFile(file, side)
  const fileGroups = options.db
    ? await planFileGroups(options.db, snapshot, snapshot.files)
    : undefined
  return {
    side,
    path,
    kind: 'delta',
    files: [...files].sort(),
    root: snapshot.tablePath,
    isHivePartitioned: false,
    delta: {
      version: snapshot.version,
      scan: sql`(${scanSql(snapshot, fileGroups ? { fileGroups } : {})})`,
    },
  }
}

/**
 * `read_parquet([?, …], …)` over exactly the source's files, paths bound as parameters; for a
 * Delta table, the SELECT of its snapshot's rows.
 * Files are unioned by column name, so a column added in later files is NULL in earlier ones.
 *
 * @example
 * sql`select count(*) from ${readParquetSql(ours)}`
 * // DuckDB: select count(*) from read_parquet([?, ?], union_by_name = true, hive_partitioning = false)
 */
export function readParquetSql(source: ParquetSource): Sql {
  if (source.delta) return source.delta.scan
  const files = joinSql(source.files.map((f) => sql`${f}`))
  const hive = raw(source.isHivePartitioned ? 'true' : 'false')
  return sql`read_parquet([${files}], union_by_name = true, hive_partitioning = ${hive})`
}

/** A short name for the dataset: the file or folder name without `.parquet`. */
export function datasetName(source: ParquetSource): string {
  const name = basename(source.kind === 'glob' ? source.root : source.path.replace(/[\\/]+$/, ''))
  const stem = extname(name).toLowerCase() === '.parquet' ? name.slice(0, -'.parquet'.length) : name
  return stem === '' || stem === '.' ? 'data' : stem
}

/** How messages name one of the source's files: as the user gave it when the source is that file. */
export function shownPath(source: ParquetSource, file: string): string {
  return source.kind === 'file' && source.files[0] === file ? source.path : file
}

/** True when `path` (absolute) is one of the source's files or lies inside its directory. */
export function sourceContains(source: ParquetSource, path: string): boolean {
  if (source.files.includes(path)) return true
  return (source.kind === 'directory' || source.kind === 'delta') && isInside(path, source.root)
}

/**
 * True when absolute `path` matches absolute glob `pattern` as resolveParquetSource expands it,
 * so an output path that a later run's input glob would pick up can be refused.
 */
export function matchesGlob(pattern: string, path: string): boolean {
  const root = globRoot(pattern)
  if (!isInside(path, root)) return false
  const parts = relative(root, path).split(sep)
  const matchers = relative(root, pattern)
    .split(sep)
    .map((part) => (part === '**' ? '**' : segmentRegExp(part)))
  const match = (i: number, j: number): boolean => {
    const m = matchers[i]
    if (m === undefined) return j === parts.length
    if (m === '**') return match(i + 1, j) || (j < parts.length && match(i, j + 1))
    const part = parts[j]
    return part !== undefined && m.test(part) && match(i + 1, j + 1)
  }
  return match(0, 0)
}

/** True when `child` is `parent` itself or lies somewhere below it. */
export function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..')
}

async function listParquetFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true })
  const files: string[] = []
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.toLowerCase().endsWith('.parquet')) continue
    const full = join(entry.parentPath, entry.name)
    const hidden = relative(dir, full)
      .split(sep)
      .some((part) => part.startsWith('.') || part.startsWith('_'))
    if (!hidden) files.push(full)
  }
  return files.sort()
}

/** DuckDB-compatible glob expansion without DuckDB: `*`, `?`, `[…]` per segment, `**` across. */
async function expandGlob(pattern: string): Promise<string[]> {
  const root = globRoot(pattern)
  const rest = relative(root, pattern).split(sep)
  const matchers = rest.map((part) => (part === '**' ? '**' : segmentRegExp(part)))
  const out: string[] = []
  const walk = async (dir: string, i: number): Promise<void> => {
    const m = matchers[i]
    if (m === undefined) return
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [])
    const last = i === matchers.length - 1
    if (m === '**') {
      // `**` matches zero or more folders.
      await walk(dir, i + 1)
      for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name), i)
      return
    }
    for (const e of entries) {
      if (!m.test(e.name)) continue
      const full = join(dir, e.name)
      if (last) {
        if (e.isFile()) out.push(full)
      } else if (e.isDirectory()) await walk(full, i + 1)
    }
  }
  await walk(root, 0)
  return [...new Set(out)].sort()
}

/** The folder before the first segment holding a glob character. */
function globRoot(pattern: string): string {
  const parts = pattern.split(sep)
  const first = parts.findIndex((p) => globChars.test(p))
  return parts.slice(0, first).join(sep) || sep
}

function segmentRegExp(segment: string): RegExp {
  let re = ''
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] ?? ''
    if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1)
      if (end < 0) re += '\\['
      else {
        const body = segment
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')
        re += `[${body}]`
        i = end
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

function hasHiveFolders(root: string, files: readonly string[]): boolean {
  return files.some((f) =>
    relative(root, dirname(f))
      .split(sep)
      .some((part) => /^[^=]+=/.test(part)),
  )
}

/**
 * Parquet files start and end with the magic bytes `PAR1`; a truncated file lacks the end.
 * `file` is the path messages show: as the user gave it, or absolute for a file found in a folder.
 */
async function assertParquetFile(file: string, side: Side): Promise<void> {
  let handle: FileHandle
  try {
    handle = await fs.open(file, 'r')
  } catch {
    throw new DuckmergeError('INPUT_NOT_FOUND', `Parquet file cannot be opened: ${file}`, {
      side,
      path: file,
    })
  }
  try {
    const { size } = await handle.stat()
    const head = Buffer.alloc(4)
    const tail = Buffer.alloc(4)
    await handle.read(head, 0, 4, 0)
    if (size >= 8) await handle.read(tail, 0, 4, size - 4)
    if (head.toString('latin1') !== 'PAR1')
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `${file} is not a Parquet file (it does not start with PAR1). Remove it or pass only Parquet files.`,
        { side, path: file },
      )
    if (size < 12 || tail.toString('latin1') !== 'PAR1')
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `${file} is a truncated or corrupt Parquet file (no PAR1 footer at its end, ${size} bytes). Rewrite or remove it.`,

        { side, path: file, size },
      )
  } finally {
    await handle.close()
  }
}
