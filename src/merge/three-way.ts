/**
 * Three-way merge of one keyed table (Dolt's cell rule), computed in SQL over relations in one
 * connection (DuckDB or SQLite): no row passes through JS except the conflicts listed.
 *
 *   diff base→ours (full join on key) ─┐
 *   diff base→theirs, with ours' op ───┴→ patch: per key theirs changed, the merged row and its
 *     op (upsert │ delete │ keep) → conflicts (rows the rule flags; settled by take/resolutions)
 *   apply: delete patched keys from (a copy of) ours, insert the upserted rows
 */
import type { Connection, EngineName } from '../engine/dialect.js'
import { declaredType } from '../engine/dialect.js'
import {
  ident,
  identList,
  join,
  qualified,
  raw,
  type Sql,
  type SqlValue,
  sql,
} from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import {
  columnsOf,
  keyMatch,
  marked,
  NULL,
  present,
  relationSql,
  reportValue,
  toCell,
} from './three-way-sql.js'
import type {
  Cell,
  Conflict,
  ConflictCounts,
  MergedColumn,
  MergeRule,
  Relation,
  Resolution,
  Row,
  Side,
  SideCounts,
  ThreeWayOptions,
  ThreeWayPlan,
  ThreeWayResult,
} from './three-way-types.js'

let scratchCounter = 0

interface Shape {
  readonly columns: readonly MergedColumn[]
  readonly has: Readonly<Record<'base' | Side, ReadonlySet<string>>>
  readonly typeConflicts: readonly Conflict[]
  /** Columns typed differently per side → the one type they are compared in (static typing). */
  readonly casts: ReadonlyMap<string, string>
}

/**
 * Plans merging theirs into ours from base: counts per side, the merged rows (as a scratch
 * `patch` table to apply onto ours) and the conflicts. Conflicts are values: the caller decides.
 *
 * @example
 * const { plan, conflicts } = await threeWayMerge({ connection, table: 'runs',
 *   base: { schema: 'base', name: 'runs' }, ours: { schema: 'main', name: 'runs' },
 *   theirs: { schema: 'theirs', name: 'runs' }, key: ['track_id', 'timestamp'] })
 * if (!plan.hasConflicts) await applyThreeWay(plan, { schema: 'main', name: 'runs' })
 * await plan.dispose()
 */
export async function threeWayMerge(options: ThreeWayOptions): Promise<ThreeWayResult> {
  const { connection, key, table } = options
  const rule: MergeRule = options.rule ?? 'cell'
  const scratch = connection.dialect.scratchSchema
  const id = `tw_${process.pid}_${++scratchCounter}`
  const made: string[] = []
  const scratchTable = (suffix: string): Relation => {
    const name = `${id}_${suffix}`
    made.push(name)
    return { schema: scratch, name }
  }
  const dispose = async () => {
    for (const name of made.splice(0))
      await connection.run(sql`drop table if exists ${qualified(scratch, name)}`)
  }
  try {
    const oursColumns = await columnsOf(connection, options.ours)
    const theirsColumns = await columnsOf(connection, options.theirs)
    let base = options.base
    const baseColumns = base ? await columnsOf(connection, base) : []
    if (!base) {
      // Both sides added the table: an empty base with ours' columns makes every row an add.
      base = scratchTable('base')
      await connection.run(
        sql`create temp table ${ident(base.name)} as select * from ${relationSql(options.ours)} where 1 = 0`,
      )
    }
    const shape = mergeShape(
      table,
      baseColumns,
      oursColumns,
      theirsColumns,
      connection.dialect.typing === 'static',
    )
    const baseHas = new Set(base === options.base ? baseColumns.map((c) => c.name) : [])
    for (const k of key)
      for (const [side, cols] of [
        ['ours', shape.has.ours],
        ['theirs', shape.has.theirs],
      ] as const)
        if (!cols.has(k))
          throw new DuckmergeError(
            'KEY_COLUMN_MISSING',
            `Key column "${k}" is missing in ${side} of table "${table}".`,
            { table, column: k, side, hint: 'Choose {key} from columns both sides have.' },
          )
    const values = new Values(shape, baseHas, connection.dialect.name)
    const nonKey = shape.columns.map((c) => c.name).filter((c) => !key.includes(c))

    // 1. What each side changed against base.
    const oursDiff = scratchTable('ours')
    await connection.run(
      sql`create temp table ${ident(oursDiff.name)} as ${sideDiff(base, options.ours, 'ours', key, nonKey, values)}`,
    )
    const theirsDiff = scratchTable('theirs')
    await connection.run(
      sql`create temp table ${ident(theirsDiff.name)} as
        select x.*, o."__tw_op" as "__tw_oop"
        from (${sideDiff(base, options.theirs, 'theirs', key, nonKey, values)}) x
        left join ${relationSql(oursDiff)} o on ${keyMatch('x', 'o', key)}`,
    )

    // 2. Keys whose whole-row take is given by a resolution.
    const rowTakes = (options.resolutions ?? []).filter(
      (r): r is Resolution & { take: Side } =>
        r.column === undefined && 'take' in r && (r.table ?? table) === table,
    )
    let takes: Relation | undefined
    if (rowTakes.length > 0) {
      takes = scratchTable('takes')
      await connection.run(
        sql`create temp table ${ident(takes.name)} as select ${identList(key)}, 'ours' as "__tw_take"
          from ${relationSql(options.ours)} where 1 = 0`,
      )
      for (const r of rowTakes)
        await connection.run(
          sql`insert into ${relationSql(takes)} values (${join(key.map((k) => sql`${keyValue(r.key, k, table)}`))}, ${r.take})`,
        )
    }

    // 3. The patch: the merged row of every key theirs changed.
    const patch = scratchTable('patch')
    const take: Sql = takes
      ? sql`coalesce(r."__tw_take", ${options.take ?? 'ours'})`
      : sql`${options.take ?? 'ours'}`
    const cells = shape.columns.map((c) =>
      key.includes(c.name)
        ? sql`x.${ident(c.name)} as ${ident(c.name)}`
        : sql`${mergedCell(c.name, rule, take, values)} as ${ident(c.name)}`,
    )
    await connection.run(
      sql`create temp table ${ident(patch.name)} as
        select ${opExpr(take)} as "__tw_op", ${conflictExpr(rule, nonKey, values)} as "__tw_conflict",
          x."__tw_op" as "__tw_top", x."__tw_oop" as "__tw_oop",
          ${join(cells)}
        from ${relationSql(theirsDiff)} x
        left join ${relationSql(base)} b on ${keyMatch('b', 'x', key)}
        left join ${relationSql(options.ours)} o on ${keyMatch('o', 'x', key)}
        left join ${relationSql(options.theirs)} t on ${keyMatch('t', 'x', key)}
        ${takes ? sql`left join ${relationSql(takes)} r on ${keyMatch('r', 'x', key)}` : raw('')}
        where not (x."__tw_op" = 'del' and coalesce(x."__tw_oop", '') = 'del')`,
    )

    // 4. Cell resolutions overwrite the patch's merged value.
    const cellResolutions = (options.resolutions ?? []).filter(
      (r) => r.column !== undefined && (r.table ?? table) === table,
    )
    for (const r of cellResolutions) {
      const column = r.column as string
      if (!shape.columns.some((c) => c.name === column))
        throw new DuckmergeError(
          'COLUMN_NOT_FOUND',
          `A resolution names column "${column}", which table "${table}" does not have.`,
          { table, column },
        )
      const where = join(
        key.map((k) => sql`${ident(k)} is not distinct from ${keyValue(r.key, k, table)}`),
        ' and ',
      )
      const value =
        'value' in r
          ? sql`${r.value as SqlValue}`
          : sql`(select ${values.cell(r.take === 'ours' ? 'o' : 't', column)}
              from ${relationSql(base)} b
              right join ${relationSql(r.take === 'ours' ? options.ours : options.theirs)} ${ident(r.take === 'ours' ? 'o' : 't')}
                on ${keyMatch('b', r.take === 'ours' ? 'o' : 't', key)}
              where ${join(
                key.map(
                  (k) =>
                    sql`${ident(r.take === 'ours' ? 'o' : 't')}.${ident(k)} is not distinct from ${keyValue(r.key, k, table)}`,
                ),
                ' and ',
              )})`
      await connection.run(
        sql`update ${relationSql(patch)} set ${ident(column)} = ${value} where ${where}`,
      )
    }

    const counts = async (rel: Relation): Promise<SideCounts> => {
      const rows = await connection.all<{ op: string; n: number | bigint }>(
        sql`select "__tw_op" as op, count(*) as n from ${relationSql(rel)} group by 1`,
      )
      const n = (op: string) => Number(rows.find((r) => r.op === op)?.n ?? 0)
      return { added: n('add'), deleted: n('del'), changed: n('upd') }
    }
    const [patchCounts] = await connection.all<{
      upserts: unknown
      deletes: unknown
      conflicts: unknown
    }>(
      sql`select sum(case when "__tw_op" = 'upsert' then 1 else 0 end) as upserts,
          sum(case when "__tw_op" = 'delete' then 1 else 0 end) as deletes,
          sum("__tw_conflict") as conflicts
        from ${relationSql(patch)}`,
    )
    const rowConflicts = Number(patchCounts?.conflicts ?? 0)

    // 5. Conflicts as values: all of them when resolutions must be checked against them.
    const listAll = (options.resolutions ?? []).length > 0 && options.take === undefined
    const limit = listAll ? undefined : (options.conflictLimit ?? 1000)
    const listed = await listConflicts({
      connection,
      table,
      key,
      rule,
      nonKey,
      values,
      patch,
      base,
      ours: options.ours,
      theirs: options.theirs,
      limit,
    })
    const all = [...shape.typeConflicts, ...listed]
    const settled = (c: Conflict) =>
      options.take !== undefined || isSettled(c, options.resolutions ?? [], table)
    const open = all.filter((c) => !settled(c))
    const cellCount = listed.length
    const conflictCount =
      shape.typeConflicts.length +
      (limit === undefined ? cellCount : Math.max(cellCount, rowConflicts))
    const unresolved = options.take !== undefined ? 0 : listAll ? open.length : conflictCount
    const plan: ThreeWayPlan = {
      table,
      key: [...key],
      rule,
      columns: shape.columns,
      ours: await counts(oursDiff),
      theirs: await counts(theirsDiff),
      upserts: Number(patchCounts?.upserts ?? 0),
      deletes: Number(patchCounts?.deletes ?? 0),
      conflictCount,
      unresolved,
      hasConflicts: unresolved > 0,
      patch,
      countConflicts: () =>
        countConflicts({
          connection,
          table,
          key,
          rule,
          nonKey,
          values,
          patch,
          base,
          ours: options.ours,
          theirs: options.theirs,
          limit: undefined,
        }).then((c) => ({
          ...c,
          byKind: { ...c.byKind, 'column-type': shape.typeConflicts.length },
        })),
      dispose,
    }
    return {
      plan,
      conflicts: [...open, ...all.filter(settled)].slice(0, options.conflictLimit ?? 1000),
    }
  } catch (error) {
    await dispose().catch(() => undefined)
    throw error
  }
}

/**
 * Writes a plan into `target`, a table holding ours (ours itself, or a copy): adds the columns
 * only theirs has, deletes the patched keys, inserts the merged rows. Refused while conflicts
 * are unsettled.
 *
 * SQL (both engines):
 *   delete from T where rowid in (select t.rowid from T t join patch p on <key match>
 *     where p.__tw_op in ('upsert', 'delete'));
 *   insert into T (cols) select cols from patch where __tw_op = 'upsert'
 */
export async function applyThreeWay(
  connection: Connection,
  plan: ThreeWayPlan,
  target: Relation,
): Promise<{ readonly deleted: number; readonly inserted: number }> {
  if (plan.hasConflicts)
    throw new DuckmergeError(
      'MERGE_CONFLICT',
      `Table "${plan.table}" has ${plan.unresolved} unresolved conflict(s); nothing was written.`,
      {
        table: plan.table,
        conflicts: plan.unresolved,
        hint: 'Settle them with {take} or {resolutions}.',
      },
    )
  const have = new Set(
    (await columnsOf(connection, { schema: target.schema, name: target.name })).map((c) => c.name),
  )
  for (const c of plan.columns)
    if (!have.has(c.name))
      await connection.run(
        sql`alter table ${relationSql(target)} add column ${ident(c.name)} ${declaredType(c.type, `${plan.table}.${c.name}`)}`,
      )
  const deleted = await connection.run(
    sql`delete from ${relationSql(target)} where rowid in (
      select t.rowid from ${relationSql(target)} t join ${relationSql(plan.patch)} p
        on ${keyMatch('t', 'p', plan.key)} where p."__tw_op" in ('upsert', 'delete'))`,
  )
  const names = identList(plan.columns.map((c) => c.name))
  const inserted = await connection.run(
    sql`insert into ${relationSql(target)} (${names})
      select ${names} from ${relationSql(plan.patch)} where "__tw_op" = 'upsert'`,
  )
  return { deleted, inserted }
}

/**
 * The merged table as one query: ours without the patched keys, plus the upserted rows. For
 * writing elsewhere (a Parquet file, a Delta commit's preview).
 */
export function mergedRows(plan: ThreeWayPlan, ours: Relation): Sql {
  const names = plan.columns.map((c) => c.name)
  const oursCols = join(
    plan.columns.map((c) =>
      c.in.includes('ours') ? sql`o.${ident(c.name)}` : sql`${NULL} as ${ident(c.name)}`,
    ),
  )
  return sql`select ${oursCols} from ${relationSql(ours)} o
    where not exists (select 1 from ${relationSql(plan.patch)} p
      where ${keyMatch('p', 'o', plan.key)} and p."__tw_op" in ('upsert', 'delete'))
    union all
    select ${identList(names)} from ${relationSql(plan.patch)} where "__tw_op" = 'upsert'`
}

/** Merged columns: ours' in order, then theirs' new ones; types three-way, new clashes conflict. */
function mergeShape(
  table: string,
  base: readonly { name: string; type: string }[],
  ours: readonly { name: string; type: string }[],
  theirs: readonly { name: string; type: string }[],
  staticTyping: boolean,
): Shape {
  const typeIn = (cols: readonly { name: string; type: string }[], name: string) =>
    cols.find((c) => c.name === name)?.type
  const names = [
    ...ours.map((c) => c.name),
    ...theirs.map((c) => c.name).filter((n) => !ours.some((c) => c.name === n)),
  ]
  const typeConflicts: Conflict[] = []
  const casts = new Map<string, string>()
  const columns: MergedColumn[] = names.map((name) => {
    const b = typeIn(base, name)
    const o = typeIn(ours, name)
    const t = typeIn(theirs, name)
    const same = (x: string | undefined, y: string | undefined) =>
      x?.toUpperCase() === y?.toUpperCase()
    if (o !== undefined && t !== undefined && !same(o, t) && !same(b, o) && !same(b, t))
      typeConflicts.push({
        kind: 'column-type',
        table,
        column: name,
        base: b ?? null,
        ours: o,
        theirs: t,
      })
    const type =
      o === undefined ? (t as string) : t !== undefined && same(b, o) && !same(b, t) ? t : o
    if (staticTyping && [b, o, t].some((x) => x !== undefined && !same(x, type)))
      casts.set(
        name,
        typeConflicts.some((c) => 'column' in c && c.column === name) ? 'VARCHAR' : type,
      )
    const sides: ('base' | Side)[] = []
    if (b !== undefined) sides.push('base')
    if (o !== undefined) sides.push('ours')
    if (t !== undefined) sides.push('theirs')
    return { name, type, in: sides }
  })
  return {
    columns,
    has: {
      base: new Set(base.map((c) => c.name)),
      ours: new Set(ours.map((c) => c.name)),
      theirs: new Set(theirs.map((c) => c.name)),
    },
    typeConflicts,
    casts,
  }
}

/**
 * The value of a column on a side, by alias (`b`, `o`, `t`, or `s` for the side being diffed):
 * a side without the column keeps base's value (it did not change it), NULL when base lacks it.
 */
class Values {
  constructor(
    readonly shape: Shape,
    readonly baseHas: ReadonlySet<string>,
    readonly engine: EngineName,
  ) {}

  cell(alias: 'b' | 'o' | 't', column: string): Sql {
    const side: 'base' | Side = alias === 'b' ? 'base' : alias === 'o' ? 'ours' : 'theirs'
    if (side === 'base') return this.baseCell(column)
    return this.shape.has[side].has(column)
      ? this.cast(column, sql`${ident(alias)}.${ident(column)}`)
      : this.baseCell(column)
  }

  /** The cell as reports select it (exact decimals, ISO dates): see reportValue. */
  report(alias: 'b' | 'o' | 't', column: string): Sql {
    return reportValue(this.cell(alias, column), this.typeOf(column), this.engine)
  }

  /** A key column of the patch (alias `x`) as reports select it. */
  reportKey(column: string): Sql {
    return reportValue(sql`x.${ident(column)}`, this.typeOf(column), this.engine)
  }

  typeOf(column: string): string {
    return (
      this.shape.casts.get(column) ??
      this.shape.columns.find((c) => c.name === column)?.type ??
      'VARCHAR'
    )
  }

  /** For a side diffed under alias `s`. */
  sideCell(side: Side, column: string): Sql {
    return this.shape.has[side].has(column)
      ? this.cast(column, sql`s.${ident(column)}`)
      : this.baseCell(column)
  }

  baseCell(column: string): Sql {
    return this.baseHas.has(column) ? this.cast(column, sql`b.${ident(column)}`) : NULL
  }

  /** A statically typed engine compares a column typed differently per side in one type. */
  cast(column: string, value: Sql): Sql {
    const to = this.shape.casts.get(column)
    return to === undefined ? value : sql`cast(${value} as ${declaredType(to, column)})`
  }
}

/** Keys a side added, deleted or changed against base, with `__tw_op` 'add' | 'del' | 'upd'. */
function sideDiff(
  base: Relation,
  side: Relation,
  name: Side,
  key: readonly string[],
  nonKey: readonly string[],
  values: Values,
): Sql {
  const keys = join(key.map((k) => sql`coalesce(s.${ident(k)}, b.${ident(k)}) as ${ident(k)}`))
  const changed = nonKey.map(
    (c) => sql`${values.baseCell(c)} is distinct from ${values.sideCell(name, c)}`,
  )
  return sql`select ${keys},
      case when ${present('b', values.engine)} is null then 'add' when ${present('s', values.engine)} is null then 'del' else 'upd' end as "__tw_op"
    from ${marked(base, 'b', values.engine)} full join ${marked(side, 's', values.engine)} on ${keyMatch('b', 's', key)}
    where ${present('b', values.engine)} is null or ${present('s', values.engine)} is null${changed.length > 0 ? sql` or ${join(changed, ' or ')}` : raw('')}`
}

/** What the patch does with a key theirs changed (x: theirs' diff row, with ours' op). */
function opExpr(take: Sql): Sql {
  return sql`case
    when x."__tw_op" = 'del' and x."__tw_oop" is null then 'delete'
    when x."__tw_op" = 'del' then case when ${take} = 'theirs' then 'delete' else 'keep' end
    when x."__tw_oop" = 'del' then case when ${take} = 'theirs' then 'upsert' else 'keep' end
    else 'upsert' end`
}

/**
 * A cell both sides changed differently. `added` is true where both sides added the key: base
 * has no value there (not even NULL), so the cells conflict whenever they differ.
 */
function cellConflict(c: string, values: Values, added: Sql): Sql {
  const b = values.cell('b', c)
  const o = values.cell('o', c)
  const t = values.cell('t', c)
  return sql`((${added}) or (${b} is distinct from ${o} and ${b} is distinct from ${t})) and ${o} is distinct from ${t}`
}

/** Both sides added the key (theirs' op, under alias x as the patch query names it). */
const ADDED_IN_DIFF = sql`x."__tw_op" = 'add'`
const ADDED_IN_PATCH = sql`x."__tw_top" = 'add'`

/** 1 when both sides changed the key in a way the rule does not merge, else 0. */
function conflictExpr(rule: MergeRule, nonKey: readonly string[], values: Values): Sql {
  const differ =
    rule === 'cell'
      ? nonKey.map((c) => cellConflict(c, values, ADDED_IN_DIFF))
      : nonKey.map((c) => sql`${values.cell('o', c)} is distinct from ${values.cell('t', c)}`)
  const cells = differ.length > 0 ? join(differ, ' or ') : raw('false')
  return sql`case when x."__tw_oop" is null then 0
    when x."__tw_op" = 'del' or x."__tw_oop" = 'del' then 1
    when ${cells} then 1 else 0 end`
}

/** The merged value of a non-key cell; `take` decides cells both sides changed differently. */
function mergedCell(c: string, rule: MergeRule, take: Sql, values: Values): Sql {
  const b = values.cell('b', c)
  const o = values.cell('o', c)
  const t = values.cell('t', c)
  const both =
    rule === 'cell'
      ? sql`case when ${take} = 'theirs'
          then case when not (${ADDED_IN_DIFF}) and ${t} is not distinct from ${b} then ${o} else ${t} end
          else case when not (${ADDED_IN_DIFF}) and ${o} is not distinct from ${b} then ${t} else ${o} end end`
      : sql`case when ${take} = 'theirs' then ${t} else ${o} end`
  return sql`case when x."__tw_oop" is null or x."__tw_oop" = 'del' then ${t} else ${both} end`
}

function keyValue(key: Readonly<Record<string, Cell>>, column: string, table: string): SqlValue {
  if (!(column in key))
    throw new DuckmergeError(
      'KEY_COLUMN_MISSING',
      `A resolution for table "${table}" has no value for key column "${column}" (it gives ${Object.keys(key).join(', ') || 'none'}).`,
      { table, column },
    )
  const v = key[column] as Cell
  return typeof v === 'boolean' ? Number(v) : v
}

/** Whether a resolution settles a conflict: one for its key, or for its key and column. */
function isSettled(c: Conflict, resolutions: readonly Resolution[], table: string): boolean {
  if (c.kind === 'column-type') return false
  return resolutions.some(
    (r) =>
      (r.table ?? table) === c.table &&
      sameKey(r.key, c.key) &&
      (r.column === undefined ? 'take' in r : 'column' in c && r.column === c.column),
  )
}

function sameKey(a: Readonly<Record<string, Cell>>, b: Readonly<Record<string, Cell>>): boolean {
  return Object.keys(b).every((k) => String(a[k]) === String(b[k]))
}

interface ListOptions {
  readonly connection: Connection
  readonly table: string
  readonly key: readonly string[]
  readonly rule: MergeRule
  readonly nonKey: readonly string[]
  readonly values: Values
  readonly patch: Relation
  readonly base: Relation
  readonly ours: Relation
  readonly theirs: Relation
  readonly limit: number | undefined
}

/** The conflicting keys of the patch as `Conflict` values, in key order. */
async function listConflicts(o: ListOptions): Promise<Conflict[]> {
  const { key, nonKey, values } = o
  const cols = (alias: 'b' | 'o' | 't') =>
    nonKey.map((c, i) => sql`${values.report(alias, c)} as ${ident(`${alias}${i}`)}`)
  const flags = nonKey.map(
    (c, i) =>
      sql`case when ${cellConflict(c, values, ADDED_IN_PATCH)} then 1 else 0 end as ${ident(`f${i}`)}`,
  )
  const select = join([
    ...key.map((k, i) => sql`${values.reportKey(k)} as ${ident(`k${i}`)}`),
    sql`x."__tw_top" as top`,
    sql`x."__tw_oop" as oop`,
    sql`${present('b', values.engine)} as bp`,
    ...cols('b'),
    ...cols('o'),
    ...cols('t'),
    ...flags,
  ])
  const rows = await o.connection.all<Record<string, unknown>>(
    sql`select ${select}
      from ${relationSql(o.patch)} x
      left join ${marked(o.base, 'b', values.engine)} on ${keyMatch('b', 'x', key)}
      left join ${relationSql(o.ours)} o on ${keyMatch('o', 'x', key)}
      left join ${relationSql(o.theirs)} t on ${keyMatch('t', 'x', key)}
      where x."__tw_conflict" = 1
      order by ${join(key.map((_, i) => ident(`k${i}`)))}
      ${o.limit === undefined ? raw('') : sql`limit ${o.limit}`}`,
  )
  const out: Conflict[] = []
  for (const r of rows) {
    const rowKey = Object.fromEntries(key.map((k, i) => [k, toCell(r[`k${i}`])]))
    const row = (alias: 'b' | 'o' | 't'): Row =>
      Object.fromEntries([
        ...key.map((k) => [k, rowKey[k] ?? null] as const),
        ...nonKey.map((c, i) => [c, toCell(r[`${alias}${i}`])] as const),
      ])
    const hasBase = r.bp !== null && r.bp !== undefined
    if (r.top === 'del' || r.oop === 'del') {
      out.push({
        kind: 'delete-update',
        table: o.table,
        key: rowKey,
        deletedIn: r.oop === 'del' ? 'ours' : 'theirs',
        base: hasBase ? row('b') : null,
        ours: r.oop === 'del' ? null : row('o'),
        theirs: r.top === 'del' ? null : row('t'),
      })
    } else if (o.rule === 'row') {
      out.push({
        kind: 'row',
        table: o.table,
        key: rowKey,
        base: hasBase ? row('b') : null,
        ours: row('o'),
        theirs: row('t'),
      })
    } else {
      nonKey.forEach((c, i) => {
        if (Number(r[`f${i}`]) !== 1) return
        out.push({
          kind: hasBase ? 'cell' : 'add-add',
          table: o.table,
          key: rowKey,
          column: c,
          base: toCell(r[`b${i}`]),
          ours: toCell(r[`o${i}`]),
          theirs: toCell(r[`t${i}`]),
        })
      })
    }
  }
  return out
}

/**
 * Conflicts counted by kind in one aggregate over the conflicting keys of the patch (the joins
 * listConflicts makes, without bringing rows to JS).
 */
async function countConflicts(o: ListOptions): Promise<ConflictCounts> {
  const { nonKey, values } = o
  const sum = (terms: Sql[]) => (terms.length > 0 ? join(terms, ' + ') : raw('0'))
  const flagged = sum(
    nonKey.map(
      (c) => sql`(case when ${cellConflict(c, values, ADDED_IN_PATCH)} then 1 else 0 end)`,
    ),
  )
  const apart = sum(
    nonKey.map(
      (c) =>
        sql`(case when ${values.cell('o', c)} is distinct from ${values.cell('t', c)} then 1 else 0 end)`,
    ),
  )
  const deleted = sql`(x."__tw_top" = 'del' or coalesce(x."__tw_oop", '') = 'del')`
  const bp = present('b', values.engine)
  const [r] = await o.connection.all<Record<string, unknown>>(
    sql`select count(*) as keys,
        sum(case when ${deleted} then 1 else 0 end) as del_upd,
        sum(case when coalesce(x."__tw_oop", '') = 'del' then 1 else 0 end) as del_ours,
        sum(case when ${deleted} then 0 when ${bp} is null then ${flagged} else 0 end) as add_cells,
        sum(case when ${deleted} then 0 when ${bp} is null then 0 else ${flagged} end) as cell_cells,
        sum(case when ${deleted} then 0 else 1 end) as row_keys,
        sum(case when ${deleted} then 0 else ${apart} end) as row_cells
      from ${relationSql(o.patch)} x
      left join ${marked(o.base, 'b', values.engine)} on ${keyMatch('b', 'x', o.key)}
      left join ${relationSql(o.ours)} o on ${keyMatch('o', 'x', o.key)}
      left join ${relationSql(o.theirs)} t on ${keyMatch('t', 'x', o.key)}
      where x."__tw_conflict" = 1`,
  )
  const n = (v: unknown) => Number(v ?? 0)
  const isRow = o.rule === 'row'
  return {
    keys: n(r?.keys),
    cells: isRow ? n(r?.row_cells) : n(r?.add_cells) + n(r?.cell_cells),
    byKind: {
      cell: isRow ? 0 : n(r?.cell_cells),
      'add-add': isRow ? 0 : n(r?.add_cells),
      row: isRow ? n(r?.row_keys) : 0,
      'delete-update': n(r?.del_upd),
      'column-type': 0,
    },
    deletedInOurs: n(r?.del_ours),
  }
}
