/**
 * The plan of a Delta MERGE: what it would insert, update and delete, which files it would
 * rewrite, and the table's new schema, computed before any write. apply.ts writes it.
 *
 *   load ours (snapshot) → resolve theirs (source) → one scan of theirs: count, key min/max
 *   (and key uniqueness, unless the rewrite's row count will prove it) → prune ours' files
 *   (theirs' key range, partitions) → changed rows counted per file (one aggregate over the
 *   join when theirs' keys are unique, else matched pairs stored for Spark's duplicate check)
 */
import { resolve } from 'node:path'
import type { DuckDb } from '../../../../engine/duckdb.js'
import { ident, type Sql, sql } from '../../../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../../../errors.js'
import type { ProgressCallback } from '../../../../progress.js'
import type { AddFile } from '../../actions.js'
import { planFileGroups, registerSnapshot, scanSql } from '../../scan.js'
import { deltaToDuckDbType, type StructType } from '../../schema.js'
import type { Snapshot } from '../../snapshot-types.js'
import { parseStats } from '../../stats.js'
import { openForWrite } from '../write-context.js'
import type { RewriteInput } from './apply.js'
import { type Changes, findChanges } from './changes.js'
import {
  checkKeys,
  checkStarClauses,
  evolveSchema,
  keysCompareExactly,
  sourceColumnsAs,
} from './checks.js'
import { clausesOf, type MergeClause, validateClauses } from './clauses.js'
import { type ChangeCounts, expressionText } from './metrics.js'
import { candidateFiles, sourceFacts } from './prune.js'
import { expressionSql, keyCondition, type MergeQueries } from './queries.js'
import { type MergeSource, type ResolvedSource, resolveSource } from './source.js'

export interface PlanOptions {
  /** Key columns (`['id']`); see MergeOptions.key. */
  readonly key?: readonly string[]
  /** A SQL predicate over the aliases (or, deprecated, key columns); see MergeOptions.on. */
  readonly on?: readonly string[] | string | Sql
  readonly sourceAlias?: string
  readonly targetAlias?: string
  readonly mergeSchema?: boolean
  readonly onProgress?: ProgressCallback
  /** The caller vouches no two source rows share a key (an upload checked for it): not re-checked. */
  readonly sourceKeysUnique?: boolean
  /**
   * Finds the changed target rows in the caller's own pass over the plan's relations (which may
   * count more in it) instead of findChanges; only with key columns and unique source keys.
   * `oneFile`: the only candidate file, when there is one (then `targetRows` needs no file column).
   */
  readonly findChanges?: (queries: MergeQueries, oneFile: string | undefined) => Promise<Changes>
  /**
   * The plan will be applied (not a dry run): theirs' keys may then be proven unique by the
   * rewrite's row count instead of a scan of theirs (see MergePlan.keysCheckedOnWrite).
   */
  readonly forWriting?: boolean
  /**
   * Called just before the changed rows are counted when the only candidate file will be
   * rewritten if any row matches (an unconditional WHEN MATCHED clause): executeMerge starts
   * that rewrite then (writeAhead), to overlap with the count.
   */
  readonly whileCounting?: ((input: RewriteInput, candidate: AddFile) => void) | undefined
}

/**
 * Everything a MERGE decided before writing. The relations it names (`queries.source`,
 * `queries.target`) are temporary views in the session that planned it: apply in that session.
 */
export interface MergePlan {
  /** Absolute path of the table merged into (ours). */
  readonly ours: string
  /** Ours as read: the commit goes at `snapshot.version + 1`. */
  readonly snapshot: Snapshot
  /** The rows merged in (theirs). */
  readonly theirs: ResolvedSource
  /** Key columns when `on` named them; undefined for a predicate. */
  readonly key: readonly string[] | undefined
  /** The ON condition as text, for commitInfo. */
  readonly onText: string
  readonly clauses: readonly MergeClause[]
  /** Ours' schema after mergeSchema. */
  readonly schema: StructType
  /** Columns mergeSchema adds. */
  readonly columnsAdded: readonly string[]
  readonly queries: MergeQueries
  readonly numSourceRows: number
  /** Changed rows of ours by clause kind and action. */
  readonly changes: ChangeCounts
  /** Rows inserted, when counted while planning (see Changes.inserted). */
  readonly inserted: number | undefined
  /** Ours' files read after pruning (all live files when nothing was pruned). */
  readonly candidates: readonly AddFile[]
  /** Ours' files holding a changed row: removed and rewritten by apply. */
  readonly touched: readonly AddFile[]
  /** Whether a file added by a concurrent writer could hold a matching row. */
  readonly mayMatch: 'all' | ((add: AddFile) => boolean)
  /**
   * Theirs' keys were assumed unique, not checked: applyMerge proves it from the rewritten row
   * count and throws SourceKeysRepeated when a target row came out twice (then plan again
   * without `forWriting`). Only with an unconditional WHEN MATCHED clause, which puts every
   * matched row in a rewritten file, and row counts in every candidate file's statistics.
   */
  readonly keysCheckedOnWrite: boolean
  /** performance.now() when planning began, and the time spent finding the changes. */
  readonly startedAt: number
  readonly scanTimeMs: number
}

/**
 * Plans a MERGE of `source` into the Delta table at `target`: reads ours and theirs once and
 * returns the plan. Writes nothing.
 *
 * @example
 * const plan = await planMerge(db, '/data/events', '/data/updates', clauses, { on: ['id'] })
 * plan.changes.matchedUpdated // 50
 * plan.touched.length // 1
 */
export async function planMerge(
  db: DuckDb,
  target: string,
  source: MergeSource,
  clauses: readonly MergeClause[],
  options: PlanOptions,
): Promise<MergePlan> {
  const startedAt = performance.now()
  const ours = resolve(target)
  const sourceAlias = options.sourceAlias ?? 'source'
  const targetAlias = options.targetAlias ?? 'target'
  if (sourceAlias === targetAlias)
    throw new DuckmergeError(
      'USAGE',
      `Cannot merge into ${ours}: sourceAlias and targetAlias are both "${sourceAlias}"; give them different names.`,
      { table: ours },
    )
  const progress = options.onProgress
  progress?.({ phase: 'merge: reading table', done: 0 })
  // The session reads the checkpoint, if any: no second DuckDB instance for it.
  const snapshot = await openForWrite(ours, db)
  progress?.({ phase: 'merge: reading source', done: 0 })
  const theirs = await resolveSource(db, source)
  const mergeSchema = options.mergeSchema === true
  const { schema, columnsAdded } = evolveSchema(ours, snapshot, theirs, clauses, mergeSchema)
  validateClauses(
    ours,
    clauses,
    schema.fields.map((f) => f.name),
  )
  const key =
    options.key ?? (Array.isArray(options.on) ? (options.on as readonly string[]) : undefined)
  if (key === undefined && (options.on === undefined || Array.isArray(options.on)))
    throw new DuckmergeError('USAGE', `MERGE into ${ours} needs key columns or an ON predicate.`, {
      table: ours,
      hint: 'Give {key} (or {on}).',
    })
  if (key) checkKeys(ours, theirs, snapshot, key)
  checkStarClauses(ours, theirs, snapshot, clauses, mergeSchema)

  const on =
    key !== undefined
      ? keyCondition(key, sourceAlias, targetAlias)
      : expressionSql(options.on as string | Sql)
  const onText =
    key !== undefined
      ? key.map((k) => `${targetAlias}.${k} = ${sourceAlias}.${k}`).join(' AND ')
      : expressionText(options.on as string | Sql)

  const scanStarted = performance.now()
  // Theirs is read where the plan needs it (three passes at most), not stored: measured, storing
  // 200k rows cost more than generating them three times, and a file is read in place anyway.
  const rows = theirs.relation
  progress?.({ phase: 'merge: pruning files', done: 0 })
  const hasBySource = clauses.some((c) => c.kind === 'notMatchedBySource')
  // Files whose statistics or partition values rule out every source key are never read;
  // a NOT MATCHED BY SOURCE clause needs every file.
  const prunes = key !== undefined && !hasBySource
  const vouched = options.sourceKeysUnique === true && key !== undefined
  // The rewrite's row count can prove the keys unique when every matched row is rewritten.
  const onWrite =
    !vouched &&
    options.forWriting === true &&
    options.findChanges === undefined &&
    key !== undefined &&
    keysCompareExactly(theirs, snapshot.schema, key) &&
    matchedAlwaysChanges(clauses)
  const facts = await sourceFacts(db, snapshot, key, rows, prunes, !vouched && !onWrite)
  const pruned =
    key !== undefined && prunes
      ? await candidateFiles(db, snapshot, key, rows, facts.bounds)
      : undefined
  const candidates = pruned?.files ?? snapshot.files
  const keysCheckedOnWrite = onWrite && candidates.every((f) => hasRowCount(f))
  const keysUnique =
    vouched ||
    keysCheckedOnWrite ||
    (onWrite
      ? (await sourceFacts(db, snapshot, key, rows, false, true)).keysUnique
      : facts.keysUnique)
  // One plan of the files' timestamp layouts for both views of the candidates.
  const fileGroups = await planFileGroups(db, snapshot, candidates)
  await registerSnapshot(db, snapshot, '__dm_target', {
    files: candidates,
    fileGroups,
    withFileInfo: true,
  })
  await db.run(sql`create temp view __dm_target_rows as ${scanSql(snapshot, { fileGroups })}`)
  const queries: MergeQueries = {
    columns: schema.fields.map((f) => ({ name: f.name, type: deltaToDuckDbType(f.type) })),
    targetColumns: snapshot.schema.fields.map((f) => f.name),
    sourceColumns: sourceColumnsAs(schema, theirs),
    sourceAlias,
    targetAlias,
    on,
    clauses,
    source: rows,
    target: ident('__dm_target'),
    targetRows: ident('__dm_target_rows'),
  }
  const only = candidates.length === 1 ? candidates[0] : undefined
  // A { rows } source is a temporary table, which a second connection cannot read.
  if (only && key !== undefined && !theirs.connectionLocal && matchedAlwaysChanges(clauses))
    options.whileCounting?.({ ours, snapshot, queries, schema }, only)
  progress?.({ phase: 'merge: finding matches', done: 0 })
  const unique = keysUnique && key !== undefined && keysCompareExactly(theirs, snapshot.schema, key)
  const oneFile = candidates.length === 1 ? candidates[0]?.path : undefined
  const find =
    options.findChanges && unique
      ? options.findChanges(queries, oneFile)
      : findChanges(db, queries, ours, key, theirs.label, unique, oneFile)
  const changes = await find.catch((error: unknown) => {
    throw sqlError(error, ours, theirs.label, sourceAlias, targetAlias)
  })
  const byPath = new Map(snapshot.files.map((f) => [f.path, f]))
  const touched = changes.touchedFiles.map((p) => {
    const add = byPath.get(p)
    if (!add) throw new DuckmergeError('INTERNAL', `merge touched ${p}, which is not a live file.`)
    return add
  })
  return {
    ours,
    snapshot,
    theirs,
    key,
    onText,
    clauses,
    schema,
    columnsAdded,
    queries,
    numSourceRows: facts.numSourceRows,
    changes: changes.counts,
    inserted: changes.inserted,
    candidates,
    touched,
    mayMatch: pruned?.mayMatch ?? 'all',
    keysCheckedOnWrite,
    startedAt,
    scanTimeMs: performance.now() - scanStarted,
  }
}

/**
 * Thrown by applyMerge when theirs' keys, assumed unique (MergePlan.keysCheckedOnWrite), were
 * not: a target row matched several times. Nothing was committed; plan again with the check.
 */
export class SourceKeysRepeated extends Error {
  constructor(table: string) {
    super(`a target row of ${table} matched several source rows; planning again with the check`)
  }
}

/** An unconditional WHEN MATCHED clause: every matched target row changes, so its file is rewritten. */
function matchedAlwaysChanges(clauses: readonly MergeClause[]): boolean {
  return clausesOf(clauses, 'matched').some((c) => c.condition === undefined)
}

function hasRowCount(add: AddFile): boolean {
  return typeof parseStats(add)?.numRecords === 'number'
}

/**
 * DuckDB's own error for SQL the user wrote (ON, conditions, assignments), re-raised naming the
 * merge and the aliases: a typo in an expression is bad input, not a crash.
 */
export function sqlError(
  error: unknown,
  table: string,
  source: string,
  sourceAlias: string,
  targetAlias: string,
): unknown {
  if (error instanceof DuckmergeError || error instanceof SourceKeysRepeated) return error
  const message = messageOf(error)
  const isUserSql = /^(Binder|Parser|Conversion|Catalog) Error/.test(message)
  return new DuckmergeError(
    isUserSql ? 'VALIDATION_FAILED' : 'INPUT_UNREADABLE',
    isUserSql
      ? `Cannot merge ${source} into ${table}: DuckDB rejected an ON predicate or clause expression: ${message.split('\n')[0]}. Expressions refer to the source as "${sourceAlias}" and the target as "${targetAlias}".`
      : `Cannot merge ${source} into ${table}: ${message}`,
    { table, source },
    { cause: error },
  )
}
