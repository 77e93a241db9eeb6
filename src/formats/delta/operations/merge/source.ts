/** The source of a MERGE or backfill (a Delta table, Parquet files, a DuckDB query, or rows) as a DuckDB relation. */
import { existsSync, promises as fs } from 'node:fs'
import { join as joinPath, resolve } from 'node:path'
import type { DuckDb } from '../../../../engine/duckdb.js'
import { assertExists } from '../../../../engine/files.js'
import { ident, join, literal, raw, Sql, type SqlValue, sql } from '../../../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../../../errors.js'
import { logDir } from '../../log-store.js'
import { scanSql } from '../../scan.js'
import { loadSnapshot } from '../../snapshot.js'
import type { Snapshot } from '../../snapshot-types.js'
import { prepareSource } from '../source.js'

/**
 * Where the rows to merge come from:
 * - a path: a Delta table when it has a `_delta_log`, else a Parquet file, glob or folder
 *   (folders are read recursively, `key=value` folders as hive partition columns);
 * - several paths: Parquet files;
 * - an `Sql` query DuckDB runs (it may read anything DuckDB reads). It runs once per pass of
 *   the merge (up to three), so it must give the same rows each time (no `random()`);
 * - `{ rows }`: a few rows given in code (bound as values; for tests and small scripts).
 */
export type MergeSource =
  | string
  | readonly string[]
  | Sql
  | { readonly rows: readonly Readonly<Record<string, SqlValue>>[] }

export interface SourceColumn {
  readonly name: string
  /** DuckDB type as DESCRIBE prints it. */
  readonly type: string
}

export interface ResolvedSource {
  /** A parenthesised query usable wherever a table name is. */
  readonly relation: Sql
  readonly columns: readonly SourceColumn[]
  /** For messages: the path, or 'query' / 'rows'. */
  readonly label: string
  /** Set when the source is a Delta table. */
  readonly snapshot?: Snapshot
  /** Delta or Parquet file and row position columns are available (`__delta_file`, `__delta_row_index`). */
  readonly hasFileInfo: boolean
  /** The rows sit in a temporary table, which only this connection reads (`{ rows }`). */
  readonly connectionLocal?: boolean
}

/**
 * Resolves a source into a relation DuckDB can scan several times. Nothing is materialized
 * except `{ rows }`, which is loaded into a temporary table.
 *
 * @example
 * const source = await resolveSource(db, '/data/staging', { withFileInfo: true })
 * await db.all(sql`select count(*) from ${source.relation}`)
 */
export async function resolveSource(
  db: DuckDb,
  source: MergeSource,
  options: { readonly withFileInfo?: boolean; readonly what?: string } = {},
): Promise<ResolvedSource> {
  const what = options.what ?? 'merge source'
  const withFileInfo = options.withFileInfo ?? false
  if (source instanceof Sql) {
    const relation = sql`(${source})`
    return {
      relation,
      columns: await describe(db, relation, 'query'),
      label: 'query',
      hasFileInfo: false,
    }
  }
  if (typeof source === 'string' && isDeltaTable(source)) {
    const snapshot = await loadSnapshot(source)
    const relation = sql`(${scanSql(snapshot, { withFileInfo })})`
    const columns = snapshot.schema.fields.map((f) => f.name)
    const described = await describe(db, relation, source)
    return {
      relation,
      columns: described.filter((c) => columns.includes(c.name)),
      label: source,
      snapshot,
      hasFileInfo: withFileInfo,
    }
  }
  if (typeof source === 'string' && isTextFile(source)) {
    // CSV and JSON Lines are read as `delta create` and `delta append` read them.
    const prepared = await prepareSource(db, { file: source })
    await prepared.release()
    return {
      relation: sql`(${prepared.query})`,
      columns: await describe(db, sql`(${prepared.query})`, source),
      label: source,
      hasFileInfo: false,
    }
  }
  if (typeof source === 'string' || Array.isArray(source)) {
    const paths = await parquetPaths(
      typeof source === 'string' ? [source] : (source as string[]),
      what,
    )
    // Quoted literals, not bound values: the relation must be usable as a view body.
    const list = join(paths.map((p) => literal(p)))
    const fileInfo = withFileInfo ? raw(', filename = true, file_row_number = true') : raw('')
    const scan = sql`read_parquet([${list}], hive_partitioning = true, union_by_name = true${fileInfo})`
    const relation = withFileInfo
      ? sql`(select * exclude (filename, file_row_number), filename as __delta_file, file_row_number as __delta_row_index from ${scan})`
      : sql`(select * from ${scan})`
    const label = typeof source === 'string' ? source : source.join(', ')
    const columns = (await describe(db, relation, label)).filter(
      (c) => c.name !== '__delta_file' && c.name !== '__delta_row_index',
    )
    return { relation, columns, label, hasFileInfo: withFileInfo }
  }
  if ('rows' in source) return loadRows(db, source.rows)
  throw new DuckmergeError(
    'USAGE',
    `Unsupported ${what}: pass a path, paths, an Sql query or { rows }.`,
  )
}

/** CSV or JSON (Lines) by extension, as operations/source.ts tells them from Parquet. */
function isTextFile(path: string): boolean {
  return /\.(csv|tsv|txt|json|ndjson|jsonl)$/i.test(path)
}

/** True when `path` is a folder with a `_delta_log`. */
export function isDeltaTable(path: string): boolean {
  return existsSync(logDir(resolve(path)))
}

async function parquetPaths(paths: readonly string[], what: string): Promise<string[]> {
  const out: string[] = []
  for (const path of paths) {
    if (/[*?[]/.test(path)) {
      out.push(path)
      continue
    }
    await assertExists(path, what)
    const stat = await fs.stat(path)
    out.push(stat.isDirectory() ? joinPath(resolve(path), '**', '*.parquet') : resolve(path))
  }
  return out
}

async function describe(db: DuckDb, relation: Sql, label: string): Promise<SourceColumn[]> {
  try {
    const rows = await db.all<{ column_name: string; column_type: string }>(
      sql`describe select * from ${relation}`,
    )
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }))
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read merge source ${label}: ${messageOf(error)}`,
      { source: label },
      { cause: error },
    )
  }
}

let rowTables = 0

/** Loads rows given in code into a temporary table (their values bound, never spliced). */
async function loadRows(
  db: DuckDb,
  rows: readonly Readonly<Record<string, SqlValue>>[],
): Promise<ResolvedSource> {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  if (names.length === 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      'Cannot merge { rows: [] }: a rows source needs at least one row with one column (its columns come from the rows).',
    )
  const table = ident(`__dm_rows_${++rowTables}`)
  const values = join(rows.map((row) => sql`(${join(names.map((n) => sql`${row[n] ?? null}`))})`))
  await db.run(
    sql`create temp table ${table} as select * from (values ${values}) as v(${join(names.map((n) => ident(n)))})`,
  )
  const relation = sql`(select * from ${table})`
  return {
    relation,
    columns: await describe(db, relation, 'rows'),
    label: 'rows',
    hasFileInfo: false,
    connectionLocal: true,
  }
}
