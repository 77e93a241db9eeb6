/**
 * Row- and cell-level diff of two keyed relations in one connection (DuckDB or SQLite): a
 * summary in the shape of Dolt's diff stat, and changed rows paged by key with an opaque cursor.
 * One full join per call; no row passes through JS but the page.
 */
import { ident, join, raw, type Sql, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import { columnsOf, keyMatch, marked, present, toCell } from './three-way-sql.js'
import type { Cell, DiffOptions, DiffResult, DiffRow, Row } from './three-way-types.js'

/**
 * @example
 * const { summary, rows, nextCursor } = await diffRelations({ connection, key: ['id'],
 *   before: { schema: 'base', name: 'runs' }, after: { schema: 'main', name: 'runs' }, limit: 100 })
 */
export async function diffRelations(options: DiffOptions): Promise<DiffResult> {
  const { connection, key } = options
  const engine = connection.dialect.name
  const beforeCols = (await columnsOf(connection, options.before)).map((c) => c.name)
  const afterCols = (await columnsOf(connection, options.after)).map((c) => c.name)
  const shared = beforeCols.filter((c) => afterCols.includes(c) && !key.includes(c))
  const onlyBefore = beforeCols.filter((c) => !afterCols.includes(c))
  const onlyAfter = afterCols.filter((c) => !beforeCols.includes(c))
  const from = sql`${marked(options.before, 'b', engine)} full join ${marked(options.after, 'a', engine)} on ${keyMatch('b', 'a', key)}`
  const differs = (c: string) => sql`b.${ident(c)} is distinct from a.${ident(c)}`
  const anyDiffers = shared.length > 0 ? join(shared.map(differs), ' or ') : raw('false')
  const both = sql`${present('b', engine)} is not null and ${present('a', engine)} is not null`
  const [s] = await connection.all<Record<string, unknown>>(
    sql`select count(${present('b', engine)}) as old_rows, count(${present('a', engine)}) as new_rows,
        sum(case when ${present('b', engine)} is null then 1 else 0 end) as added,
        sum(case when ${present('a', engine)} is null then 1 else 0 end) as deleted,
        sum(case when ${both} and (${anyDiffers}) then 1 else 0 end) as modified
        ${shared.length > 0 ? sql`, ${join(shared.map((c, i) => sql`sum(case when ${both} and ${differs(c)} then 1 else 0 end) as ${ident(`c${i}`)}`))}` : raw('')}
      from ${from}`,
  )
  const n = (v: unknown) => Number(v ?? 0)
  const columns = Object.fromEntries(shared.map((c, i) => [c, { modified: n(s?.[`c${i}`]) }]))
  const summary = {
    rowsAdded: n(s?.added),
    rowsDeleted: n(s?.deleted),
    rowsModified: n(s?.modified),
    rowsUnmodified: n(s?.old_rows) - n(s?.deleted) - n(s?.modified),
    cellsModified: Object.values(columns).reduce((t, c) => t + c.modified, 0),
    oldRowCount: n(s?.old_rows),
    newRowCount: n(s?.new_rows),
    columns,
    columnsAdded: onlyAfter,
    columnsDeleted: onlyBefore,
  }
  const limit = options.limit ?? 100
  if (limit === 0) return { summary, rows: [], nextCursor: undefined, hasMore: false }

  const keyOut = key.map((k, i) => sql`coalesce(a.${ident(k)}, b.${ident(k)}) as ${ident(`k${i}`)}`)
  const keyTuple = (prefix: Sql[]) =>
    prefix.length === 1 ? (prefix[0] as Sql) : sql`(${join(prefix)})`
  const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, key.length)
  const cursorFilter = after
    ? sql` and ${keyTuple(key.map((k) => sql`coalesce(a.${ident(k)}, b.${ident(k)})`))} > ${keyTuple(after.map((v) => sql`${v}`))}`
    : raw('')
  const page = await connection.all<Record<string, unknown>>(
    sql`select ${join([
      ...keyOut,
      sql`${present('b', engine)} as bp`,
      sql`${present('a', engine)} as ap`,
      ...beforeCols.map((c, i) => sql`b.${ident(c)} as ${ident(`b${i}`)}`),
      ...afterCols.map((c, i) => sql`a.${ident(c)} as ${ident(`a${i}`)}`),
    ])}
    from ${from}
    where (${present('b', engine)} is null or ${present('a', engine)} is null or (${anyDiffers}))${cursorFilter}
    order by ${join(key.map((_, i) => ident(`k${i}`)))}
    limit ${limit + 1}`,
  )
  const hasMore = page.length > limit
  const rows: DiffRow[] = page.slice(0, limit).map((r) => {
    const rowKey = Object.fromEntries(key.map((k, i) => [k, toCell(r[`k${i}`])]))
    const before: Row | null =
      r.bp == null ? null : Object.fromEntries(beforeCols.map((c, i) => [c, toCell(r[`b${i}`])]))
    const afterRow: Row | null =
      r.ap == null ? null : Object.fromEntries(afterCols.map((c, i) => [c, toCell(r[`a${i}`])]))
    const kind = before === null ? 'added' : afterRow === null ? 'deleted' : 'modified'
    const changed =
      kind === 'modified'
        ? shared.filter((c) => before?.[c] !== afterRow?.[c])
        : Object.keys(before ?? afterRow ?? {})
    return { key: rowKey, kind, changed, before, after: afterRow }
  })
  const last = rows.at(-1)
  return {
    summary,
    rows,
    hasMore,
    nextCursor: hasMore && last ? encodeCursor(key.map((k) => last.key[k] ?? null)) : undefined,
  }
}

function encodeCursor(values: readonly Cell[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url')
}

function decodeCursor(cursor: string, width: number): Cell[] {
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    if (Array.isArray(values) && values.length === width) return values as Cell[]
  } catch {
    // fall through to the error below
  }
  throw new DuckmergeError('USAGE', `The cursor "${cursor}" is not one this diff returned.`, {
    cursor,
    hint: 'Pass the {cursor} of the previous page unchanged.',
  })
}
