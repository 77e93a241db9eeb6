/**
 * Which files a row predicate touches, for DELETE and replaceWhere: files whose every live row
 * matches are removed; files with some matching rows are rewritten without them; the rest stay.
 *
 *   scan(live files) → per file: matched / total rows → remove (all), rewrite (some), keep (none)
 */
import type { DuckDb } from '../../../engine/duckdb.js'
import { raw, type Sql, sql } from '../../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../../errors.js'
import type { AddFile } from '../actions.js'
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
  await assertFilesExist(snapshot, snapshot.files)
  const condition = sql`(${raw(predicate)})`
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
