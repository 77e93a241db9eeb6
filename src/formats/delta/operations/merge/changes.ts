/** The target rows a MERGE changes, found in DuckDB, and Spark's check on ambiguous matches. */
import type { DuckDb } from '../../../../engine/duckdb.js'
import { ident, join, raw, type Sql, sql } from '../../../../engine/sql.js'
import { DuckmergeError } from '../../../../errors.js'
import { clausesOf, describeKind } from './clauses.js'
import { bySourceChangesSql, type MergeQueries, matchedPairsSql } from './queries.js'

export interface Changes {
  readonly touchedFiles: readonly string[]
  /**
   * Source rows a NOT MATCHED clause inserts, when the caller counted them (planMerge's
   * findChanges option): with an unconditional WHEN MATCHED clause, applyMerge then writes the
   * touched files and the inserts in one pass.
   */
  readonly inserted?: number
  readonly counts: {
    matchedUpdated: number
    matchedDeleted: number
    bySourceUpdated: number
    bySourceDeleted: number
  }
}

/**
 * Finds the changed target rows (counted by clause kind and action, grouped by file) and checks
 * Spark's rule: a target row that several source rows match is an error when a MATCHED clause
 * could update or delete it (MergeIntoCommandBase.throwErrorOnMultipleMatches), except for a
 * lone unconditional delete.
 *
 * When the caller proved that no two source rows share a key (`sourceKeysUnique`, with `on`
 * given as key columns), no target row can match twice: the matches are then counted in one
 * aggregate over the join, never stored (and with `oneFile`, the only candidate file, the join
 * carries no file column). Otherwise the matched pairs are materialised once for the duplicate
 * check.
 */
export async function findChanges(
  db: DuckDb,
  queries: MergeQueries,
  table: string,
  keys: readonly string[] | undefined,
  sourceLabel: string,
  sourceKeysUnique = false,
  oneFile?: string,
): Promise<Changes> {
  const matched = clausesOf(queries.clauses, 'matched')
  const bySource = clausesOf(queries.clauses, 'notMatchedBySource')
  const parts: Sql[] = []
  if (matched.length > 0) {
    if (keys !== undefined && sourceKeysUnique)
      parts.push(
        sql`select 'matched' as kind, __dm_action as action, __dm_file as file from (${matchedPairsSql(queries, oneFile)}) where __dm_clause is not null`,
      )
    else {
      const pairs = matchedPairsSql(queries)
      await db.run(sql`create temp table __dm_pairs as ${pairs}`)
      const onlyDelete =
        matched.length === 1 &&
        matched[0]?.action === 'delete' &&
        matched[0].condition === undefined
      if (!onlyDelete) await assertSingleMatches(db, queries, table, keys, sourceLabel)
      // A lone unconditional delete may match a row several times: count the row once.
      parts.push(
        raw(
          `select kind, action, file from (select ${onlyDelete ? 'distinct ' : ''}'matched' as kind, __dm_action as action, __dm_file as file, __dm_row as row from __dm_pairs where __dm_clause is not null)`,
        ),
      )
    }
  }
  if (bySource.length > 0)
    parts.push(
      sql`select 'bySource' as kind, __dm_action as action, __dm_file as file from (${bySourceChangesSql(queries)})`,
    )
  const none = { matchedUpdated: 0, matchedDeleted: 0, bySourceUpdated: 0, bySourceDeleted: 0 }
  if (parts.length === 0) return { touchedFiles: [], counts: none }
  // One pass: the changed rows counted per clause kind, action and file.
  const rows = await db.all<{ kind: string; action: string; file: string; n: bigint }>(
    sql`select kind, action, file, count(*) as n from (${join(parts, ' union all ')}) group by all`,
  )
  const count = (kind: string, action: string) =>
    rows.filter((r) => r.kind === kind && r.action === action).reduce((n, r) => n + Number(r.n), 0)
  return {
    touchedFiles: [...new Set(rows.map((r) => r.file))].sort(),
    counts: {
      matchedUpdated: count('matched', 'update'),
      matchedDeleted: count('matched', 'delete'),
      bySourceUpdated: count('bySource', 'update'),
      bySourceDeleted: count('bySource', 'delete'),
    },
  }
}

async function assertSingleMatches(
  db: DuckDb,
  queries: MergeQueries,
  table: string,
  keys: readonly string[] | undefined,
  sourceLabel: string,
): Promise<void> {
  const dup = await db.one<{ f: string; r: bigint; n: bigint; total: bigint }>(
    raw(
      'select __dm_file as f, __dm_row as r, count(*) as n, count(*) over () as total from __dm_pairs group by all having count(*) > 1 order by n desc, f, r limit 1',
    ),
  )
  if (!dup) return
  const shown = keys ?? queries.targetColumns.slice(0, 5)
  const row = await db.one<Record<string, unknown>>(
    sql`select ${join(shown.map((c) => ident(c)))} from __dm_target where __delta_file = ${dup.f} and __delta_row_index = ${dup.r}`,
  )
  const key = Object.fromEntries(shown.map((c) => [c, row?.[c] ?? null]))
  const keyText = shown.map((c) => `${c}=${JSON.stringify(key[c], jsonSafe)}`).join(', ')
  const n = Number(dup.n)
  throw new DuckmergeError(
    'DUPLICATE_KEY',
    `Cannot merge ${sourceLabel} into ${table}: ${n} source rows match the same target row (${keyText}), and a ${describeKind('matched')} clause would update or delete it; the result would depend on row order, so Spark refuses this too (${Number(dup.total)} target row(s) affected). Deduplicate the source on ${keys ? `(${keys.join(', ')})` : 'the ON columns'} first.`,
    { table, source: sourceLabel, key, count: n, rowsAffected: Number(dup.total) },
  )
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}
