/**
 * Schema union of one table: which theirs columns ours lacks (added, older rows NULL), which shared
 * columns widen, and which clash. Columns are matched by name, never by position.
 */
import {
  type ColumnInfo,
  type Connection,
  declaredType,
  type TableInfo,
} from '../engine/dialect.js'
import { ident, join, qualified, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import type { SideNames } from './table-key.js'

export interface SchemaPlan {
  /** True when ours has no such table: it is created with theirs' columns and primary key. */
  readonly create: boolean
  /** Theirs' columns, inserted by name. */
  readonly columns: readonly string[]
  /** Columns only theirs has, appended to ours in theirs' order. */
  readonly addColumns: readonly ColumnInfo[]
  /** Ours' columns whose type widens to hold theirs' values (static typing only). */

  readonly retype: readonly { readonly column: string; readonly to: string }[]
}

export interface SchemaInput {
  readonly connection: Connection
  /** Schema (SQLite) or catalog (DuckDB) names of both sides. */
  readonly schemas: SideNames
  readonly ours: TableInfo | undefined
  readonly theirs: TableInfo
  readonly names: SideNames
}

/**
 * Compares the two sides of one table and says what ours needs before theirs' rows fit, or throws
 * SCHEMA_MISMATCH naming table, column and both types.
 *
 * Static typing (DuckDB): INTEGER + DOUBLE → DOUBLE, the ours column is altered.
 * Dynamic typing (SQLite): the ours declaration stays; theirs' stored values are checked, and
 * only a conversion that would change a value between number and text is refused.
 *
 * @example
 * await planSchema({ connection, schemas: { ours: 'main', theirs: 'theirs' }, ours, theirs, names })
 * // { create: false, columns: [...], addColumns: [{ name: 'batch_size', type: 'INTEGER', … }], retype: [] }
 */
export async function planSchema(input: SchemaInput): Promise<SchemaPlan> {
  const { ours, theirs } = input
  const columns = theirs.columns.map((c) => c.name)
  if (!ours) return { create: true, columns, addColumns: [], retype: [] }
  // Both engines match column names case-insensitively: theirs' `acc` is ours' `Acc`, whose
  // spelling stays (issue 14; adding `acc` beside `Acc` fails as a duplicate column).
  const oursByName = new Map(ours.columns.map((c) => [c.name.toLowerCase(), c]))
  const addColumns = theirs.columns.filter((c) => !oursByName.has(c.name.toLowerCase()))
  const shared = theirs.columns.flatMap((c) => {
    const b = oursByName.get(c.name.toLowerCase())
    return b ? [{ ours: b, theirs: c }] : []
  })
  if (input.connection.dialect.typing === 'dynamic') await checkStoredValues(input, shared)
  const retype = input.connection.dialect.typing === 'static' ? widenStatic(input, shared) : []
  return { create: false, columns, addColumns, retype }
}

interface SharedColumn {
  readonly ours: ColumnInfo
  readonly theirs: ColumnInfo
}

function widenStatic(input: SchemaInput, shared: readonly SharedColumn[]): SchemaPlan['retype'] {
  const { dialect } = input.connection
  return shared.flatMap(({ ours, theirs }) => {
    const to = dialect.widen(ours.type, theirs.type)
    if (to === undefined)
      throw mismatch(
        input,
        ours,
        theirs,
        'these types do not widen (integers widen to a wider integer, integer and floating point to DOUBLE; anything else must match)',
      )
    return to.toUpperCase() === ours.type.toUpperCase() ? [] : [{ column: ours.name, to }]
  })
}

/**
 * SQLite applies the ours column's affinity to each inserted value: a number stored into a TEXT
 * column becomes text, a numeric-looking text into an INTEGER/REAL/NUMERIC column becomes a
 * number (https://sqlite.org/datatype3.html, 3. Type Affinity). Those change values, so they are
 * refused. INTEGER into REAL (1 → 1.0) and REAL into INTEGER (0.5 stays 0.5) keep the value.
 * Columns of the same affinity need no check: theirs' values already went through it.
 */
async function checkStoredValues(input: SchemaInput, shared: readonly SharedColumn[]) {
  const { dialect } = input.connection
  const checked = shared
    .map((s) => ({ ...s, family: dialect.typeFamily(s.ours.type) }))
    .filter((s) => s.family !== 'blob' && s.family !== dialect.typeFamily(s.theirs.type))
  if (checked.length === 0) return
  const counts = checked.map(({ theirs, family }, i) => {
    const column = ident(theirs.name)
    const bad =
      family === 'text'
        ? sql`typeof(${column}) in ('integer', 'real')`
        : sql`typeof(${column}) = 'text'`
    return sql`coalesce(sum(${bad}), 0) as ${ident(`c${i}`)}`
  })
  const [row] = await input.connection.all<Record<string, number>>(
    sql`select ${join(counts)} from ${qualified(input.schemas.theirs, input.theirs.name)}`,
  )
  checked.forEach(({ ours, theirs, family }, i) => {
    const n = Number(row?.[`c${i}`] ?? 0)
    if (n === 0) return
    const what =
      family === 'text'
        ? `${input.names.theirs} holds ${n} numeric value(s) that SQLite would store as text`
        : `${input.names.theirs} holds ${n} text value(s) that SQLite would convert to numbers`
    throw mismatch(input, ours, theirs, what)
  })
}

function mismatch(input: SchemaInput, ours: ColumnInfo, theirs: ColumnInfo, why: string) {
  const table = input.theirs.name
  return new DuckmergeError(
    'SCHEMA_MISMATCH',
    `Column "${ours.name}" of table "${table}" is ${ours.type || '(no type)'} in ${input.names.ours} but ${theirs.type || '(no type)'} in ${input.names.theirs}: ${why}.`,
    {
      table,
      column: ours.name,
      oursType: ours.type,
      theirsType: theirs.type,
      hint: 'Convert the column on one side, or leave the table out of {tables}.',
    },
  )
}

/** Creates, extends or widens ours' table so theirs' rows fit (the writes of `planSchema`). */
export async function applySchema(input: SchemaInput, plan: SchemaPlan): Promise<void> {
  const { connection, schemas, theirs } = input
  const table = qualified(schemas.ours, theirs.name)
  const where = (c: ColumnInfo) => `${theirs.name}.${c.name}`
  if (plan.create) {
    const defs = theirs.columns.map(
      (c) =>
        sql`${ident(c.name)} ${declaredType(c.type, where(c))}${c.notNull ? sql` not null` : sql``}`,
    )
    if (theirs.primaryKey.length > 0)
      defs.push(sql`primary key (${join(theirs.primaryKey.map((k) => ident(k)))})`)
    await connection.run(sql`create table ${table} (${join(defs)})`)
    return
  }
  // NOT NULL is left off: ours' older rows have no value for a new column.
  for (const c of plan.addColumns)
    await connection.run(
      sql`alter table ${table} add column ${ident(c.name)} ${declaredType(c.type, where(c))}`,
    )
  for (const r of plan.retype)
    await connection.run(
      sql`alter table ${table} alter column ${ident(r.column)} set data type ${declaredType(r.to, `${theirs.name}.${r.column}`)}`,
    )
}
