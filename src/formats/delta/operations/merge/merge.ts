/**
 * Delta MERGE INTO: the fluent builder delta-rs users know, run as DuckDB SQL, copy-on-write.
 * plan.ts computes what changes (reading ours and theirs once), apply.ts writes and commits it;
 * `dryRun()` reports the plan without writing.
 */

import type { Sql } from '../../../../engine/sql.js'
import type { ProgressCallback } from '../../../../progress.js'
import { interruptOnAbort, writing } from '../write-context.js'
import {
  applyMerge,
  dryRunMerge,
  type MergeCommitOptions,
  type MergeResult,
  type WriteAhead,
  writeAhead,
} from './apply.js'
import type { Assignments, Expression, MergeClause } from './clauses.js'
import { planMerge, SourceKeysRepeated } from './plan.js'
import { type SessionOptions, withMergeSession } from './session.js'
import type { MergeSource } from './source.js'

export type { MergeResult } from './apply.js'

export interface MergeOptions extends SessionOptions, MergeCommitOptions {
  /**
   * Key columns: how source rows find target rows (`['id']`: target.id = source.id, SQL
   * equality, so NULL keys never match). They let merge skip files whose statistics cannot
   * match. Give `key` or `on`.
   */
  readonly key?: readonly string[]
  /**
   * A SQL predicate over the aliases (`'target.id = source.id and target.day = source.day'`)
   * when key columns do not say it. Key columns here are the older spelling of `key`
   * (deprecated).
   */
  readonly on?: readonly string[] | string | Sql
  /** Default 'source'. */
  readonly sourceAlias?: string
  /** Default 'target'. */
  readonly targetAlias?: string
  /** Add source columns the table lacks to its schema (a metaData action). Default false. */
  readonly mergeSchema?: boolean
  readonly onProgress?: ProgressCallback
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

  /** Plans the merge and reports what it would do (same figures as execute), writing nothing. */
  dryRun(): Promise<MergeResult> {
    return executeMerge(this.#target, this.#source, this.#clauses, {
      ...this.#options,
      dryRun: true,
    })
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

/** The merge itself; `merge(...).….execute()` and `.dryRun()` call it. */
export function executeMerge(
  target: string,
  source: MergeSource,
  clauses: readonly MergeClause[],
  options: MergeOptions & { readonly dryRun?: boolean },
): Promise<MergeResult> {
  const dryRun = options.dryRun === true
  const run = (forWriting: boolean) =>
    withMergeSession(options, async (db) => {
      // A Ctrl-C interrupts DuckDB's running statement (backfill, sharing the session, instead
      // finishes its batch).
      const stopListening = interruptOnAbort(db, options.signal)
      let ahead: WriteAhead | undefined
      try {
        const plan = await planMerge(db, target, source, clauses, {
          ...options,
          forWriting,
          whileCounting: dryRun
            ? undefined
            : (input, candidate) => {
                ahead = writeAhead(db, input, candidate, options.signal)
              },
        })
        return dryRun
          ? await dryRunMerge(db, plan)
          : await applyMerge(db, plan, options.onProgress, options, ahead)
      } catch (error) {
        await ahead?.discard()
        throw error
      } finally {
        stopListening()
      }
    })
  // Theirs' keys are assumed unique and proven so by the rewrite; when they were not, nothing
  // was committed and the merge is planned again with the full check (Spark's error, or a lone
  // unconditional delete that may match a row twice).
  return writing(target, options.signal, () =>
    run(!dryRun).catch((error: unknown) => {
      if (error instanceof SourceKeysRepeated) return run(false)
      throw error
    }),
  )
}
