/**
 * Delta MERGE INTO: the fluent builder delta-rs users know, run as DuckDB SQL, copy-on-write.
 *
 *   load snapshot → resolve source → one scan of it: count, key uniqueness, key min/max
 *     → prune target files (source key range, partitions)
 *     → changed rows counted per file: one aggregate over the join when the source keys are
 *       unique, else matched pairs stored for Spark's duplicate check            [scanTimeMs]
 *     → rewrite touched files, write inserts to new files                      [rewriteTimeMs]
 *     → commit remove + add (+ metaData) at readVersion + 1, conflict-checked
 */
import { promises as fs } from 'node:fs'
import { resolve } from 'node:path'
import { ident, join, raw, type Sql, sql } from '../../../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../../../errors.js'
import type { ProgressCallback } from '../../../../progress.js'
import type { Action, AddFile } from '../../actions.js'
import { dataFilePath } from '../../partition-values.js'
import { registerSnapshot } from '../../scan.js'
import { deltaToDuckDbType, schemaToJson } from '../../schema.js'
import { numRecordsOf, writeDataFiles } from '../../write-files.js'
import {
  assertNotAppendOnly,
  checkpointIntervalOf,
  commitAndCheckpoint,
  openForWrite,
  removeOf,
  statsOptionsOf,
} from '../write-context.js'
import { findChanges } from './changes.js'
import {
  assertConstraints,
  checkKeys,
  checkStarClauses,
  evolveSchema,
  keysCompareExactly,
} from './checks.js'
import {
  type Assignments,
  clausesOf,
  type Expression,
  type MergeClause,
  validateClauses,
} from './clauses.js'
import {
  expressionText,
  type MergeMetrics,
  mergeMetrics,
  mergeOperationParameters,
  operationMetrics,
} from './metrics.js'
import { candidateFiles, sourceFacts } from './prune.js'
import {
  expressionSql,
  insertsSql,
  keyCondition,
  type MergePlanInput,
  rewriteSql,
} from './queries.js'
import { type SessionOptions, withMergeSession } from './session.js'
import { type MergeSource, resolveSource } from './source.js'

export interface MergeOptions extends SessionOptions {
  /**
   * How source rows find target rows: key columns (`['id']`: target.id = source.id, SQL
   * equality, so NULL keys never match) or a SQL predicate over the aliases
   * (`'target.id = source.id and target.day = source.day'`). Key columns let merge skip files
   * whose statistics cannot match.
   */
  readonly on: readonly string[] | string | Sql
  /** Default 'source'. */
  readonly sourceAlias?: string
  /** Default 'target'. */
  readonly targetAlias?: string
  /** Add source columns the table lacks to its schema (a metaData action). Default false. */
  readonly mergeSchema?: boolean
  readonly onProgress?: ProgressCallback
}

export interface MergeResult {
  /** Absolute path of the target table. */
  readonly table: string
  /** The version committed, or the version read when the merge changed nothing. */
  readonly version: number
  readonly committed: boolean
  readonly metrics: MergeMetrics
  /** Columns added to the schema by mergeSchema. */
  readonly columnsAdded: readonly string[]
}

/**
 * A MERGE being built: each `when…` call returns a new builder with the clause appended;
 * `execute()` runs it. Clauses of a kind are tried in the order given, the first whose
 * condition holds wins (as in Spark); only the last of a kind may omit its condition.
 */
export class MergeBuilder {
  readonly #target: string
  readonly #source: MergeSource
  readonly #options: MergeOptions
  readonly #clauses: readonly MergeClause[]

  constructor(
    target: string,
    source: MergeSource,
    options: MergeOptions,
    clauses: readonly MergeClause[] = [],
  ) {
    this.#target = target
    this.#source = source
    this.#options = options
    this.#clauses = clauses
  }

  /** The clauses so far, in order. */
  get clauses(): readonly MergeClause[] {
    return this.#clauses
  }

  /** WHEN MATCHED [AND condition] THEN UPDATE SET … ('all': UPDATE SET *). */
  whenMatchedUpdate(set: Assignments | 'all', condition?: Expression): MergeBuilder {
    return this.#with({ kind: 'matched', action: 'update', set, ...cond(condition) })
  }

  /** WHEN MATCHED [AND condition] THEN DELETE. */
  whenMatchedDelete(condition?: Expression): MergeBuilder {
    return this.#with({ kind: 'matched', action: 'delete', ...cond(condition) })
  }

  /** WHEN NOT MATCHED [AND condition] THEN INSERT … ('all': INSERT *). */
  whenNotMatchedInsert(values: Assignments | 'all', condition?: Expression): MergeBuilder {
    return this.#with({ kind: 'notMatched', action: 'insert', values, ...cond(condition) })
  }

  /** WHEN NOT MATCHED BY SOURCE [AND condition] THEN UPDATE SET … (target columns only). */
  whenNotMatchedBySourceUpdate(set: Assignments, condition?: Expression): MergeBuilder {
    return this.#with({ kind: 'notMatchedBySource', action: 'update', set, ...cond(condition) })
  }

  /** WHEN NOT MATCHED BY SOURCE [AND condition] THEN DELETE. */
  whenNotMatchedBySourceDelete(condition?: Expression): MergeBuilder {
    return this.#with({ kind: 'notMatchedBySource', action: 'delete', ...cond(condition) })
  }

  /** Runs the merge and commits it. */
  execute(): Promise<MergeResult> {
    return executeMerge(this.#target, this.#source, this.#clauses, this.#options)
  }

  #with(clause: MergeClause): MergeBuilder {
    return new MergeBuilder(this.#target, this.#source, this.#options, [...this.#clauses, clause])
  }
}

function cond(condition: Expression | undefined): { condition?: Expression } {
  return condition === undefined ? {} : { condition }
}

/**
 * Starts a MERGE INTO the Delta table at `target`.
 *
 * @example
 * const { metrics } = await merge('/data/events', '/data/updates', { on: ['id'] })
 *   .whenMatchedUpdate('all')
 *   .whenNotMatchedInsert('all')
 *   .whenNotMatchedBySourceDelete("target.day < '2024-01-01'")
 *   .execute()
 * metrics.numTargetRowsUpdated // 50
 */
export function merge(target: string, source: MergeSource, options: MergeOptions): MergeBuilder {
  return new MergeBuilder(target, source, options)
}

/** The merge itself; `merge(...).….execute()` calls it. */
export async function executeMerge(
  targetPath: string,
  source: MergeSource,
  clauses: readonly MergeClause[],
  options: MergeOptions,
): Promise<MergeResult> {
  const started = performance.now()
  const table = resolve(targetPath)
  const sourceAlias = options.sourceAlias ?? 'source'
  const targetAlias = options.targetAlias ?? 'target'
  if (sourceAlias === targetAlias)
    throw new DuckmergeError(
      'USAGE',
      `Cannot merge into ${table}: sourceAlias and targetAlias are both "${sourceAlias}"; give them different names.`,
    )
  const progress = options.onProgress
  return withMergeSession(options, async (db) => {
    // The session reads the checkpoint, if any: no second DuckDB instance for it.
    const snapshot = await openForWrite(table, db)
    progress?.({ phase: 'merge: reading source', done: 0 })
    const src = await resolveSource(db, source)
    const { schema, columnsAdded } = evolveSchema(snapshot, src, options.mergeSchema === true)
    validateClauses(
      table,
      clauses,
      schema.fields.map((f) => f.name),
    )
    const keys = Array.isArray(options.on) ? (options.on as readonly string[]) : undefined
    if (keys) checkKeys(table, src, snapshot, keys)
    checkStarClauses(table, src, snapshot, clauses, options.mergeSchema === true)

    const on =
      keys !== undefined
        ? keyCondition(keys, sourceAlias, targetAlias)
        : expressionSql(options.on as string | Sql)
    const onText =
      keys !== undefined
        ? keys.map((k) => `${targetAlias}.${k} = ${sourceAlias}.${k}`).join(' AND ')
        : expressionText(options.on as string | Sql)

    // Scan: which target rows change, and how.
    const scanStarted = performance.now()
    // A view re-reads the source where the plan needs it; a query with bound values cannot be a
    // view body, so it is materialized once (DuckDB spills it past memory_limit).
    const kind = raw(src.relation.values.length > 0 ? 'table' : 'view')
    await db.run(sql`create temp ${kind} __dm_source as select * from ${src.relation}`)
    const hasBySource = clausesOf(clauses, 'notMatchedBySource').length > 0
    // Files whose statistics or partition values rule out every source key are never read;
    // a NOT MATCHED BY SOURCE clause needs every file.
    const prunes = keys !== undefined && !hasBySource
    const facts = await sourceFacts(db, snapshot, keys, ident('__dm_source'), prunes)
    const numSourceRows = facts.numSourceRows
    const pruned =
      keys !== undefined && prunes
        ? await candidateFiles(db, snapshot, keys, ident('__dm_source'), facts.bounds)
        : undefined
    const candidates = pruned?.files ?? snapshot.files
    await registerSnapshot(db, snapshot, '__dm_target', { files: candidates, withFileInfo: true })
    const plan: MergePlanInput = {
      columns: schema.fields.map((f) => ({ name: f.name, type: deltaToDuckDbType(f.type) })),
      targetColumns: snapshot.schema.fields.map((f) => f.name),
      sourceColumns: src.columns.map((c) => c.name),
      sourceAlias,
      targetAlias,
      on,
      clauses,
      source: ident('__dm_source'),
      target: ident('__dm_target'),
    }
    progress?.({ phase: 'merge: finding matches', done: 0 })
    const changes = await findChanges(
      db,
      plan,
      table,
      keys,
      src.label,
      facts.keysUnique && keys !== undefined && keysCompareExactly(src, snapshot.schema, keys),
    ).catch((error: unknown) => {
      throw sqlError(error, table, src.label, sourceAlias, targetAlias)
    })
    const scanTimeMs = performance.now() - scanStarted

    // Rewrite: touched files without their changed rows plus the updated rows; inserts apart.
    const rewriteStarted = performance.now()
    const byPath = new Map(snapshot.files.map((f) => [f.path, f]))
    const touched = changes.touchedFiles.map((p) => {
      const add = byPath.get(p)
      if (!add)
        throw new DuckmergeError('INTERNAL', `merge touched ${p}, which is not a live file.`)
      return add
    })
    // PROTOCOL.md, Append-only Tables: a merge that would remove a file is refused (inserts pass).
    if (touched.length > 0) assertNotAppendOnly(snapshot, 'merge into')
    const written: AddFile[] = []
    const writeOptions = {
      schema,
      partitionColumns: snapshot.partitionColumns,
      stats: statsOptionsOf(snapshot.metadata),
    }
    try {
      let rewrittenRows = 0
      if (touched.length > 0) {
        progress?.({
          phase: 'merge: rewriting files',
          done: 0,
          total: touched.length,
          unit: 'files',
        })
        await registerSnapshot(db, snapshot, '__dm_touched', { files: touched })
        const rewrite = rewriteSql(plan, ident('__dm_touched'))
        await assertConstraints(db, schema, rewrite, table)
        const adds = await writeDataFiles(db, table, rewrite, writeOptions)
        written.push(...adds)
        rewrittenRows = sum(adds.map(numRecordsOf))
      }
      let insertedRows = 0
      if (clausesOf(clauses, 'notMatched').length > 0) {
        progress?.({ phase: 'merge: writing inserts', done: 0 })
        const names = join(schema.fields.map((f) => ident(f.name)))
        const inserts = sql`select ${names} from (${insertsSql(plan)})`
        await assertConstraints(db, schema, inserts, table)
        const adds = await writeDataFiles(db, table, inserts, writeOptions)
        written.push(...adds)
        insertedRows = sum(adds.map(numRecordsOf))
      }
      const rewriteTimeMs = performance.now() - rewriteStarted

      const now = Date.now()
      const actions: Action[] = []
      if (columnsAdded.length > 0)
        actions.push({ metaData: { ...snapshot.metadata, schemaString: schemaToJson(schema) } })
      for (const add of touched) actions.push({ remove: removeOf(add, now) })
      for (const add of written) actions.push({ add })
      const metrics = mergeMetrics({
        numSourceRows,
        changes: changes.counts,
        insertedRows,
        rewrittenRows,
        filesAdded: written.length,
        bytesAdded: sum(written.map((a) => a.size)),
        filesRemoved: touched.length,
        bytesRemoved: sum(touched.map((a) => a.size)),
        filesBeforeSkipping: snapshot.files.length,
        filesAfterSkipping: candidates.length,
        executionTimeMs: performance.now() - started,
        scanTimeMs,
        rewriteTimeMs,
      })
      if (actions.length === 0)
        return { table, version: snapshot.version, committed: false, metrics, columnsAdded }
      progress?.({ phase: 'merge: committing', done: 0 })
      const { version } = await commitAndCheckpoint(table, actions, {
        interval: checkpointIntervalOf(snapshot.metadata),
        readVersion: snapshot.version,
        operation: 'MERGE',
        operationParameters: mergeOperationParameters(onText, clauses),
        operationMetrics: operationMetrics(metrics),
        isBlindAppend: false,
        // A concurrent commit that removed a file we read, or added one that could hold a
        // matching row (any file when nothing was pruned), invalidates this merge.
        reads: { files: candidates, scope: pruned?.mayMatch ?? 'all' },
      })
      return { table, version, committed: true, metrics, columnsAdded }
    } catch (error) {
      // Nothing was committed: the files written so far are orphans; remove them.
      await Promise.all(written.map((a) => fs.rm(dataFilePath(table, a.path), { force: true })))
      throw sqlError(error, table, src.label, sourceAlias, targetAlias)
    }
  })
}

/**
 * DuckDB's own error for SQL the user wrote (ON, conditions, assignments), re-raised naming the
 * merge and the aliases: a typo in an expression is bad input, not a crash.
 */
function sqlError(
  error: unknown,
  table: string,
  source: string,
  sourceAlias: string,
  targetAlias: string,
): unknown {
  if (error instanceof DuckmergeError) return error
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

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}
