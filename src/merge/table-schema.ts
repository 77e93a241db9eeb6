/**
 * Schema union of one table: which exp columns base lacks (added, older rows NULL), which shared
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
  /** True when base has no such table: it is created with exp's columns and primary key. */
  readonly create: boolean
  /** Exp's columns, inserted by name. */
  readonly columns: readonly string[]
  /** Columns only exp has, appended to base in exp's order. */
  readonly addColumns: readonly ColumnInfo[]
  /** Base columns whose type widens to hold exp's values (static typing only). */
  readonly retype: readonly { readonly column: string; readonly to: string }[]
}

export interface SchemaInput {
  readonly connection: Connection
  /** Schema (SQLite) or catalog (DuckDB) names of both sides. */
  readonly schemas: SideNames
  readonly base: TableInfo | undefined
  readonly exp: TableInfo
  readonly names: SideNames
}

/**
 * Compares the two sides of one table and says what base needs before exp's rows fit, or throws
 * SCHEMA_MISMATCH naming table, column and both types.
 *
 * Static typing (DuckDB): INTEGER + DOUBLE → DOUBLE, the base column is altered.
 * Dynamic typing (SQLite): the base declaration stays; exp's stored values are checked, and
 * only a conversion that would change a value between number and text is refused.
 *
 * @example
 * await planSchema({ connection, schemas: { base: 'main', exp: 'exp' }, base, exp, names })
 * // { create: false, columns: [...], addColumns: [{ name: 'batch_size', type: 'INTEGER', … }], retype: [] }
 */
export async function planSchema(input: SchemaInput): Promise<SchemaPlan> {
  const { base, exp } = input
  const columns = exp.columns.map((c) => c.name)
  if (!base) return { create: true, columns, addColumns: [], retype: [] }
  // Both engines match column names case-insensitively: exp's `acc` is base's `Acc`, whose
  // spelling stays (issue 14; adding `acc` beside `Acc` fails as a duplicate column).
  const baseByName = new Map(base.columns.map((c) => [c.name.toLowerCase(), c]))
  const addColumns = exp.columns.filter((c) => !baseByName.has(c.name.toLowerCase()))
  const shared = exp.columns.flatMap((c) => {
    const b = baseByName.get(c.name.toLowerCase())
    return b ? [{ base: b, exp: c }] : []
  })
  if (input.connection.dialect.typing === 'dynamic') await checkStoredValues(input, shared)
  const retype = input.connection.dialect.typing === 'static' ? widenStatic(input, shared) : []
  return { create: false, columns, addColumns, retype }
}

interface SharedColumn {
  readonly base: ColumnInfo
  readonly exp: ColumnInfo
}

function widenStatic(input: SchemaInput, shared: readonly SharedColumn[]): SchemaPlan['retype'] {
  const { dialect } = input.connection
  return shared.flatMap(({ base, exp }) => {
    const to = dialect.widen(base.type, exp.type)
    if (to === undefined)
      throw mismatch(
        input,
        base,
        exp,
        'these types do not widen (integers widen to a wider integer, integer and floating point to DOUBLE; anything else must match)',
      )
    return to.toUpperCase() === base.type.toUpperCase() ? [] : [{ column: base.name, to }]
  })
}

/**
 * SQLite applies the base column's affinity to each inserted value: a number stored into a TEXT
 * column becomes text, a numeric-looking text into an INTEGER/REAL/NUMERIC column becomes a
 * number (https://sqlite.org/datatype3.html, 3. Type Affinity). Those change values, so they are
 * refused. INTEGER into REAL (1 → 1.0) and REAL into INTEGER (0.5 stays 0.5) keep the value.
 * Columns of the same affinity need no check: exp's values already went through it.
 */
async function checkStoredValues(input: SchemaInput, shared: readonly SharedColumn[]) {
  const { dialect } = input.connection
  const checked = shared
    .map((s) => ({ ...s, family: dialect.typeFamily(s.base.type) }))
    .filter((s) => s.family !== 'blob' && s.family !== dialect.typeFamily(s.exp.type))
  if (checked.length === 0) return
  const counts = checked.map(({ exp, family }, i) => {
    const column = ident(exp.name)
    const bad =
      family === 'text'
        ? sql`typeof(${column}) in ('integer', 'real')`
        : sql`typeof(${column}) = 'text'`
    return sql`coalesce(sum(${bad}), 0) as ${ident(`c${i}`)}`
  })
  const [row] = await input.connection.all<Record<string, number>>(
    sql`select ${join(counts)} from ${qualified(input.schemas.exp, input.exp.name)}`,
  )
  checked.forEach(({ base, exp, family }, i) => {
    const n = Number(row?.[`c${i}`] ?? 0)
    if (n === 0) return
    const what =
      family === 'text'
        ? `exp holds ${n} numeric value(s) that SQLite would store as text`
        : `exp holds ${n} text value(s) that SQLite would convert to numbers`
    throw mismatch(input, base, exp, what)
  })
}

function mismatch(input: SchemaInput, base: ColumnInfo, exp: ColumnInfo, why: string) {
  const table = input.exp.name
  return new DuckmergeError(
    'SCHEMA_MISMATCH',
    `Column "${base.name}" of table "${table}" is ${base.type || '(no type)'} in base ${input.names.base} but ${exp.type || '(no type)'} in exp ${input.names.exp}: ${why}.`,
    {
      table,
      column: base.name,
      baseType: base.type,
      expType: exp.type,
      hint: 'Convert the column on one side, or leave the table out of {tables}.',
    },
  )
}

/** Creates, extends or widens base's table so exp's rows fit (the writes of `planSchema`). */
export async function applySchema(input: SchemaInput, plan: SchemaPlan): Promise<void> {
  const { connection, schemas, exp } = input
  const table = qualified(schemas.base, exp.name)
  const where = (c: ColumnInfo) => `${exp.name}.${c.name}`
  if (plan.create) {
    const defs = exp.columns.map(
      (c) =>
        sql`${ident(c.name)} ${declaredType(c.type, where(c))}${c.notNull ? sql` not null` : sql``}`,
    )
    if (exp.primaryKey.length > 0)
      defs.push(sql`primary key (${join(exp.primaryKey.map((k) => ident(k)))})`)
    await connection.run(sql`create table ${table} (${join(defs)})`)
    return
  }
  // NOT NULL is left off: base's older rows have no value for a new column.
  for (const c of plan.addColumns)
    await connection.run(
      sql`alter table ${table} add column ${ident(c.name)} ${declaredType(c.type, where(c))}`,
    )
  for (const r of plan.retype)
    await connection.run(
      sql`alter table ${table} alter column ${ident(r.column)} set data type ${declaredType(r.to, `${exp.name}.${r.column}`)}`,
    )
}
