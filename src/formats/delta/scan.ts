/**
 * The rows of a snapshot as one DuckDB SELECT over its live Parquet files: logical column names,
 * partition values from the log, deletion vectors applied, missing columns as NULL.
 *
 *   read_parquet(live files, filename, [file_row_number], union_by_name, no hive partitioning)
 *     UNION ALL BY NAME a zero-row template (columns absent from every file read as NULL)
 *     JOIN the files' partition values   ANTI JOIN the deleted (file, row) pairs
 */
import { promises as fs } from 'node:fs'
import type { DuckDb } from '../../engine/duckdb.js'
import { ident, join, literal, raw, type Sql, sql } from '../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../errors.js'
import type { AddFile } from './actions.js'
import {
  type ColumnMappingMode,
  columnMappingMode,
  logicalValueSql,
  physicalDuckDbType,
  physicalName,
} from './column-mapping.js'
import { dvId } from './deletion-vectors.js'
import { listLog } from './log-store.js'
import { dataFilePath, partitionValueSql } from './partition-values.js'
import { type DataType, deltaToDuckDbType, type StructField } from './schema.js'
import { loadSnapshot } from './snapshot.js'
import type { Snapshot } from './snapshot-types.js'

export interface ScanOptions {
  /** The files to read (e.g. from pruneFiles); all live files when omitted. */
  readonly files?: readonly AddFile[]
  /** Adds `__delta_file` (the add.path) and `__delta_row_index` (row index in that file). */
  readonly withFileInfo?: boolean
  /**
   * The files split into groups read by separate scans (from planFileGroups): files whose
   * timestamps are stored differently (INT96 vs UTC-adjusted INT64) must not share one
   * read_parquet, which would reconcile them through the session time zone. Overrides `files`.
   */
  readonly fileGroups?: readonly (readonly AddFile[])[]
}

// The scan's file-name column; chosen not to collide with table columns.
const FILE = '__delta_scan_file'

/**
 * A SELECT of the snapshot's rows. It has no bound values (paths and partition values are quoted
 * literals), so it can be the body of a view.
 *
 * @example
 * const rows = await db.all(sql`select count(*) as n from (${scanSql(snapshot)})`)
 * // select CAST(f."id" AS BIGINT) AS "id", CAST(p."part" AS DATE) AS "part"
 * // from (select * from read_parquet(['/t/part=…/a.parquet'], filename = '__delta_scan_file', …)
 * //       union all by name select NULL AS "id", … where false) as f
 * // join (values ('/t/part=…/a.parquet', 'part=…/a.parquet', CAST('2024-01-01' AS DATE))) as p(…) on …
 */
export function scanSql(snapshot: Snapshot, options: ScanOptions = {}): Sql {
  const withInfo = options.withFileInfo === true
  const groups = (options.fileGroups ?? [options.files ?? snapshot.files]).filter(
    (g) => g.length > 0,
  )
  if (groups.length === 0) return emptyScan(snapshot, withInfo)
  // Every group projects the same logical columns and types, so a plain UNION ALL lines up.
  return join(
    groups.map((files) => groupSql(snapshot, files, withInfo)),
    ' union all ',
  )
}

function groupSql(snapshot: Snapshot, files: readonly AddFile[], withInfo: boolean): Sql {
  const mode = columnMappingMode(snapshot.metadata)
  const partitionSet = new Set(snapshot.partitionColumns)
  const dataFields = snapshot.schema.fields.filter((f) => !partitionSet.has(f.name))
  const partitionFields = snapshot.partitionColumns.map((name) => fieldNamed(snapshot, name))

  const paths = files.map((f) => dataFilePath(snapshot.tablePath, f.path))
  // Row numbers only when needed: DuckDB refuses them for files with a column of that name.
  const needsRowNumber = withInfo || files.some((f) => f.deletionVector)
  const rowNumber = needsRowNumber ? raw(', file_row_number = true') : raw('')
  const scan = sql`select * from read_parquet([${join(paths.map(literal))}], filename = ${literal(FILE)}${rowNumber}, union_by_name = true, hive_partitioning = false)`
  // Typed NULLs for every data column, so a column no file has yet still exists.
  const template = join([
    ...dataFields.map((f) => templateColumn(f, mode)),
    sql`CAST(NULL AS VARCHAR) AS ${ident(FILE)}`,
    ...(needsRowNumber ? [sql`CAST(NULL AS BIGINT) AS file_row_number`] : []),
  ])
  let from = sql`(${scan} union all by name select ${template} where false) as f`

  const needsFileTable = partitionFields.length > 0 || withInfo
  if (needsFileTable) {
    const rows = files.map((file, i) =>
      join([
        literal(paths[i] ?? ''),
        literal(file.path),
        ...partitionFields.map((field) =>
          partitionValueSql(file.partitionValues[physicalName(field, mode)], field.type),
        ),
      ]),
    )
    const names = join([
      ident('__path'),
      ident('__add_path'),
      ...partitionFields.map((_, i) => ident(`__p${i}`)),
    ])
    from = sql`${from} join (values ${join(rows.map((r) => sql`(${r})`))}) as p(${names}) on p.__path = f.${ident(FILE)}`
  }

  const deleted = deletedRows(snapshot, files, paths)
  if (deleted)
    from = sql`${from} anti join (${deleted}) as d on d.path = f.${ident(FILE)} and d.row = f.file_row_number`

  const columns = snapshot.schema.fields.map((field) => {
    if (partitionSet.has(field.name)) {
      const i = partitionFields.indexOf(field)
      return sql`p.${ident(`__p${i}`)} AS ${ident(field.name)}`
    }
    const source = sql`f.${ident(physicalName(field, mode))}`
    return sql`${logicalValueSql(source, field.type, mode)} AS ${ident(field.name)}`
  })
  if (withInfo)
    columns.push(sql`p.__add_path AS __delta_file`, sql`f.file_row_number AS __delta_row_index`)
  return sql`select ${join(columns)} from ${from}`
}

function fieldNamed(snapshot: Snapshot, name: string): StructField {
  const field = snapshot.schema.fields.find((f) => f.name === name)
  if (!field)
    throw new DuckmergeError(
      'DELTA_LOG_INVALID',
      `Delta table ${snapshot.tablePath}: partition column "${name}" is not in the schema.`,
      { table: snapshot.tablePath, column: name },
    )
  return field
}

function templateColumn(field: StructField, mode: ColumnMappingMode): Sql {
  const name = ident(physicalName(field, mode))
  // Untyped NULL for primitives lets the files' own type win the union (no lossy coercion);
  // timestamps and nested types need a type so the logical conversion can bind.
  if (typeof field.type === 'string' && field.type !== 'timestamp') return sql`NULL AS ${name}`
  return sql`CAST(NULL AS ${raw(physicalDuckDbType(field.type, mode))}) AS ${name}`
}

/** (path, row) pairs of every deletion vector among `files`, or undefined when there are none. */
function deletedRows(
  snapshot: Snapshot,
  files: readonly AddFile[],
  paths: readonly string[],
): Sql | undefined {
  const parts: Sql[] = []
  files.forEach((file, i) => {
    const dv = file.deletionVector
    if (!dv) return
    const rows = snapshot.deletionVectors?.get(dvId(dv))
    if (!rows)
      throw new DuckmergeError(
        'INTERNAL',
        `Deletion vector of ${file.path} was not loaded; build the snapshot with loadSnapshot.`,
        { path: file.path },
      )
    if (rows.length === 0) return
    parts.push(sql`(${literal(paths[i] ?? '')}, [${raw(rows.join(','))}]::BIGINT[])`)
  })
  if (parts.length === 0) return undefined
  return sql`select path, unnest(rows) as row from (values ${join(parts)}) as dv(path, rows)`
}

function emptyScan(snapshot: Snapshot, withInfo: boolean): Sql {
  const columns = snapshot.schema.fields.map(
    (f) => sql`CAST(NULL AS ${raw(deltaToDuckDbType(f.type))}) AS ${ident(f.name)}`,
  )
  if (withInfo)
    columns.push(
      sql`CAST(NULL AS VARCHAR) AS __delta_file`,
      sql`CAST(NULL AS BIGINT) AS __delta_row_index`,
    )
  return sql`select ${join(columns)} where false`
}

/**
 * Creates (or replaces) a temporary view `viewName` over the snapshot's live files. Checks first
 * that every data file exists, so a missing file is an error naming it rather than a DuckDB
 * message at query time, and groups files by timestamp storage (planFileGroups).
 *
 * @example
 * await registerSnapshot(db, await loadSnapshot('/data/events'), 't')
 * await db.all(sql`select count(*) from t`)
 */
export async function registerSnapshot(
  db: DuckDb,
  snapshot: Snapshot,
  viewName: string,
  options: ScanOptions = {},
): Promise<void> {
  const files = options.files ?? snapshot.files
  await assertFilesExist(snapshot, files)
  try {
    const fileGroups = options.fileGroups ?? (await planFileGroups(db, snapshot, files))
    const body = scanSql(snapshot, { ...options, fileGroups })
    await db.run(sql`create or replace temp view ${ident(viewName)} as ${body}`)
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read the data files of Delta table ${snapshot.tablePath} at version ${snapshot.version}: ${messageOf(error)}`,
      { table: snapshot.tablePath, version: snapshot.version },
      { cause: error },
    )
  }
}

/**
 * Splits `files` by how they store Delta `timestamp` values (INT96, UTC-adjusted or naive
 * INT64), read from the Parquet footers, so that scanSql reads each kind with its own
 * read_parquet: DuckDB would otherwise unify them through the session time zone. One group when
 * the schema has no timestamp or every file stores it the same way.
 *
 * @example
 * const fileGroups = await planFileGroups(db, snapshot, snapshot.files)
 * await db.all(scanSql(snapshot, { fileGroups }))
 */
export async function planFileGroups(
  db: DuckDb,
  snapshot: Snapshot,
  files: readonly AddFile[],
): Promise<(readonly AddFile[])[]> {
  if (files.length < 2 || !hasTimestamp(snapshot.schema)) return [files]
  const paths = files.map((f) => dataFilePath(snapshot.tablePath, f.path))
  const rows = await db.all<{ file_name: string; flavor: string }>(
    sql`select file_name, string_agg(name || ':' || type || ':' || coalesce(converted_type, '') || ':' || coalesce(logical_type, ''), ',' order by name) as flavor
        from parquet_schema([${join(paths.map(literal))}])
        where type = 'INT96' or converted_type like 'TIMESTAMP%' or logical_type like 'TimestampType%'
        group by file_name`,
  )
  const flavorOf = new Map(rows.map((r) => [r.file_name, r.flavor]))
  const groups = new Map<string, AddFile[]>()
  files.forEach((file, i) => {
    const key = flavorOf.get(paths[i] ?? '') ?? ''
    const group = groups.get(key) ?? []
    group.push(file)
    groups.set(key, group)
  })
  return [...groups.values()]
}

function hasTimestamp(type: DataType): boolean {
  if (typeof type === 'string') return type === 'timestamp'
  switch (type.type) {
    case 'struct':
      return type.fields.some((f) => hasTimestamp(f.type))
    case 'array':
      return hasTimestamp(type.elementType)
    case 'map':
      return hasTimestamp(type.keyType) || hasTimestamp(type.valueType)
  }
}

/**
 * Throws INPUT_NOT_FOUND naming the first live data file that is missing, and the versions that
 * can still be read (vacuum removes the files only old versions need).
 */
export async function assertFilesExist(
  snapshot: Snapshot,
  files: readonly AddFile[],
): Promise<void> {
  const missing = await firstMissing(snapshot.tablePath, files)
  if (!missing) return
  const path = dataFilePath(snapshot.tablePath, missing.path)
  const latest = (await listLog(snapshot.tablePath)).commits.at(-1)?.version ?? snapshot.version
  const intact = await earliestIntactVersion(snapshot.tablePath, snapshot.version + 1, latest)
  const available =
    intact === undefined
      ? ''
      : intact === latest
        ? ` Only the latest version, ${latest}, has all its files.`
        : ` Versions ${intact} to ${latest} have all their files.`
  throw new DuckmergeError(
    'INPUT_NOT_FOUND',
    `Delta table ${snapshot.tablePath} at version ${snapshot.version} lists data file ${missing.path}, but ${path} is missing (vacuum removes the files only older versions need).${available}`,
    {
      table: snapshot.tablePath,
      path,
      version: snapshot.version,
      ...(intact === undefined
        ? { hint: `Restore ${path}.` }
        : {
            availableVersions: { from: intact, to: latest },
            hint:
              intact === latest
                ? 'Read the latest version, or restore the file.'
                : `Read {version} ${intact} to ${latest}, or restore the file.`,
          }),
    },
  )
}

async function firstMissing(
  tablePath: string,
  files: readonly AddFile[],
): Promise<AddFile | undefined> {
  for (let i = 0; i < files.length; i += 64) {
    const batch = files.slice(i, i + 64)
    const present = await Promise.all(
      batch.map((file) =>
        fs.access(dataFilePath(tablePath, file.path)).then(
          () => true,
          () => false,
        ),
      ),
    )
    const gone = batch.find((_, k) => !present[k])
    if (gone) return gone
  }
  return undefined
}

/**
 * The first version in `from..to` whose files all exist, by bisection: vacuum deletes the files
 * of versions older than its retention, so the versions still whole are the latest ones.
 */
async function earliestIntactVersion(
  tablePath: string,
  from: number,
  to: number,
): Promise<number | undefined> {
  const intact = async (version: number) => {
    const snapshot = await loadSnapshot(tablePath, { version }).catch(() => undefined)
    return snapshot !== undefined && (await firstMissing(tablePath, snapshot.files)) === undefined
  }
  if (from > to || !(await intact(to))) return undefined
  let [low, high] = [from, to]
  while (low < high) {
    const mid = Math.floor((low + high) / 2)
    if (await intact(mid)) high = mid
    else low = mid + 1
  }
  return low
}
