/**
 * The write of a change request's merge, planned as one Delta MERGE whose source is the merged
 * change itself: no second three-way join, no materialized copy of the touched rows.
 *
 *   contested keys (ours changed them since base, or a resolution names them): the three-way
 *     plan's merged row and op (keep │ upsert │ delete), computed over these keys only
 *   every other patch key: theirs as uploaded (ours = base there, so the cell rule takes theirs)
 *     → source view `__cr_merge_source` (patch ⟕ contested, streamed from the staged Parquet)
 *     → planMerge: files pruned by the patch keys' statistics, touched files found
 *     → counts against the head, the preview (validation) and applyMerge all read that plan
 */
import type { DuckDb } from '../engine/duckdb.js'
import { ident, join, literal, raw, type Sql, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import type { Changes } from '../formats/delta/operations/merge/changes.js'
import type { MergeClause } from '../formats/delta/operations/merge/clauses.js'
import { type MergePlan, planMerge } from '../formats/delta/operations/merge/plan.js'
import {
  insertsSql,
  type MergeQueries,
  rewriteSql,
} from '../formats/delta/operations/merge/queries.js'
import { relationSql } from '../merge/three-way-sql.js'
import type { Relation, ThreeWayPlan } from '../merge/three-way-types.js'
import { OP_COLUMN, RESERVED_COLUMNS } from './upload.js'

/** Marks source rows whose values come from the three-way plan (contested keys). */
const CONTESTED = '__dm_contested'

export interface ChangeMergeInput {
  readonly tablePath: string
  readonly key: readonly string[]
  /** The staged patch (Parquet): key, uploaded columns, `_op`. */
  readonly patchFile: string
  /** The patch's columns (without `_op`). */
  readonly uploaded: readonly string[]
  /** The three-way plan over the contested keys. */
  readonly threeWay: ThreeWayPlan
  /** The contested keys (a relation holding at least the key columns). */
  readonly contested: Relation
  readonly mergeSchema: boolean
}

export interface DiffCounts {
  readonly before: number
  readonly added: number
  readonly updated: number
  readonly deleted: number
  readonly cells: number
  readonly columns: Record<string, { modified: number }>
}

export interface ChangeMergePlan {
  /** The Delta MERGE to apply (in the session that planned it). */
  readonly plan: MergePlan
  /** What it does to the head: rows added, updated (some cell differs), deleted; cells per column. */
  readonly counts: DiffCounts
  /** The head with the change applied (every row), for the validation gate. */
  readonly preview: (oursAll: string) => Sql
}

/**
 * Plans the merge's one Delta commit in `db`: the source view, planMerge (which reads the head
 * afresh: its `snapshot.version` says which head the plan is for), and the counts.
 *
 * @example
 * const { plan, counts } = await planChangeMerge(db, { tablePath, key: ['id'], patchFile, … })
 * await applyMerge(db, plan)
 */
export async function planChangeMerge(
  db: DuckDb,
  input: ChangeMergeInput,
): Promise<ChangeMergePlan> {
  const { key, threeWay } = input
  const uploaded = new Set(input.uploaded)
  const columns = threeWay.columns.map((c) => c.name)
  const keyMatch = (a: string, b: string) =>
    join(
      key.map((k) => sql`${ident(a)}.${ident(k)} = ${ident(b)}.${ident(k)}`),
      ' and ',
    )
  // The contested keys with the plan's row, if any (a few: the keys both sides changed); a
  // contested key the plan left out (theirs did not change it) keeps ours' row.
  const k0 = ident(key[0] as string)
  await db.run(
    sql`create or replace temp table __cr_contested as
      select ${join(key.map((k) => sql`k.${ident(k)}`))}, coalesce(c."__tw_op", 'keep') as "__tw_op",
        ${join(columns.filter((c) => !key.includes(c)).map((c) => sql`c.${ident(c)}`))}
      from (select distinct ${join(key.map((k) => ident(k)))} from ${relationSql(input.contested)}) k
      left join ${relationSql(threeWay.patch)} c on ${keyMatch('k', 'c')}`,
  )
  const contested = await db.one<{ n: bigint }>(sql`select count(*) as n from __cr_contested`)
  const patch = sql`read_parquet(${literal(input.patchFile)})`
  if (Number(contested?.n ?? 0) === 0)
    await db.run(
      sql`create or replace temp view __cr_merge_source as
        select ${join(
          threeWay.columns.map((c) =>
            uploaded.has(c.name) || key.includes(c.name)
              ? ident(c.name)
              : sql`cast(null as ${raw(c.type)}) as ${ident(c.name)}`,
          ),
        )}, ${ident(OP_COLUMN)}, false as ${ident(CONTESTED)}
        from ${patch}`,
    )
  else {
    const value = (name: string) => {
      if (key.includes(name)) return sql`p.${ident(name)}`
      const fromPlan = sql`c.${ident(name)}`
      return uploaded.has(name)
        ? sql`case when c.${k0} is null then p.${ident(name)} else ${fromPlan} end`
        : fromPlan
    }
    await db.run(
      sql`create or replace temp view __cr_merge_source as
        select * from (
          select ${join(columns.map((c) => sql`${value(c)} as ${ident(c)}`))},
            coalesce(c."__tw_op", p.${ident(OP_COLUMN)}) as ${ident(OP_COLUMN)},
            c.${k0} is not null as ${ident(CONTESTED)}
          from ${patch} p left join __cr_contested c on ${keyMatch('p', 'c')}
        ) where ${ident(OP_COLUMN)} in ('upsert', 'delete')`,
    )
  }
  // A column the upload lacks keeps the head's value, except on contested keys (the plan's).
  const set = Object.fromEntries(
    columns.map((c) => [
      c,
      uploaded.has(c) || key.includes(c)
        ? sql`source.${ident(c)}`
        : sql`case when source.${ident(CONTESTED)} then source.${ident(c)} else target.${ident(c)} end`,
    ]),
  )
  const values = Object.fromEntries(columns.map((c) => [c, sql`source.${ident(c)}`]))
  const clauses: MergeClause[] = [
    { kind: 'matched', action: 'delete', condition: `source.${OP_COLUMN} = 'delete'` },
    { kind: 'matched', action: 'update', set },
    { kind: 'notMatched', action: 'insert', values, condition: `source.${OP_COLUMN} = 'upsert'` },
  ]
  // The counts come from the pass that finds the touched files: one join of the change with
  // the candidate files. The staged patch's keys were checked unique at upload.
  let counts: DiffCounts | undefined
  const planned = withoutReservedColumns(
    await planMerge(db, input.tablePath, raw('select * from __cr_merge_source'), clauses, {
      on: key,
      mergeSchema: input.mergeSchema,
      sourceKeysUnique: true,
      findChanges: async (queries, oneFile) => {
        const found = await changesAndCounts(db, queries, key, set, oneFile)
        counts = found.counts
        return found.changes
      },
    }),
  )
  if (counts === undefined)
    throw new DuckmergeError(
      'INTERNAL',
      `the merge of ${input.patchFile} was planned without its counts`,
    )
  return {
    plan: planned,
    counts,
    preview: (oursAll) =>
      sql`${rewriteSql(planned.queries, ident(oursAll))} union all select ${join(
        planned.queries.columns.map((c) => ident(c.name)),
      )} from (${insertsSql(planned.queries)})`,
  }
}

/**
 * The Delta MERGE must never add the patch's `_op` (or any reserved name) to the table, whatever
 * its schema evolution adds: those columns only steer the clauses.
 */
function withoutReservedColumns(plan: MergePlan): MergePlan {
  const reserved = (name: string) => RESERVED_COLUMNS.includes(name) || name.startsWith('__')
  if (!plan.columnsAdded.some(reserved)) return plan
  const keep = (name: string) => !(plan.columnsAdded.includes(name) && reserved(name))
  return {
    ...plan,
    schema: { ...plan.schema, fields: plan.schema.fields.filter((f) => keep(f.name)) },
    columnsAdded: plan.columnsAdded.filter(keep),
    queries: { ...plan.queries, columns: plan.queries.columns.filter((c) => keep(c.name)) },
  }
}

/**
 * What the merge does to the head's rows, and the files it touches, in one aggregate over the
 * plan's source joined with the candidate files' rows (pruned by the patch keys' statistics;
 * with one candidate file, read without file columns: measured 30% faster).
 */
async function changesAndCounts(
  db: DuckDb,
  queries: MergeQueries,
  key: readonly string[],
  set: Readonly<Record<string, Sql>>,
  oneFile: string | undefined,
): Promise<{ changes: Changes; counts: DiffCounts }> {
  const target = new Set(queries.targetColumns)
  const compared = Object.keys(set).filter((c) => target.has(c) && !key.includes(c))
  const present = sql`target.${ident(key[0] as string)} is not null`
  const upsert = sql`source.${ident(OP_COLUMN)} = 'upsert'`
  const differs = compared.map((c) => sql`(${set[c] as Sql}) is distinct from target.${ident(c)}`)
  // A column the head lacks (merge_schema) modifies the row where the change gives it a value.
  const added = Object.keys(set)
    .filter((c) => !target.has(c))
    .map((c) => sql`source.${ident(c)} is not null`)
  const modified = [...differs, ...added]
  const perColumn = differs.map(
    (d, i) => sql`count(*) filter (where ${upsert} and ${present} and ${d}) as ${ident(`c${i}`)}`,
  )
  const rows = await db.all<Record<string, bigint | string | null>>(
    sql`select ${oneFile === undefined ? sql`target.__delta_file` : sql`case when ${present} then ${oneFile} end`} as file,
        count(*) filter (where ${upsert} and target.${ident(key[0] as string)} is null) as ins,
        count(*) filter (where ${upsert} and ${present}) as matched,
        count(*) filter (where ${upsert} and ${present} and (${modified.length > 0 ? join(modified, ' or ') : raw('false')})) as upd,
        count(*) filter (where source.${ident(OP_COLUMN)} = 'delete' and ${present}) as del
        ${perColumn.length > 0 ? sql`, ${join(perColumn)}` : raw('')}
      from ${queries.source} source left join ${oneFile === undefined ? queries.target : queries.targetRows} target
        on ${queries.on}
      group by all`,
  )
  const total = (name: string) => rows.reduce((n, r) => n + Number(r[name] ?? 0), 0)
  const before = await db.one<{ n: bigint }>(sql`select count(*) as n from __dm_ours_all`)
  const columns: Record<string, { modified: number }> = {}
  let cells = 0
  compared.forEach((c, i) => {
    const n = total(`c${i}`)
    columns[c] = { modified: n }
    cells += n
  })
  return {
    changes: {
      touchedFiles: rows
        .filter((r) => r.file != null && Number(r.matched) + Number(r.del) > 0)
        .map((r) => String(r.file))
        .sort(),
      counts: {
        matchedUpdated: total('matched'),
        matchedDeleted: total('del'),
        bySourceUpdated: 0,
        bySourceDeleted: 0,
      },
      inserted: total('ins'),
    },
    counts: {
      before: Number(before?.n ?? 0),
      added: total('ins'),
      updated: total('upd'),
      deleted: total('del'),
      cells,
      columns,
    },
  }
}
