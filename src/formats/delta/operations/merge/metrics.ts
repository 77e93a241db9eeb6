/** What a MERGE did, in Spark's names: returned to the caller and written into commitInfo. */
import type { Sql, SqlValue } from '../../../../engine/sql.js'
import { clausesOf, type Expression, type MergeClause } from './clauses.js'

/**
 * Spark's MERGE operationMetrics (MergeIntoCommandBase), as numbers. Row counts:
 * numOutputRows = inserted + updated + copied; copied = rows of rewritten files left as they were.
 */
export interface MergeMetrics {
  readonly numSourceRows: number
  readonly numTargetRowsInserted: number
  readonly numTargetRowsUpdated: number
  readonly numTargetRowsDeleted: number
  readonly numTargetRowsCopied: number
  readonly numOutputRows: number
  /** Null in a dry run: known only once written. */
  readonly numTargetFilesAdded: number | null
  readonly numTargetFilesRemoved: number
  readonly numTargetRowsMatchedUpdated: number
  readonly numTargetRowsMatchedDeleted: number
  readonly numTargetRowsNotMatchedBySourceUpdated: number
  readonly numTargetRowsNotMatchedBySourceDeleted: number
  /** Null in a dry run: known only once written. */
  readonly numTargetBytesAdded: number | null
  readonly numTargetBytesRemoved: number
  /** Live files before and after pruning by statistics and partition values. */
  readonly numTargetFilesBeforeSkipping: number
  readonly numTargetFilesAfterSkipping: number
  readonly executionTimeMs: number
  /** Finding the matches and the touched files. */
  readonly scanTimeMs: number
  /** Writing the new files. */
  readonly rewriteTimeMs: number
}

/** Counts of changed target rows by clause kind and action, as merge.ts reads them back. */
export interface ChangeCounts {
  readonly matchedUpdated: number
  readonly matchedDeleted: number
  readonly bySourceUpdated: number
  readonly bySourceDeleted: number
}

export interface MetricInputs {
  readonly numSourceRows: number
  readonly changes: ChangeCounts
  /** Rows written by the insert step and by the rewrite step (numRecords of their add actions). */
  readonly insertedRows: number
  readonly rewrittenRows: number
  readonly filesAdded: number | null
  readonly bytesAdded: number | null
  readonly filesRemoved: number
  readonly bytesRemoved: number
  readonly filesBeforeSkipping: number
  readonly filesAfterSkipping: number
  readonly executionTimeMs: number
  readonly scanTimeMs: number
  readonly rewriteTimeMs: number
}

/**
 * Derives Spark's figures from what was written: a rewritten file holds the updated rows plus
 * the copied ones, so copied = rewritten − updated.
 *
 * @example
 * mergeMetrics({ numSourceRows: 100, insertedRows: 50, rewrittenRows: 90, changes: { matchedUpdated: 50, … }, … })
 * // { numTargetRowsCopied: 40, numOutputRows: 140, … }
 */
export function mergeMetrics(inputs: MetricInputs): MergeMetrics {
  const { changes } = inputs
  const updated = changes.matchedUpdated + changes.bySourceUpdated
  const deleted = changes.matchedDeleted + changes.bySourceDeleted
  const copied = inputs.rewrittenRows - updated
  return {
    numSourceRows: inputs.numSourceRows,
    numTargetRowsInserted: inputs.insertedRows,
    numTargetRowsUpdated: updated,
    numTargetRowsDeleted: deleted,
    numTargetRowsCopied: copied,
    numOutputRows: inputs.insertedRows + updated + copied,
    numTargetFilesAdded: inputs.filesAdded,
    numTargetFilesRemoved: inputs.filesRemoved,
    numTargetRowsMatchedUpdated: changes.matchedUpdated,
    numTargetRowsMatchedDeleted: changes.matchedDeleted,
    numTargetRowsNotMatchedBySourceUpdated: changes.bySourceUpdated,
    numTargetRowsNotMatchedBySourceDeleted: changes.bySourceDeleted,
    numTargetBytesAdded: inputs.bytesAdded,
    numTargetBytesRemoved: inputs.bytesRemoved,
    numTargetFilesBeforeSkipping: inputs.filesBeforeSkipping,
    numTargetFilesAfterSkipping: inputs.filesAfterSkipping,
    executionTimeMs: Math.round(inputs.executionTimeMs),
    scanTimeMs: Math.round(inputs.scanTimeMs),
    rewriteTimeMs: Math.round(inputs.rewriteTimeMs),
  }
}

/** commitInfo.operationMetrics: Spark writes every figure as a string. */
export function operationMetrics(metrics: MergeMetrics): Record<string, string> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, String(v)]))
}

/**
 * commitInfo.operationParameters of a MERGE, each a JSON string as Spark writes them:
 * `predicate` is a one-element array of the ON condition; each clause list holds
 * `{ predicate?, actionType }` in clause order.
 *
 * @example
 * mergeOperationParameters('target.id = source.id', [{ kind: 'notMatchedBySource', action: 'delete', condition: 'target.id < 10' }])
 * // { predicate: '["target.id = source.id"]', matchedPredicates: '[]', notMatchedPredicates: '[]',
 * //   notMatchedBySourcePredicates: '[{"predicate":"target.id < 10","actionType":"delete"}]' }
 */
export function mergeOperationParameters(
  on: string,
  clauses: readonly MergeClause[],
): Record<string, string> {
  const list = (kind: MergeClause['kind']) =>
    JSON.stringify(
      clausesOf(clauses, kind).map((c) => ({
        ...(c.condition === undefined ? {} : { predicate: expressionText(c.condition) }),
        actionType: c.action,
      })),
    )
  return {
    predicate: JSON.stringify([on]),
    matchedPredicates: list('matched'),
    notMatchedPredicates: list('notMatched'),
    notMatchedBySourcePredicates: list('notMatchedBySource'),
  }
}

/**
 * An expression as text for the log and messages: bound values are shown inline. For display
 * only, never executed.
 */
export function expressionText(expression: Expression | Sql): string {
  if (typeof expression === 'string') return expression
  let i = 0
  return expression.text.replace(/\?/g, () => showValue(expression.values[i++] ?? null))
}

function showValue(value: SqlValue): string {
  if (value === null) return 'NULL'
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`
  if (value instanceof Uint8Array) return `X'${Buffer.from(value).toString('hex')}'`
  return String(value)
}
