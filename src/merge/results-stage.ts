/**
 * Mixing engines (SQLite ours with DuckDB theirs, or the reverse): theirs' tables are copied in
 * batches into the ours connection's scratch schema, typed for ours' engine, so the table
 * strategies then run unchanged with that schema as theirs.
 *
 *   theirs (own connection, read-only) ─ stream 2048-row batches ─▶ ours connection temp."t" ─▶ merge/rebase
 */
import type { ColumnInfo, Connection, TableInfo, TypeFamily } from '../engine/dialect.js'
import { declaredType } from '../engine/dialect.js'
import { ident, identList, join, qualified, type Sql, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import type { ProgressCallback } from '../progress.js'
import type { SideNames } from './table-key.js'

export interface StageInput {
  /** Theirs, opened alone. */
  readonly source: Connection
  readonly sourceSchema: string
  /** The ours connection; tables land in its `dialect.scratchSchema`. */
  readonly target: Connection
  readonly oursSchema: string
  readonly tables?: readonly string[] | undefined
  readonly names: SideNames
  readonly onProgress?: ProgressCallback | undefined
  readonly signal?: AbortSignal | undefined
}

/**
 * The tables to process: `requested` (each must exist in theirs) or every table of theirs.
 *
 * @example
 * selectTables(['metrics'], ['predictions', 'metrics'], names) // ['metrics']
 */
export function selectTables(
  requested: readonly string[] | undefined,
  available: readonly string[],
  names: SideNames,
): readonly string[] {
  if (!requested || requested.length === 0) return available
  for (const table of requested)
    if (!available.includes(table))
      throw new DuckmergeError(
        'TABLE_NOT_FOUND',
        `Table "${table}" not found in ${names.theirs} (its tables: ${available.join(', ') || 'none'}).`,
        {
          side: 'theirs',
          table,
          file: names.theirs,
          tables: available,
          hint: 'Choose {tables} among them.',
        },
      )
  return requested
}

/**
 * Copies the selected theirs tables into the target's scratch schema. A column keeps ours' type
 * when ours has it and the values fit; otherwise it gets the target engine's type for what theirs
 * actually stores (SQLite: by storage class, so a TEXT column of numbers stays numbers).
 *
 * @example
 * await stageTables({ source, sourceSchema: 'main', target, oursSchema: 'ours', names })
 * // DuckDB: temp."predictions" now holds theirs' rows
 */
export async function stageTables(input: StageInput): Promise<void> {
  const { source, target } = input
  const tables = selectTables(input.tables, await source.tables(input.sourceSchema), input.names)
  for (const table of tables) {
    const info = (await source.describe(input.sourceSchema, table)) as TableInfo
    const ours = await target.describe(input.oursSchema, table)
    const families = await storedFamilies(input, info)
    const columns = info.columns.map((c, i) => stagedColumn(input, c, families[i], ours))
    const defs = columns.map(
      (c) => sql`${ident(c.name)} ${declaredType(c.type, `${table}.${c.name}`)}`,
    )
    if (info.primaryKey.length > 0) defs.push(sql`primary key (${identList(info.primaryKey)})`)
    const staged = qualified(target.dialect.scratchSchema, table)
    await target.run(sql`create temp table ${staged} (${join(defs)})`)

    const from = qualified(input.sourceSchema, table)
    const [total] = await source.all<{ n: number | bigint }>(sql`select count(*) as n from ${from}`)
    const read = join(info.columns.map((c) => readExpression(source, c)))
    let done = 0
    for await (const batch of source.stream(sql`select ${read} from ${from}`)) {
      await target.insertRows(target.dialect.scratchSchema, table, batch)
      done += batch.length
      input.onProgress?.({
        phase: `copying ${table} from ${input.names.theirs}`,
        done,
        total: Number(total?.n ?? done),
        unit: 'rows',
      })
      if (input.signal?.aborted) return
    }
    // @duckdb/node-api can end a stream early without an error when a read fails on another
    // thread (seen with a damaged block: 6 of 20 runs read 0 rows and no error): the count
    // read before is the check that every row came along.
    const expected = Number(total?.n ?? done)
    if (done !== expected)
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `Reading table "${table}" of ${input.names.theirs} stopped after ${done} of its ${expected} rows; the file may be damaged.`,
        { side: 'theirs', table, file: input.names.theirs, rowsRead: done, rows: expected },
      )
  }
}

/**
 * What each column holds. A statically typed engine: its declared family (DATE, nested types
 * and the like travel as text, DECIMAL as a float). SQLite: the storage classes present, so a
 * column declared TEXT that holds only floats is a float column. Undefined: only NULLs.
 */
async function storedFamilies(
  input: StageInput,
  info: TableInfo,
): Promise<(TypeFamily | undefined)[]> {
  const { source } = input
  if (source.dialect.typing === 'static')
    return info.columns.map((c) => {
      const family = source.dialect.typeFamily(c.type)
      return family === 'other' ? 'text' : family === 'numeric' ? 'real' : family
    })
  const classes = ['integer', 'real', 'text', 'blob'] as const
  const counts = info.columns.flatMap((c, i) =>
    classes.map(
      (k) => sql`coalesce(sum(typeof(${ident(c.name)}) = ${k}), 0) as ${ident(`${k}${i}`)}`,
    ),
  )
  const [row] = await source.all<Record<string, number>>(
    sql`select ${join(counts)} from ${qualified(input.sourceSchema, info.name)}`,
  )
  return info.columns.map((c, i) => {
    const has = (k: (typeof classes)[number]) => Number(row?.[`${k}${i}`] ?? 0) > 0
    const present = classes.filter(has)
    if (present.length === 0) return undefined
    if (present.every((k) => k === 'integer')) return 'integer'
    if (present.every((k) => k === 'integer' || k === 'real')) return 'real'
    if (present.length === 1) return present[0] === 'text' ? 'text' : 'blob'
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Column "${c.name}" of table "${info.name}" in ${input.names.theirs} holds ${present.join(' and ')} values together; a ${input.target.dialect.name} column holds one type.`,
      {
        side: 'theirs',
        file: input.names.theirs,
        table: info.name,
        column: c.name,
        storageClasses: present,
        hint: 'Make the column consistent, or leave the table out of {tables}.',
      },
    )
  })
}

function stagedColumn(
  { source, target }: StageInput,
  column: ColumnInfo,
  family: TypeFamily | undefined,
  ours: TableInfo | undefined,
): ColumnInfo {
  const oursType = ours?.columns.find((b) => b.name === column.name)?.type
  const oursFamily = oursType === undefined ? undefined : target.dialect.typeFamily(oursType)
  const fits =
    oursType !== undefined &&
    (family === undefined ||
      oursFamily === family ||
      (oursFamily === 'real' && family === 'integer'))
  // Only NULLs and no ours column: the declaration's family, as the source engine reads it.
  const fallback = family ?? source.dialect.typeFamily(column.type)
  return {
    name: column.name,
    type: fits ? oursType : target.dialect.columnType(fallback === 'other' ? 'text' : fallback),
    notNull: false,
  }
}

/** How a column is read for another engine: as stored, or cast to what the target can bind. */
function readExpression(source: Connection, column: ColumnInfo): Sql {
  const name = ident(column.name)
  if (source.dialect.typing === 'dynamic') return name
  switch (source.dialect.typeFamily(column.type)) {
    case 'other':
      return sql`cast(${name} as varchar)`
    case 'numeric':
      return sql`cast(${name} as double)`
    case 'boolean':
      return sql`cast(${name} as integer)`
    default:
      return name
  }
}
