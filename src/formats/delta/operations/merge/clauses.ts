/** The clauses of a Delta MERGE (Spark's WHEN [NOT] MATCHED [BY SOURCE] … THEN …) and their checks. */

import type { Sql } from '../../../../engine/sql.js'
import { DuckmergeError, type Issue } from '../../../../errors.js'

/**
 * A SQL expression over the source and target aliases, e.g. `"source.score * 2"`, passed to
 * DuckDB as written (the one documented place user SQL is taken), or an `Sql` fragment whose
 * values are bound: sql`${label}` for a constant.
 */
export type Expression = string | Sql

/** Target column → new value. */
export type Assignments = Readonly<Record<string, Expression>>

export type MergeClause =
  | {
      readonly kind: 'matched'
      readonly action: 'update'
      readonly set: Assignments | 'all'
      readonly condition?: Expression
    }
  | { readonly kind: 'matched'; readonly action: 'delete'; readonly condition?: Expression }
  | {
      readonly kind: 'notMatched'
      readonly action: 'insert'
      readonly values: Assignments | 'all'
      readonly condition?: Expression
    }
  | {
      readonly kind: 'notMatchedBySource'
      readonly action: 'update'
      readonly set: Assignments
      readonly condition?: Expression
    }
  | {
      readonly kind: 'notMatchedBySource'
      readonly action: 'delete'
      readonly condition?: Expression
    }

export type ClauseKind = MergeClause['kind']

/** The clauses of one kind, in the order they were given (Spark evaluates them in that order). */
export function clausesOf<K extends ClauseKind>(
  clauses: readonly MergeClause[],
  kind: K,
): Extract<MergeClause, { kind: K }>[] {
  return clauses.filter((c): c is Extract<MergeClause, { kind: K }> => c.kind === kind)
}

/** The columns a clause assigns explicitly ('all' assigns none by name). */
export function assignedColumns(clause: MergeClause): readonly string[] {
  if (clause.action === 'delete') return []
  const assignments = clause.kind === 'notMatched' ? clause.values : clause.set
  return assignments === 'all' ? [] : Object.keys(assignments)
}

/**
 * Checks the clause list as Spark does before running anything, gathering every issue into one
 * VALIDATION_FAILED: at least one clause; within a kind, only the last clause may omit its
 * condition (a later one could never run); explicit assignments name existing columns and are
 * not empty.
 *
 * @example
 * validateClauses(table, [{ kind: 'matched', action: 'delete' }, { kind: 'matched', action: 'update', set: 'all' }], cols)
 * // throws VALIDATION_FAILED: clause 2 (WHEN MATCHED) can never run: clause 1 has no condition…
 */
export function validateClauses(
  table: string,
  clauses: readonly MergeClause[],
  targetColumns: readonly string[],
): void {
  const issues: Issue[] = []
  if (clauses.length === 0)
    issues.push({
      path: ['clauses'],
      code: 'no_clauses',
      message:
        'a MERGE needs at least one WHEN clause (whenMatchedUpdate, whenNotMatchedInsert, …)',
    })
  const known = new Set(targetColumns)
  const unconditional = new Map<ClauseKind, number>()
  clauses.forEach((clause, i) => {
    const path = ['clauses', i]
    const earlier = unconditional.get(clause.kind)
    if (earlier !== undefined)
      issues.push({
        path,
        code: 'unreachable_clause',
        message: `clause ${i + 1} (${describeKind(clause.kind)}) can never run: clause ${earlier + 1} of the same kind has no condition. Give clause ${earlier + 1} a condition or move it last`,
      })
    if (clause.condition === undefined && earlier === undefined) unconditional.set(clause.kind, i)
    if (clause.action === 'delete') return
    const assignments = clause.kind === 'notMatched' ? clause.values : clause.set
    if (assignments === 'all') return
    const names = Object.keys(assignments)
    if (names.length === 0)
      issues.push({
        path,
        code: 'empty_assignments',
        message: `clause ${i + 1} (${describeKind(clause.kind)} ${clause.action}) assigns no column; pass 'all' or at least one column`,
      })
    for (const name of names)
      if (!known.has(name))
        issues.push({
          path: [...path, clause.kind === 'notMatched' ? 'values' : 'set', name],
          code: 'unknown_column',
          message: `clause ${i + 1} assigns column "${name}", which ${table} does not have (columns: ${targetColumns.join(', ')}); use mergeSchema to add source columns`,
        })
  })
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot merge into ${table}: ${issues.map((i) => i.message).join('; ')}.`,
      { table, issues },
    )
}

/** Spark's wording of a clause kind, for messages and operationParameters. */
export function describeKind(kind: ClauseKind): string {
  switch (kind) {
    case 'matched':
      return 'WHEN MATCHED'
    case 'notMatched':
      return 'WHEN NOT MATCHED'
    case 'notMatchedBySource':
      return 'WHEN NOT MATCHED BY SOURCE'
  }
}
