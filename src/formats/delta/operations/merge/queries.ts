/**
 * The SQL of a Delta MERGE, as DuckDB queries over two relations: the source, and the candidate
 * target rows with their file and row position. No Delta knowledge here: merge.ts runs these.
 *
 *   source ⋈ target on ON ──► matched pairs (clause chosen per pair; duplicates checked)
 *   target ▷ source        ──► not-matched-by-source changes
 *   source ▷ target        ──► inserts (new files only)
 *   touched files ⟕ source, clause applied, deletes dropped ──► rewritten files (copy-on-write)
 */
import { ident, join, raw, type Sql, sql } from '../../../../engine/sql.js'
import { type Assignments, clausesOf, type Expression, type MergeClause } from './clauses.js'

/** Columns queries.ts adds to its intermediate rows; prefixed so no user column collides. */
export const FILE = '__dm_file'
export const ROW = '__dm_row'
export const CLAUSE = '__dm_clause'
export const ACTION = '__dm_action'

export interface PlanColumn {
  readonly name: string
  /** DuckDB type the written value is cast to (deltaToDuckDbType of the table's type). */
  readonly type: string
}

export interface MergeQueries {
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
  /**
   * The same rows without the file columns, for joins that need not tell rows apart (inserts):
   * no file column is carried through the join.
   */
  readonly targetRows: Sql
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
 * Every (source, target) pair the ON condition joins: the target row's file and position, the
 * first WHEN MATCHED clause whose condition holds (`__dm_clause`, NULL when none does) and its
 * action. Narrow on purpose: DuckDB reads only the columns ON and the conditions use.
 *
 * @example
 * // select target.__delta_file as __dm_file, target.__delta_row_index as __dm_row,
 * //   case when (cond0) then 0 when true then 1 end as __dm_clause,
 * //   case __dm_clause when 0 then 'update' when 1 then 'delete' end as __dm_action
 * // from source as source join target as target on (ON)
 */
export function matchedPairsSql(input: MergeQueries, oneFile?: string): Sql {
  const clauses = clausesOf(input.clauses, 'matched')
  const t = ident(input.targetAlias)
  // Every candidate row is in `oneFile`: read the rows without file columns, name the file once.
  const [file, row, target] =
    oneFile === undefined
      ? [sql`${t}.${ident('__delta_file')}`, sql`${t}.${ident('__delta_row_index')}`, input.target]
      : [sql`${oneFile}`, raw('cast(null as bigint)'), input.targetRows]
  return sql`select ${file} as ${ident(FILE)}, ${row} as ${ident(ROW)}, ${chooseClause(clauses)} as ${ident(CLAUSE)}, ${actionOf(clauses, CLAUSE)} as ${ident(ACTION)} from ${input.source} as ${ident(input.sourceAlias)} join ${target} as ${t} on (${input.on})`
}

/** Target rows no source row matches that a WHEN NOT MATCHED BY SOURCE clause changes (narrow). */
export function bySourceChangesSql(input: MergeQueries): Sql {
  const clauses = clausesOf(input.clauses, 'notMatchedBySource')
  const t = ident(input.targetAlias)
  return sql`select ${t}.${ident('__delta_file')} as ${ident(FILE)}, ${t}.${ident('__delta_row_index')} as ${ident(ROW)}, ${chooseClause(clauses)} as ${ident(CLAUSE)}, ${actionOf(clauses, CLAUSE)} as ${ident(ACTION)} from ${input.target} as ${t} anti join ${input.source} as ${ident(input.sourceAlias)} on (${input.on}) where ${anyCondition(clauses)}`
}

/** Source rows no target row matches, as the first applicable WHEN NOT MATCHED clause inserts them. */
export function insertsSql(input: MergeQueries): Sql {
  const clauses = clausesOf(input.clauses, 'notMatched')
  const s = ident(input.sourceAlias)
  const columns = join(
    input.columns.map(
      (c) =>
        sql`cast(${columnValue(input, clauses, 'insert', c.name, CLAUSE)} as ${raw(c.type)}) as ${ident(c.name)}`,
    ),
  )
  return sql`select ${chooseClause(clauses)} as ${ident(CLAUSE)}, ${columns} from ${input.source} as ${s} anti join ${input.targetRows} as ${ident(input.targetAlias)} on (${input.on}) where ${anyCondition(clauses)}`
}

/**
 * The rows of the touched files after the merge, in one pass: each target row joined to its
 * source row (if any), the first applicable WHEN MATCHED or WHEN NOT MATCHED BY SOURCE clause
 * applied, deleted rows left out, every other row copied as it was. The clause choice repeats
 * the one matchedPairsSql made, with the same expressions, so it picks the same rows.
 *
 * `withInserts` makes it a full join whose source rows without a target row are the inserts:
 * right only when every source row that matches a target row matches one in `touched` (an
 * unconditional WHEN MATCHED clause changes every matched row, so its file is touched).
 *
 * @param touched the target relation restricted to the touched files
 */
export function rewriteSql(input: MergeQueries, touched: Sql, withInserts = false): Sql {
  const matched = clausesOf(input.clauses, 'matched')
  const bySource = clausesOf(input.clauses, 'notMatchedBySource')
  const inserting = clausesOf(input.clauses, 'notMatched')
  const s = ident(input.sourceAlias)
  const t = ident(input.targetAlias)
  const m = '__dm_m'
  const b = '__dm_b'
  const n = '__dm_n'
  const present = sql`${s}.__dm_present`
  // With inserts (a full join): a source row without a target row is an insert.
  const targetless = sql`${t}.__dm_present is null`
  const columns = input.columns.map((c) => {
    const whens: Sql[] = []
    if (matched.length > 0)
      whens.push(
        sql`when ${ident(m)} is not null then ${columnValue(input, matched, 'update', c.name, m)}`,
      )
    if (bySource.length > 0)
      whens.push(
        sql`when ${ident(b)} is not null then ${columnValue(input, bySource, 'update', c.name, b)}`,
      )
    if (withInserts)
      whens.push(sql`when ${targetless} then ${columnValue(input, inserting, 'insert', c.name, n)}`)
    const kept = unchangedValue(input, 'update', c.name)
    const body = whens.length === 0 ? kept : sql`case ${join(whens, ' ')} else ${kept} end`
    return sql`cast(${body} as ${raw(c.type)}) as ${ident(c.name)}`
  })
  const action = sql`case when ${ident(m)} is not null then ${actionOf(matched, m)} when ${ident(b)} is not null then ${actionOf(bySource, b)} end`
  const names = join(input.columns.map((c) => ident(c.name)))
  // Without a delete clause every row stays: no action to compute and filter on.
  const deletes = [...matched, ...bySource].some((c) => c.action === 'delete')
  const kept: Sql[] = []
  const extra: Sql[] = []
  if (deletes) {
    extra.push(sql`, ${action} as ${ident(ACTION)}`)
    kept.push(sql`${ident(ACTION)} is distinct from 'delete'`)
  }
  if (withInserts) {
    extra.push(sql`, ${targetless} as __dm_targetless`)
    kept.push(sql`(not __dm_targetless or ${ident(n)} is not null)`)
  }
  const target = withInserts ? sql`(select *, true as __dm_present from ${touched})` : touched
  const how = raw(withInserts ? 'full' : 'left')
  const pair = withInserts ? sql`${present} and ${t}.__dm_present` : present
  return sql`select ${names} from (select case when ${pair} then ${chooseClause(matched)} end as ${ident(m)}, case when ${present} is null then ${chooseClause(bySource)} end as ${ident(b)}, ${withInserts ? sql`case when ${targetless} then ${chooseClause(inserting)} end as ${ident(n)}, ` : raw('')}${join(columns)}${join(extra, '')} from ${target} as ${t} ${how} join (select *, true as __dm_present from ${input.source}) as ${s} on (${input.on}))${kept.length > 0 ? sql` where ${join(kept, ' and ')}` : raw('')}`
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

function actionOf(clauses: readonly MergeClause[], clauseColumn: string): Sql {
  if (clauses.length === 0) return raw('cast(null as varchar)')
  const whens = clauses.map((c, i) => raw(`when ${i} then '${c.action}'`))
  return sql`case ${ident(clauseColumn)} ${join(whens, ' ')} end`
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
 * A column's value after the clause numbered by `clauseColumn` (uncast). An update keeps columns
 * it does not assign; an insert leaves them NULL; 'all' takes the source column of the same name
 * where the source has one.
 */
function columnValue(
  input: MergeQueries,
  clauses: readonly MergeClause[],
  mode: 'update' | 'insert',
  name: string,
  clauseColumn: string,
): Sql {
  const source = new Set(input.sourceColumns)
  const s = ident(input.sourceAlias)
  const whens: Sql[] = []
  clauses.forEach((clause, i) => {
    const assignments = assignmentsOf(clause)
    if (assignments === undefined) return
    let value: Sql | undefined
    if (assignments === 'all') {
      if (source.has(name)) value = sql`${s}.${ident(name)}`
    } else {
      const expression = assignments[name]
      if (expression !== undefined) value = expressionSql(expression)
    }
    if (value !== undefined) whens.push(sql`when ${raw(String(i))} then ${value}`)
  })
  const kept = unchangedValue(input, mode, name)
  return whens.length === 0
    ? kept
    : sql`case ${ident(clauseColumn)} ${join(whens, ' ')} else ${kept} end`
}

/** The value a clause leaves alone: the target's for an update (NULL for a new column), NULL for an insert. */
function unchangedValue(input: MergeQueries, mode: 'update' | 'insert', name: string): Sql {
  return mode === 'update' && input.targetColumns.includes(name)
    ? sql`${ident(input.targetAlias)}.${ident(name)}`
    : raw('null')
}

function assignmentsOf(clause: MergeClause): Assignments | 'all' | undefined {
  if (clause.action === 'delete') return undefined
  return clause.kind === 'notMatched' ? clause.values : clause.set
}
