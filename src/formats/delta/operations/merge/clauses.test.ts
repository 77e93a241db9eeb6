/** Clause validation: Spark's ordering rule and assignments, every issue gathered in one error. */
import { describe, expect, test } from 'vitest'
import { isDuckmergeError } from '../../../../errors.js'
import { type MergeClause, validateClauses } from './clauses.js'

function issuesOf(clauses: MergeClause[]): unknown {
  try {
    validateClauses('/t', clauses, ['id', 'v'])
    return []
  } catch (error) {
    if (!isDuckmergeError(error, 'VALIDATION_FAILED')) throw error
    return (error.details.issues as { code: string }[]).map((i) => i.code)
  }
}

describe('validateClauses', () => {
  test.each<{ name: string; clauses: MergeClause[]; issues: string[] }>([
    { name: 'no clause at all', clauses: [], issues: ['no_clauses'] },
    {
      name: 'conditional clauses before an unconditional one are fine',
      clauses: [
        { kind: 'matched', action: 'delete', condition: 'source.gone' },
        { kind: 'matched', action: 'update', set: 'all' },
        { kind: 'notMatched', action: 'insert', values: 'all' },
      ],
      issues: [],
    },
    {
      name: 'a clause after an unconditional one of the same kind is unreachable',
      clauses: [
        { kind: 'matched', action: 'delete' },
        { kind: 'notMatched', action: 'insert', values: 'all' },
        { kind: 'matched', action: 'update', set: 'all' },
      ],
      issues: ['unreachable_clause'],
    },
    {
      name: 'unknown and empty assignments are all reported',
      clauses: [
        { kind: 'matched', action: 'update', set: { nope: '1' } },
        { kind: 'notMatchedBySource', action: 'update', set: {} },
      ],
      issues: ['unknown_column', 'empty_assignments'],
    },
  ])('$name', ({ clauses, issues }) => {
    expect(issuesOf(clauses)).toEqual(issues)
  })

  test('the message names the clause and the table', () => {
    expect(() =>
      validateClauses(
        '/data/t',
        [{ kind: 'matched', action: 'update', set: { score: '1' } }],
        ['id'],
      ),
    ).toThrowErrorMatchingInlineSnapshot(
      `[DuckmergeError: Cannot merge into /data/t: clause 1 assigns column "score", which /data/t does not have (columns: id); use mergeSchema to add source columns.]`,
    )
  })
})
