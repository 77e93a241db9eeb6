/** Spark's MERGE metrics and operation parameters as merge writes them into commitInfo. */
import { describe, expect, test } from 'vitest'
import { sql } from '../../../../engine/sql.js'
import {
  expressionText,
  mergeMetrics,
  mergeOperationParameters,
  operationMetrics,
} from './metrics.js'

const base = {
  numSourceRows: 100,
  filesAdded: 1,
  bytesAdded: 10,
  filesRemoved: 2,
  bytesRemoved: 20,
  filesBeforeSkipping: 2,
  filesAfterSkipping: 2,
  executionTimeMs: 12.4,
  scanTimeMs: 5.6,
  rewriteTimeMs: 3,
}

describe('mergeMetrics', () => {
  test('copied rows are the rewritten rows that were not updated (the Spark oracle)', () => {
    const m = mergeMetrics({
      ...base,
      changes: { matchedUpdated: 50, matchedDeleted: 0, bySourceUpdated: 0, bySourceDeleted: 10 },
      insertedRows: 50,
      rewrittenRows: 90,
    })
    expect(m).toMatchObject({
      numTargetRowsUpdated: 50,
      numTargetRowsDeleted: 10,
      numTargetRowsCopied: 40,
      numOutputRows: 140,
      executionTimeMs: 12,
      scanTimeMs: 6,
    })
    expect(operationMetrics(m).numOutputRows).toBe('140')
  })
})

describe('mergeOperationParameters', () => {
  test('JSON strings in Spark form, predicate only when a clause has a condition', () => {
    expect(
      mergeOperationParameters('t.id = s.id', [
        { kind: 'matched', action: 'update', set: 'all' },
        { kind: 'notMatched', action: 'insert', values: 'all' },
        { kind: 'notMatchedBySource', action: 'delete', condition: 't.id < 10' },
      ]),
    ).toEqual({
      predicate: '["t.id = s.id"]',
      matchedPredicates: '[{"actionType":"update"}]',
      notMatchedPredicates: '[{"actionType":"insert"}]',
      notMatchedBySourcePredicates: '[{"predicate":"t.id < 10","actionType":"delete"}]',
    })
  })

  test('bound values are shown inline, quoted', () => {
    expect(expressionText(sql`s.v = ${"it's"} and s.n > ${3} and s.x is not ${null}`)).toBe(
      "s.v = 'it''s' and s.n > 3 and s.x is not NULL",
    )
  })
})
