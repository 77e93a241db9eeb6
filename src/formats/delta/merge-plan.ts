/**
 * The SQL of a Delta MERGE, as DuckDB queries over two relations: the source, and the candidate
 * target rows with their file and row position. No Delta knowledge here: merge.ts runs these.
 *
 *   source ⋈ target on ON ──► matched pairs (clause chosen per pair; duplicates checked)
 *   target ▷ source        ──► not-matched-by-source changes
 *   source ▷ target        ──► inserts (new files only)
 *   touched files − changed rows ∪ updated rows ──► rewritten files (copy-on-write)
 */
import { ident, join, raw, type Sql, sql } from '../../engine/sql.js'
import { type Assignments, clausesOf, type Expression, type MergeClause } from './merge-clauses.js'

/** Columns merge-plan adds to its intermediate rows; prefixed so no user column collides. */
export const FILE = '__dm_file'
export const ROW = '__dm_row'
export const CLAUSE = '__dm_clause'
export const ACTION = '__dm_action'
export const KIND = '__dm_kind'

export interface PlanColumn {
  readonly name: string
  /** DuckDB type the written value is cast to (deltaToDuckDbType of the table's type). */
  readonly type: string
}

export interface MergePlanInput {
  /** The table's columns after any schema evolution, in schema order. */
  readonly columns: readonly PlanColumn[]
  /** Columns the target relation has (a column added by mergeSchema reads as NULL). */
  readonly targetColumns: readonly string[]
  readonly sourceColumns: readonly string[]
  readonly sourceAlias: string
  readonly targetAlias: string
  /** The join condition over the aliases. */
  readonly on: Sql
  readonly clauses: readonly MergeClause[]
  /** A relation (view or table name, or a parenthesised query). */
  readonly source: Sql
  /** A relation with the table's columns plus `__delta_file` and `__delta_row_index`. */
  readonly target: Sql
}

/** An expression as SQL, parenthesised so it composes: strings pass through as the user wrote them. */
export function expressionSql(expression: Expression): Sql {
  return typeof expression === 'string' ? raw(`(${expression})`) : sql`(${expression})`
}

/**
 * `target.k1 = source.k1 AND …`: SQL equality, so a NULL key never matches (as in Spark).
 * With `nullSafe`, NULL matches NULL (`IS NOT DISTINCT FROM`), as backfill needs to stay idempotent.
 *
 * @example
 * keyCondition(['id'], 'source', 'target') // "target"."id" = "source"."id"
 */
export function keyCondition(
  keys: readonly string[],
  sourceAlias: string,
  targetAlias: string,
  nullSafe = false,
): Sql {
  const op = raw(nullSafe ? ' is not distinct from ' : ' = ')
  return join(
    keys.map((k) => sql`${ident(targetAlias)}.${ident(k)}${op}${ident(sourceAlias)}.${ident(k)}`),
    ' and ',
  )
}

/**
 * Every (source, target) pair the ON condition joins, with the first WHEN MATCHED clause whose
 * condition holds (`__dm_clause`, NULL when none does), its action, and the row's values after it.
 *
 * @example
 * // select target.__delta_file as __dm_file, target.__delta_row_index as __dm_row,
 * //   case when (cond0) then 0 when true then 1 end as __dm_clause,
 * //   case __dm_clause when 0 then 'update' when 1 then 'delete' end as __dm_action,
 * //   cast(case __dm_clause when 0 then (source.str) else target.str end as VARCHAR) as str, …
 * // from source as source join target as target on (ON)
 */
export function matchedPairsSql(input: MergePlanInput): Sql {
  const clauses = clausesOf(input.clauses, 'matched')
  const t = ident(input.targetAlias)
  return sql`select ${t}.${ident('__delta_file')} as ${ident(FILE)}, ${t}.${ident('__delta_row_index')} as ${ident(ROW)}, ${chooseClause(clauses)} as ${ident(CLAUSE)}, ${actionOf(clauses)} as ${ident(ACTION)}, ${finalColumns(input, clauses, 'update')} from ${input.source} as ${ident(input.sourceAlias)} join ${input.target} as ${t} on (${input.on})`
}

/**
 * Target rows no source row matches and some WHEN NOT MATCHED BY SOURCE clause applies to,
 * with the clause, its action and the row's values after it.
 */
export function bySourceChangesSql(input: MergePlanInput): Sql {
  const clauses = clausesOf(input.clauses, 'notMatchedBySource')
  const t = ident(input.targetAlias)
  return sql`select ${t}.${ident('__delta_file')} as ${ident(FILE)}, ${t}.${ident('__delta_row_index')} as ${ident(ROW)}, ${chooseClause(clauses)} as ${ident(CLAUSE)}, ${actionOf(clauses)} as ${ident(ACTION)}, ${finalColumns(input, clauses, 'update')} from ${input.target} as ${t} where not exists (select 1 from ${input.source} as ${ident(input.sourceAlias)} where ${input.on}) and (${anyCondition(clauses)})`
}

/** Source rows no target row matches, as the first applicable WHEN NOT MATCHED clause inserts them. */
export function insertsSql(input: MergePlanInput): Sql {
  const clauses = clausesOf(input.clauses, 'notMatched')
  const s = ident(input.sourceAlias)
  return sql`select ${chooseClause(clauses)} as ${ident(CLAUSE)}, ${finalColumns(input, clauses, 'insert')} from ${input.source} as ${s} where not exists (select 1 from ${input.target} as ${ident(input.targetAlias)} where ${input.on}) and (${anyCondition(clauses)})`
}

/**
 * The rows of the touched files after the merge: every row not changed (copied as it was) and
 * every updated row. Deleted rows are simply left out.
 *
 * @param touched the target relation restricted to the touched files (with file info columns)
 * @param changes a relation of changes (`__dm_file`, `__dm_row`, `__dm_action`, final columns)
 */
export function rewriteSql(
  input: Pick<MergePlanInput, 'columns' | 'targetColumns'>,
  touched: Sql,
  changes: Sql,
): Sql {
  const present = new Set(input.targetColumns)
  const copied = join(
    input.columns.map((c) =>
      present.has(c.name)
        ? sql`t.${ident(c.name)}`
        : sql`cast(null as ${raw(c.type)}) as ${ident(c.name)}`,
    ),
  )
  const updated = join(input.columns.map((c) => ident(c.name)))
  return sql`select ${copied} from ${touched} as t where not exists (select 1 from ${changes} as c where c.${ident(FILE)} = t.${ident('__delta_file')} and c.${ident(ROW)} = t.${ident('__delta_row_index')}) union all select ${updated} from ${changes} where ${ident(ACTION)} = 'update'`
}

/** `case when c0 then 0 when c1 then 1 … end`: Spark evaluates clauses in order, first match wins. */
function chooseClause(clauses: readonly MergeClause[]): Sql {
  if (clauses.length === 0) return raw('cast(null as integer)')
  const whens = clauses.map(
    (c, i) =>
      sql`when ${c.condition === undefined ? raw('true') : expressionSql(c.condition)} then ${raw(String(i))}`,
  )
  return sql`case ${join(whens, ' ')} end`
}

function actionOf(clauses: readonly MergeClause[]): Sql {
  if (clauses.length === 0) return raw('cast(null as varchar)')
  const whens = clauses.map((c, i) => raw(`when ${i} then '${c.action}'`))
  return sql`case ${ident(CLAUSE)} ${join(whens, ' ')} end`
}

function anyCondition(clauses: readonly MergeClause[]): Sql {
  if (clauses.length === 0) return raw('false')
  if (clauses.some((c) => c.condition === undefined)) return raw('true')
  return join(
    clauses.map((c) => expressionSql(c.condition as Expression)),
    ' or ',
  )
}

/**
 * Each table column's value after the chosen clause, cast to the table's type. An update keeps
 * columns it does not assign; an insert leaves them NULL; 'all' takes the source column of the
 * same name where the source has one.
 */
function finalColumns(
  input: MergePlanInput,
  clauses: readonly MergeClause[],
  mode: 'update' | 'insert',
): Sql {
  const source = new Set(input.sourceColumns)
  const target = new Set(input.targetColumns)
  const s = ident(input.sourceAlias)
  const t = ident(input.targetAlias)
  const unchanged = (name: string): Sql =>
    mode === 'update' && target.has(name) ? sql`${t}.${ident(name)}` : raw('null')
  return join(
    input.columns.map((column) => {
      const whens: Sql[] = []
      clauses.forEach((clause, i) => {
        const assignments = assignmentsOf(clause)
        if (assignments === undefined) return
        let value: Sql | undefined
        if (assignments === 'all') {
          if (source.has(column.name)) value = sql`${s}.${ident(column.name)}`
        } else {
          const expression = assignments[column.name]
          if (expression !== undefined) value = expressionSql(expression)
        }
        if (value !== undefined) whens.push(sql`when ${raw(String(i))} then ${value}`)
      })
      const body =
        whens.length === 0
          ? unchanged(column.name)
          : sql`case ${ident(CLAUSE)} ${join(whens, ' ')} else ${unchanged(column.name)} end`
      return sql`cast(${body} as ${raw(column.type)}) as ${ident(column.name)}`
    }),
  )
}

function assignmentsOf(clause: MergeClause): Assignments | 'all' | undefined {
  if (clause.action === 'delete') return undefined
  return clause.kind === 'notMatched' ? clause.values : clause.set
}
