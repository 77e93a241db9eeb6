/**
 * The rows of a snapshot as one DuckDB SELECT over its live Parquet files: logical column names,
 * partition values from the log, deletion vectors applied, missing columns as NULL.
 *
 *   read_parquet(live files, filename, file_row_number, union_by_name, no hive partitioning)
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
import { dataFilePath, partitionValueSql } from './partition-values.js'
import { deltaToDuckDbType, type StructField } from './schema.js'
import type { Snapshot } from './snapshot-types.js'

export interface ScanOptions {
  /** The files to read (e.g. from pruneFiles); all live files when omitted. */
  readonly files?: readonly AddFile[]
  /** Adds `__delta_file` (the add.path) and `__delta_row_index` (row index in that file). */
  readonly withFileInfo?: boolean
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
  const files = options.files ?? snapshot.files
  const mode = columnMappingMode(snapshot.metadata)
  const partitionSet = new Set(snapshot.partitionColumns)
  const dataFields = snapshot.schema.fields.filter((f) => !partitionSet.has(f.name))
  const partitionFields = snapshot.partitionColumns.map((name) => fieldNamed(snapshot, name))
  const withInfo = options.withFileInfo === true

  if (files.length === 0) return emptyScan(snapshot, withInfo)

  const paths = files.map((f) => dataFilePath(snapshot.tablePath, f.path))
  const scan = sql`select * from read_parquet([${join(paths.map(literal))}], filename = ${literal(FILE)}, file_row_number = true, union_by_name = true, hive_partitioning = false)`
  // Typed NULLs for every data column, so a column no file has yet still exists.
  const template = join([
    ...dataFields.map((f) => templateColumn(f, mode)),
    sql`CAST(NULL AS VARCHAR) AS ${ident(FILE)}`,
    sql`CAST(NULL AS BIGINT) AS file_row_number`,
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
 * message at query time.
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
  await assertFilesExist(snapshot, options.files ?? snapshot.files)
  const body = scanSql(snapshot, options)
  try {
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

/** Throws INPUT_NOT_FOUND naming the first live data file that is missing. */
export async function assertFilesExist(
  snapshot: Snapshot,
  files: readonly AddFile[],
): Promise<void> {
  for (let i = 0; i < files.length; i += 64)
    await Promise.all(
      files.slice(i, i + 64).map(async (file) => {
        const path = dataFilePath(snapshot.tablePath, file.path)
        try {
          await fs.access(path)
        } catch {
          throw new DuckmergeError(
            'INPUT_NOT_FOUND',
            `Delta table ${snapshot.tablePath} at version ${snapshot.version} lists data file ${file.path}, but ${path} is missing. Restore it, or read an earlier version.`,
            { table: snapshot.tablePath, path, version: snapshot.version },
          )
        }
      }),
    )
}
