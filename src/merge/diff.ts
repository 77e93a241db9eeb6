/**
 * Row- and cell-level diff of two keyed relations in one connection (DuckDB or SQLite): a
 * summary in the shape of Dolt's diff stat, and changed rows paged by key with an opaque cursor.
 * One full join per call; no row passes through JS but the page.
 */
import { ident, join, raw, type Sql, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import {
  columnsOf,
  keyMatch,
  marked,
  present,
  relationSql,
  reportValue,
  toCell,
} from './three-way-sql.js'
import type {
  Cell,
  DiffOptions,
  DiffPage,
  DiffResult,
  DiffRow,
  DiffSummary,
  Row,
} from './three-way-types.js'

/**
 * The summary and one page (`limit` 0: the summary only).
 *
 * @example
 * const { summary, rows, nextCursor } = await diffRelations({ connection, key: ['id'],
 *   before: { schema: 'base', name: 'runs' }, after: { schema: 'main', name: 'runs' }, limit: 100 })
 */
export async function diffRelations(options: DiffOptions): Promise<DiffResult> {
  const summary = await diffSummary(options)
  if ((options.limit ?? 100) === 0)
    return { summary, rows: [], nextCursor: undefined, hasMore: false }
  return { summary, ...(await diffPage(options)) }
}

/**
 * Dolt's diff stat of two relations, in one full join:
 *
 *   select count(b.marker) as old_rows, count(a.marker) as new_rows,
 *     sum(case when b.marker is null then 1 else 0 end) as added, …,
 *     sum(case when both and b."c" is distinct from a."c" then 1 else 0 end) as c0, …
 *   from before b full join after a on <key match>
 */
export async function diffSummary(options: DiffOptions): Promise<DiffSummary> {
  const { connection } = options
  const { beforeCols, afterCols, shared } = await shapeOf(options)
  const src = sourceOf(options)
  const differs = (c: string) => sql`${src.b(c)} is distinct from ${src.a(c)}`
  const anyDiffers = shared.length > 0 ? join(shared.map(differs), ' or ') : raw('false')
  const both = sql`${src.bp} is not null and ${src.ap} is not null`
  const [s] = await connection.all<Record<string, unknown>>(
    sql`select count(${src.bp}) as old_rows, count(${src.ap}) as new_rows,
        sum(case when ${src.bp} is null then 1 else 0 end) as added,
        sum(case when ${src.ap} is null then 1 else 0 end) as deleted,
        sum(case when ${both} and (${anyDiffers}) then 1 else 0 end) as modified
        ${shared.length > 0 ? sql`, ${join(shared.map((c, i) => sql`sum(case when ${both} and ${differs(c)} then 1 else 0 end) as ${ident(`c${i}`)}`))}` : raw('')}
      from ${src.from}`,
  )
  const n = (v: unknown) => Number(v ?? 0)
  const columns = Object.fromEntries(shared.map((c, i) => [c, { modified: n(s?.[`c${i}`]) }]))
  const names = (cols: readonly string[]) => new Set(cols)
  const before = names(beforeCols)
  const after = names(afterCols)
  return {
    rowsAdded: n(s?.added),
    rowsDeleted: n(s?.deleted),
    rowsModified: n(s?.modified),
    rowsUnmodified: n(s?.old_rows) - n(s?.deleted) - n(s?.modified),
    cellsModified: Object.values(columns).reduce((t, c) => t + c.modified, 0),
    oldRowCount: n(s?.old_rows),
    newRowCount: n(s?.new_rows),
    columns,
    columnsAdded: afterCols.filter((c) => !before.has(c)),
    columnsDeleted: beforeCols.filter((c) => !after.has(c)),
  }
}

/** The columns of a diff's two sides, as its rows report them. */
export interface DiffShape {
  readonly before: readonly { readonly name: string; readonly type: string }[]
  readonly after: readonly { readonly name: string; readonly type: string }[]
  /** Non-key columns both sides have: the ones compared. */
  readonly shared: readonly string[]
}

/**
 * Every changed row as one query (unordered): `n<i>` the key columns as they compare, `k<i>`
 * as reported, `kd` the kind, `bp`/`ap` whether each side has the row, `b<i>`/`a<i>` each
 * side's columns as reported. diffPage reads a page of it; a caller may store it (a Parquet
 * file ordered by `n<i>`) and page that instead.
 *
 *   select coalesce(a.k, b.k) as n0, …, b.marker as bp, a.marker as ap, b.c as b0, …, a.c as a0, …
 *   from before b full join after a on <key match>
 *   where bp is null or ap is null or <any shared column differs>
 */
export async function diffRowsQuery(
  options: Pick<DiffOptions, 'connection' | 'before' | 'after' | 'key' | 'aligned'>,
): Promise<{ readonly query: Sql; readonly shape: DiffShape }> {
  const { connection, key } = options
  const engine = connection.dialect.name
  const { before: beforeInfo, after: afterInfo, shared } = await shapeOf(options)
  const src = sourceOf(options)
  const differs = (c: string) => sql`${src.b(c)} is distinct from ${src.a(c)}`
  const anyDiffers = shared.length > 0 ? join(shared.map(differs), ' or ') : raw('false')
  const { bp, ap } = src
  const keyOf = (k: string) => sql`coalesce(${src.a(k)}, ${src.b(k)})`
  const keyType = (k: string) =>
    (afterInfo.find((c) => c.name === k) ?? beforeInfo.find((c) => c.name === k))?.type ?? ''
  const query = sql`select ${join([
    ...key.map((k, i) => sql`${keyOf(k)} as ${ident(`n${i}`)}`),
    ...key.map((k, i) => sql`${reportValue(keyOf(k), keyType(k), engine)} as ${ident(`k${i}`)}`),
    sql`case when ${bp} is null then 'added' when ${ap} is null then 'deleted' else 'modified' end as kd`,
    sql`${bp} as bp`,
    sql`${ap} as ap`,
    ...beforeInfo.map(
      (c, i) => sql`${reportValue(src.b(c.name), c.type, engine)} as ${ident(`b${i}`)}`,
    ),
    ...afterInfo.map(
      (c, i) => sql`${reportValue(src.a(c.name), c.type, engine)} as ${ident(`a${i}`)}`,
    ),
  ])}
    from ${src.from}
    where ${bp} is null or ${ap} is null or (${anyDiffers})`
  return { query, shape: { before: beforeInfo, after: afterInfo, shared } }
}

/**
 * One page of a diffRowsQuery's rows (or of a stored copy, `from`), in key order after
 * `after` (key values), of the kinds asked; `limit + 1` rows, so the caller knows if more follow.
 */
export function diffPageSql(
  from: Sql,
  width: number,
  options: {
    after?: readonly Cell[]
    kinds?: readonly DiffRow['kind'][]
    limit: number
    /**
     * `from` yields its rows in key order already (a file written sorted, read with insertion
     * order preserved): no sort, so the scan stops once the page is full.
     */
    inKeyOrder?: boolean
  },
): Sql {
  const n = Array.from({ length: width }, (_, i) => ident(`n${i}`))
  const tuple = (parts: Sql[]) => (parts.length === 1 ? (parts[0] as Sql) : sql`(${join(parts)})`)
  const kinds = options.kinds ?? ['added', 'deleted', 'modified']
  const conditions = [
    kinds.length === 0 ? raw('false') : sql`kd in (${join(kinds.map((k) => sql`${k}`))})`,
    ...(options.after ? [sql`${tuple(n)} > ${tuple(options.after.map((v) => sql`${v}`))}`] : []),
  ]
  const order = options.inKeyOrder ? raw('') : sql`order by ${join(n)}`
  return sql`select * from ${from} where ${join(conditions, ' and ')}
    ${order} limit ${options.limit + 1}`
}

/** A page's rows as DiffRows (report values as cells). */
export function toDiffRows(
  page: readonly Record<string, unknown>[],
  key: readonly string[],
  shape: DiffShape,
): DiffRow[] {
  return page.map((r) => {
    const rowKey = Object.fromEntries(key.map((k, i) => [k, toCell(r[`k${i}`])]))
    const before: Row | null =
      r.bp == null
        ? null
        : Object.fromEntries(shape.before.map((c, i) => [c.name, toCell(r[`b${i}`])]))
    const afterRow: Row | null =
      r.ap == null
        ? null
        : Object.fromEntries(shape.after.map((c, i) => [c.name, toCell(r[`a${i}`])]))
    const kind = before === null ? 'added' : afterRow === null ? 'deleted' : 'modified'
    const changed =
      kind === 'modified'
        ? shape.shared.filter((c) => before?.[c] !== afterRow?.[c])
        : Object.keys(before ?? afterRow ?? {})
    return { key: rowKey, kind, changed, before, after: afterRow }
  })
}

/** One page of changed rows in key order, after `cursor`, of the kinds asked. */
export async function diffPage(options: DiffOptions): Promise<DiffPage> {
  const { connection, key } = options
  const limit = options.limit ?? 100
  const after =
    options.cursor === undefined
      ? undefined
      : readDiffCursor(options.cursor, key.length, options.fingerprint)
  const { query, shape } = await diffRowsQuery(options)
  const page = await connection.all<Record<string, unknown>>(
    diffPageSql(sql`(${query}) d`, key.length, {
      limit,
      ...(after ? { after } : {}),
      ...(options.kinds ? { kinds: options.kinds } : {}),
    }),
  )
  const hasMore = page.length > limit
  const rows = toDiffRows(page.slice(0, limit), key, shape)
  const last = rows.at(-1)
  return {
    rows,
    hasMore,
    nextCursor:
      hasMore && last
        ? diffCursor(
            key.map((k) => last.key[k] ?? null),
            options.fingerprint,
          )
        : undefined,
  }
}

/**
 * The cursor after `key`: base64url of the key's values and the fingerprint of the inputs it
 * pages, so a cursor from other inputs (a moved head, a new revision) is refused, not misread.
 */
export function diffCursor(key: readonly Cell[], fingerprint?: string): string {
  return Buffer.from(JSON.stringify({ k: key, f: fingerprint ?? null })).toString('base64url')
}

/**
 * The key a cursor points after; INVALID_CURSOR when it is not one a diff of these inputs
 * (`fingerprint`) returned.
 */
export function readDiffCursor(cursor: string, width: number, fingerprint?: string): Cell[] {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    value = undefined
  }
  const v = value as { k?: unknown; f?: unknown } | undefined
  if (!v || !Array.isArray(v.k) || v.k.length !== width)
    throw new DuckmergeError(
      'INVALID_CURSOR',
      `The cursor "${cursor}" is not one a diff returned.`,
      {
        cursor,
        hint: 'Pass the {cursor} of the previous page unchanged, or start again without it.',
      },
    )
  if ((v.f ?? null) !== (fingerprint ?? null))
    throw new DuckmergeError(
      'INVALID_CURSOR',
      `The cursor "${cursor}" belongs to a diff of other inputs (they changed since that page).`,
      { cursor, hint: 'Start again without {cursor}.' },
    )
  return v.k as Cell[]
}

async function shapeOf(options: DiffOptions) {
  const { connection, key } = options
  const before = await columnsOf(connection, options.before)
  const after = await columnsOf(connection, options.after)
  const beforeCols = before.map((c) => c.name)
  const afterCols = after.map((c) => c.name)
  const afterSet = new Set(afterCols)
  const shared = beforeCols.filter((c) => afterSet.has(c) && !key.includes(c))
  return { before, after, beforeCols, afterCols, shared }
}

/** Where before and after rows sit side by side, and how to read each side's columns. */
interface Source {
  readonly from: Sql
  b(column: string): Sql
  a(column: string): Sql
  /** Non-NULL exactly when the side has the row. */
  readonly bp: Sql
  readonly ap: Sql
}

/** The full join of before and after on the key, or the caller's aligned rows. */
function sourceOf(options: DiffOptions): Source {
  const al = options.aligned
  if (al)
    return {
      // Keys neither side has (e.g. a delete of a missing row) are no rows of the diff.
      from: sql`(select * from ${relationSql(al.relation)} where ${al.beforePresent} or ${al.afterPresent}) x`,
      b: al.before,
      a: al.after,
      bp: sql`(case when ${al.beforePresent} then 1 end)`,
      ap: sql`(case when ${al.afterPresent} then 1 end)`,
    }
  const engine = options.connection.dialect.name
  return {
    from: sql`${marked(options.before, 'b', engine)} full join ${marked(options.after, 'a', engine)} on ${keyMatch('b', 'a', options.key)}`,
    b: (c) => sql`b.${ident(c)}`,
    a: (c) => sql`a.${ident(c)}`,
    bp: present('b', engine),
    ap: present('a', engine),
  }
}
