/**
 * Writes the data files of a Delta commit with DuckDB's Parquet writer and turns each file into an
 * add action: Spark's hive-style partition folders, unique names, Delta partition values and stats.
 */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { DuckDb } from '../../engine/duckdb.js'
import { removeOnExit, throwIfInterrupted } from '../../engine/interrupt.js'
import { ident, join as joinSql, literal, raw, type Sql, sql } from '../../engine/sql.js'
import { DuckmergeError } from '../../errors.js'
import type { ProgressCallback } from '../../progress.js'
import type { AddFile } from './actions.js'
import { type ColumnMappingMode, physicalName } from './column-mapping.js'
import { type FileStatsOptions, parseDuckDbColumnStats, statsJson } from './file-stats.js'
import { type DataType, deltaToDuckDbType, type StructType } from './schema.js'

export type Compression = 'zstd' | 'snappy' | 'gzip' | 'uncompressed'

export interface WriteFilesOptions {
  /** The table schema (logical names; the writer refuses column-mapped tables). */
  readonly schema: StructType
  readonly partitionColumns: readonly string[]
  /** Columns of the schema the query lacks: written as NULL. Default: none. */
  readonly missingColumns?: readonly string[]
  /** Default zstd. */
  readonly compression?: Compression
  readonly stats?: FileStatsOptions
  /** The table's column mapping mode; 'name' writes physical names. Default 'none'. */
  readonly columnMapping?: ColumnMappingMode
  /** Unpartitioned writes start a new file past this size (default 128 MiB). */
  readonly targetFileSizeBytes?: number
  readonly onProgress?: ProgressCallback
  /** Aborted: stop before moving files into the table (INTERRUPTED); the staging folder goes. */
  readonly signal?: AbortSignal | undefined
}

const DEFAULT_FILE_SIZE = 128 * 1024 * 1024

/** The hidden folder DuckDB writes a commit's files into before they are moved into the table. */
export const STAGING_PREFIX = '.duckmerge-staging-'

/** Spark's name for a null partition value's folder (and the hive convention). */
export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__'

/**
 * Runs `query` through `COPY … TO … (FORMAT parquet, RETURN_STATS)` and returns one add action per
 * non-empty file. Columns are cast to the table schema's types (timestamps in microseconds, UTC
 * ones as isAdjustedToUTC), partition columns are left out of the files and written as
 * `col=value/` folders escaped as Spark escapes them. Files appear under their final names only
 * after DuckDB finished them (written to a hidden staging folder first, then renamed).
 *
 * @example
 * const adds = await writeDataFiles(db, '/data/events', sql`select * from read_parquet(${file})`, {
 *   schema, partitionColumns: ['day'],
 * })
 */
export async function writeDataFiles(
  db: DuckDb,
  tablePath: string,
  query: Sql,
  options: WriteFilesOptions,
): Promise<AddFile[]> {
  const root = resolve(tablePath)
  const compression = options.compression ?? 'zstd'
  const partitionColumns = options.partitionColumns
  const missing = new Set(options.missingColumns ?? [])
  const fields = options.schema.fields
  for (const p of partitionColumns)
    if (!fields.some((f) => f.name === p))
      throw new DuckmergeError(
        'COLUMN_NOT_FOUND',
        `Partition column "${p}" is not in the schema of ${root} (columns: ${fields.map((f) => f.name).join(', ')}).`,
        { column: p },
      )
  const mode = options.columnMapping ?? 'none'
  // With column mapping, files and partition values use physical names (PROTOCOL.md, Column
  // Mapping: writers write the physical name at every level).
  const physical = (name: string) => {
    const field = fields.find((f) => f.name === name)
    return field ? physicalName(field, mode) : name
  }
  const select = joinSql(
    fields.map((f) => {
      const value = missing.has(f.name) ? raw('NULL') : sql`q.${ident(f.name)}`
      const typed = sql`CAST(${value} AS ${raw(deltaToDuckDbType(f.type))})`
      return partitionColumns.includes(f.name)
        ? sql`${partitionValueSql(typed, f.type, f.name)} AS ${ident(physical(f.name))}`
        : sql`${physicalValueSql(typed, f.type, mode)} AS ${ident(physical(f.name))}`
    }),
  )
  const staging = join(root, `${STAGING_PREFIX}${randomUUID()}`)
  await fs.mkdir(staging, { recursive: true })
  // A second Ctrl-C exits without waiting for the finally below: the staging folder goes then too.
  const forgetStaging = removeOnExit(staging)
  const codec = compression === 'uncompressed' ? 'uncompressed' : compression
  const suffix = compression === 'uncompressed' ? '' : `.${compression}`
  const moved: string[] = []
  try {
    // DuckDB cannot combine FILE_SIZE_BYTES with PARTITION_BY: partitioned writes get one file
    // per partition, unpartitioned ones roll over to a new file at the target size.
    const layout =
      partitionColumns.length > 0
        ? sql`PARTITION_BY (${joinSql(partitionColumns.map((p) => ident(physical(p))))})`
        : sql`FILE_SIZE_BYTES ${raw(String(Math.max(1, Math.floor(options.targetFileSizeBytes ?? DEFAULT_FILE_SIZE))))}`
    const rows = await db.allJson<CopyRow>(
      sql`COPY (SELECT ${select} FROM (${query}) q) TO ${literal(staging)} (FORMAT parquet, COMPRESSION ${raw(codec)}, RETURN_STATS true, FILENAME_PATTERN 'part-{uuid}', ${layout})`,
    )
    const dataSchema = physicalSchema(
      { type: 'struct', fields: fields.filter((f) => !partitionColumns.includes(f.name)) },
      mode,
    )
    const adds: AddFile[] = []
    for (const [i, row] of rows.entries()) {
      const count = Number(row.count)
      if (count === 0) continue
      const partitionValues: Record<string, string | null> = {}
      const keys = new Map((row.partition_keys ?? []).map((k) => [k.key, k.value]))
      let dir = ''
      for (const p of partitionColumns.map(physical)) {
        const v = keys.get(p)
        const value = v === undefined || v === null || v === '' ? null : v
        partitionValues[p] = value
        dir += `${escapePathName(p)}=${value === null ? NULL_PARTITION : escapePathName(value)}/`
      }
      // Files still in staging belong to no version yet: say so in the table's words, as the
      // commit's own safe point does (a signal lands on either, depending on timing).
      throwIfInterrupted(options.signal, `nothing was committed to ${tablePath}`)
      const name = `part-${String(i).padStart(5, '0')}-${randomUUID()}-c000${suffix}.parquet`
      const relative = dir + name
      const finalPath = join(root, relative)
      await fs.mkdir(dirname(finalPath), { recursive: true })
      await fs.rename(row.filename, finalPath)
      moved.push(finalPath)
      const stat = await fs.stat(finalPath)
      adds.push({
        path: encodePath(relative),
        partitionValues,
        size: stat.size,
        modificationTime: Math.floor(stat.mtimeMs),
        dataChange: true,
        stats: statsJson(
          dataSchema,
          count,
          parseDuckDbColumnStats(row.column_statistics),
          options.stats,
        ),
      })
    }
    options.onProgress?.({
      phase: 'writing data files',
      done: adds.length,
      total: adds.length,
      unit: 'files',
    })
    return adds
  } catch (error) {
    await Promise.all(moved.map((p) => fs.rm(p, { force: true })))
    throw copyError(error, staging)
  } finally {
    await fs.rm(staging, { recursive: true, force: true })
    forgetStaging()
  }
}

/**
 * DuckDB failures while copying: one naming an input file (a corrupt page, a truncated file) is
 * INPUT_UNREADABLE naming it; one naming the staging folder is OUTPUT_UNWRITABLE. Others (our
 * bugs) pass unchanged.
 */
function copyError(error: unknown, staging: string): unknown {
  if (error instanceof DuckmergeError || !(error instanceof Error)) return error
  const file = /file ["']([^"']+)["']/i.exec(error.message)?.[1]
  if (error.message.includes(staging))
    return new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write data files in ${dirname(staging)}: ${error.message}`,
      { path: dirname(staging) },
      { cause: error },
    )
  if (file && /^(Invalid Input|IO) Error/.test(error.message))
    return new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read ${file}: it is corrupt or truncated (${error.message})`,
      { file },
      { cause: error },
    )
  return error
}

/**
 * A logical value as the files store it under column mapping: struct fields renamed to their
 * physical names at every level (inside lists and maps too). Unchanged without mapping.
 */
function physicalValueSql(expr: Sql, type: DataType, mode: ColumnMappingMode, depth = 0): Sql {
  if (mode === 'none' || !hasStruct(type) || typeof type === 'string') return expr
  const v = raw(`__w${depth}`)
  switch (type.type) {
    case 'struct': {
      const fields = type.fields.map(
        (f) =>
          sql`${ident(physicalName(f, mode))} := ${physicalValueSql(sql`${expr}.${ident(f.name)}`, f.type, mode, depth + 1)}`,
      )
      return sql`CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${joinSql(fields)}) END`
    }
    case 'array':
      return sql`list_transform(${expr}, lambda ${v}: ${physicalValueSql(v, type.elementType, mode, depth + 1)})`
    case 'map': {
      const key = physicalValueSql(sql`${v}.key`, type.keyType, mode, depth + 1)
      const value = physicalValueSql(sql`${v}.value`, type.valueType, mode, depth + 1)
      return sql`map_from_entries(list_transform(map_entries(${expr}), lambda ${v}: {'key': ${key}, 'value': ${value}}))`
    }
  }
}

function hasStruct(type: DataType): boolean {
  if (typeof type === 'string') return false
  if (type.type === 'struct') return true
  if (type.type === 'array') return hasStruct(type.elementType)
  return hasStruct(type.keyType) || hasStruct(type.valueType)
}

/** The schema with physical names at every level, which is what stats are keyed by. */
function physicalSchema(struct: StructType, mode: ColumnMappingMode): StructType {
  if (mode === 'none') return struct
  const rename = (type: DataType): DataType => {
    if (typeof type === 'string') return type
    if (type.type === 'struct') return physicalSchema(type, mode)
    if (type.type === 'array') return { ...type, elementType: rename(type.elementType) }
    return { ...type, keyType: rename(type.keyType), valueType: rename(type.valueType) }
  }
  return {
    type: 'struct',
    fields: struct.fields.map((f) => ({ ...f, name: physicalName(f, mode), type: rename(f.type) })),
  }
}

/** The row count an add action's stats record (0 when it has none). */
export function numRecordsOf(add: Pick<AddFile, 'stats'>): number {
  if (!add.stats) return 0
  const n = (JSON.parse(add.stats) as { numRecords?: unknown }).numRecords
  return typeof n === 'number' ? n : 0
}

interface CopyRow {
  readonly filename: string
  readonly count: string | number
  readonly column_statistics: unknown
  readonly partition_keys: readonly { key: string; value: string | null }[] | null
}

/**
 * PROTOCOL.md, Partition Value Serialization, as SQL over a value already cast to its type.
 * Empty strings become null (the protocol reads "" as null). Timestamps are written as ISO 8601
 * in UTC with a Z, the form the protocol recommends; timestamp_ntz as 'YYYY-MM-DD HH:MM:SS.ffffff'.
 */
function partitionValueSql(value: Sql, type: DataType, column: string): Sql {
  switch (type) {
    case 'string':
      return sql`NULLIF(${value}, '')`
    case 'date':
      return sql`strftime(${value}, '%Y-%m-%d')`
    case 'timestamp':
      return sql`strftime(timezone('UTC', ${value}), '%Y-%m-%dT%H:%M:%S.%fZ')`
    case 'timestamp_ntz':
      return sql`strftime(${value}, '%Y-%m-%d %H:%M:%S.%f')`
    case 'float':
    case 'double':
      return sql`CASE WHEN isnan(${value}) THEN 'NaN' WHEN isinf(${value}) THEN (CASE WHEN ${value} > 0 THEN 'Infinity' ELSE '-Infinity' END) ELSE CAST(${value} AS VARCHAR) END`
    case 'boolean':
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return sql`CAST(${value} AS VARCHAR)`
    default:
      if (typeof type === 'string' && type.startsWith('decimal('))
        return sql`CAST(${value} AS VARCHAR)`
      throw new DuckmergeError(
        'UNSUPPORTED_FEATURE',
        `Cannot partition by column "${column}" of type ${typeof type === 'string' ? type : type.type}: Delta partition columns must be primitive, non-binary values.`,
        { column, hint: 'Choose another {partitionBy} column.' },
      )
  }
}

// Spark's ExternalCatalogUtils.escapePathName escapes these (plus control characters) as %XX.
const PATH_SPECIAL = new Set([
  '"',
  '#',
  '%',
  "'",
  '*',
  '/',
  ':',
  '=',
  '?',
  '\\',
  '\x7f',
  '{',
  '[',
  ']',
  '^',
])

/**
 * A partition column name or value as a folder name component, escaped as Spark does.
 *
 * @example escapePathName('a:b/c') // 'a%3Ab%2Fc'
 */
export function escapePathName(text: string): string {
  let out = ''
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0
    out +=
      code < 0x20 || PATH_SPECIAL.has(ch)
        ? `%${code.toString(16).toUpperCase().padStart(2, '0')}`
        : ch
  }
  return out
}

/**
 * A relative path as the URI add.path holds (PROTOCOL.md: RFC 2396, decoded once by readers):
 * every byte outside the unreserved and path-safe set is percent-encoded, so a folder's `%3A`
 * becomes `%253A`, as Spark writes it.
 *
 * @example encodePath('d=2021-01-01 00%3A00/part-0.parquet') // 'd=2021-01-01%2000%253A00/part-0.parquet'
 */
export function encodePath(relative: string): string {
  let out = ''
  for (const byte of Buffer.from(relative, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out +=
      /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/.test(ch) && byte < 0x80
        ? ch
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
