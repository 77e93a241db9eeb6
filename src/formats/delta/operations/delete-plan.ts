/**
 * Which files a row predicate touches, for DELETE and replaceWhere: files whose every live row
 * matches are removed; files with some matching rows are rewritten without them; the rest stay.
 *
 *   predicate over partition columns only? → evaluate it on each file's partition values (no
 *     data read: every row of a file shares them) → remove whole files
 *   else scan(live files) → per file: matched / total rows → remove (all), rewrite (some), keep
 */
import type { DuckDb } from '../../../engine/duckdb.js'
import { ident, join, literal, raw, type Sql, sql } from '../../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../../errors.js'
import type { AddFile } from '../actions.js'
import { columnMappingMode, physicalName } from '../column-mapping.js'
import { partitionValueSql } from '../partition-values.js'
import { assertFilesExist, scanSql } from '../scan.js'
import type { Snapshot } from '../snapshot-types.js'
import { liveRowsOf } from './write-context.js'

export interface DeletePlan {
  /** Files every live row of which matches: removed without a rewrite. */
  readonly removeWhole: readonly AddFile[]
  /** Files with some matching rows: removed, their other rows rewritten by `rewriteQuery`. */
  readonly rewrite: readonly AddFile[]
  /** The rows of `rewrite` that do not match, or undefined when nothing needs rewriting. */
  readonly rewriteQuery: Sql | undefined
  readonly numDeletedRows: number
  readonly numCopiedRows: number
}

/**
 * Plans deleting the rows where `predicate` (DuckDB SQL over the table's logical columns,
 * passed through as an expression) is true; rows where it is NULL stay, as in Spark.
 * Without a predicate every file is removed whole, without reading data.
 *
 * @example
 * const plan = await planDelete(db, snapshot, "day < DATE '2024-01-01'")
 * plan.removeWhole.length // files dropped without a rewrite
 */
export async function planDelete(
  db: DuckDb,
  snapshot: Snapshot,
  predicate: string | undefined,
): Promise<DeletePlan> {
  if (predicate === undefined)
    return {
      removeWhole: snapshot.files,
      rewrite: [],
      rewriteQuery: undefined,
      numDeletedRows: snapshot.files.reduce((n, f) => n + liveRowsOf(f), 0),
      numCopiedRows: 0,
    }
  if (snapshot.files.length === 0)
    return {
      removeWhole: [],
      rewrite: [],
      rewriteQuery: undefined,
      numDeletedRows: 0,
      numCopiedRows: 0,
    }
  const condition = sql`(${raw(predicate)})`
  const byPartition = await planByPartitions(db, snapshot, condition)
  if (byPartition) return byPartition
  await assertFilesExist(snapshot, snapshot.files)
  let counts: { path: string; matched: bigint; total: bigint }[]
  try {
    counts = await db.all(
      sql`SELECT __delta_file AS path, count(*) FILTER (WHERE ${condition}) AS matched, count(*) AS total
          FROM (${scanSql(snapshot, { withFileInfo: true })}) GROUP BY 1`,
    )
  } catch (error) {
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot evaluate the predicate ${predicate} on Delta table ${snapshot.tablePath}: ${messageOf(error)}. Use DuckDB SQL over the table's columns (${snapshot.schema.fields.map((f) => f.name).join(', ')}).`,
      { table: snapshot.tablePath, predicate },
      { cause: error },
    )
  }
  const byPath = new Map(snapshot.files.map((f) => [f.path, f]))
  const removeWhole: AddFile[] = []
  const rewrite: AddFile[] = []
  let numDeletedRows = 0
  let numCopiedRows = 0
  for (const row of counts) {
    const matched = Number(row.matched)
    const total = Number(row.total)
    const file = byPath.get(row.path)
    if (!file || matched === 0) continue
    numDeletedRows += matched
    if (matched === total) removeWhole.push(file)
    else {
      rewrite.push(file)
      numCopiedRows += total - matched
    }
  }
  const rewriteQuery =
    rewrite.length > 0
      ? sql`SELECT * FROM (${scanSql(snapshot, { files: rewrite })}) WHERE ${condition} IS NOT TRUE`
      : undefined
  return { removeWhole, rewrite, rewriteQuery, numDeletedRows, numCopiedRows }
}

/**
 * When the predicate binds against the partition columns alone, it decides whole files from
 * their partition values: the plan needs no data read (Spark's metadata-only delete). Returns
 * undefined when the predicate mentions other columns (DuckDB fails to bind it) or the table is
 * not partitioned.
 */
async function planByPartitions(
  db: DuckDb,
  snapshot: Snapshot,
  condition: Sql,
): Promise<DeletePlan | undefined> {
  const mode = columnMappingMode(snapshot.metadata)
  const fields = snapshot.partitionColumns.map((name) =>
    snapshot.schema.fields.find((f) => f.name === name),
  )
  if (fields.length === 0 || fields.some((f) => f === undefined)) return undefined
  const rows = snapshot.files.map(
    (file) =>
      sql`(${join([
        literal(file.path),
        ...fields.map((f) =>
          f ? partitionValueSql(file.partitionValues[physicalName(f, mode)], f.type) : sql`NULL`,
        ),
      ])})`,
  )
  const names = join([ident('__delta_file'), ...fields.map((f) => ident(f?.name ?? ''))])
  let matched: { path: string }[]
  try {
    matched = await db.all(
      sql`SELECT __delta_file AS path FROM (VALUES ${join(rows)}) AS v(${names}) WHERE ${condition}`,
    )
  } catch {
    return undefined // mentions a data column: the row-level plan decides
  }
  const hit = new Set(matched.map((m) => m.path))
  const removeWhole = snapshot.files.filter((f) => hit.has(f.path))
  return {
    removeWhole,
    rewrite: [],
    rewriteQuery: undefined,
    numDeletedRows: removeWhole.reduce((n, f) => n + liveRowsOf(f), 0),
    numCopiedRows: 0,
  }
}
