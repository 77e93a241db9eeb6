/**
 * Column names and types of Parquet sources, read from file footers only, and the union schema
 * of ours and theirs (by column name), with unsafe type changes refused before any data is read.
 */

import type { DuckDb } from '../../engine/duckdb.js'
import { join, type Sql, sql } from '../../engine/sql.js'
import { castsLosslessly } from '../../engine/type-rules.js'
import { DuckmergeError, messageOf } from '../../errors.js'
import { type ParquetSource, readParquetSql, shownPath } from './source.js'

export interface Column {
  readonly name: string
  /** DuckDB's type, as DESCRIBE prints it, e.g. 'BIGINT', 'DECIMAL(10,2)', 'VARCHAR[]'. */
  readonly type: string
}

export interface UnionSchema {
  /** Ours' columns in its order, then theirs-only columns in theirs order. */
  readonly columns: readonly Column[]
  readonly ours: readonly Column[]
  readonly theirs: readonly Column[]
  /** Names only theirs has (NULL in ours rows of the result). */
  readonly added: readonly string[]
  /** Columns whose type differs between the sides and was widened safely. */
  readonly widened: readonly { column: string; ours: string; theirs: string; type: string }[]
  /** Rebase: columns whose type differs, given theirs' type (ours values are cast to it). */
  readonly retyped: readonly TypeChange[]
}

/** A column both sides have whose type differs: `from` is ours' type, `to` the result's. */
export interface TypeChange {
  readonly column: string
  readonly from: string
  readonly to: string
}

/**
 * The columns of a source (hive partition columns last). Throws INPUT_UNREADABLE naming the
 * first file DuckDB cannot read.
 *
 * @example
 * await describeParquet(db, ours) // [{ name: 'id', type: 'BIGINT' }, { name: 'year', type: 'BIGINT' }]
 */
export async function describeParquet(db: DuckDb, source: ParquetSource): Promise<Column[]> {
  let columns: Column[]
  try {
    columns = await describe(db, sql`select * from ${readParquetSql(source)}`)
  } catch (error) {
    throw await unreadable(db, source, error)
  }
  await assertNoCaseTwins(db, source, columns)
  return columns
}

/**
 * DuckDB reads a file holding both `Id` and `ID` as `Id` and `ID_1`: column names are
 * case-insensitive, so the second is renamed without a word and would merge as another column.
 * Only when a name looks renamed so are the files' own names read (footers only), and a file
 * holding two names equal but for case is refused naming both (issue 14).
 */
async function assertNoCaseTwins(
  db: DuckDb,
  source: ParquetSource,
  columns: readonly Column[],
): Promise<void> {
  const names = new Set(columns.map((c) => c.name.toLowerCase()))
  const renamed = columns.some((c) => {
    const m = /^(.*)_\d+$/.exec(c.name)
    return m?.[1] !== undefined && names.has(m[1].toLowerCase())
  })
  if (!renamed) return
  const rows = await db.all<{ file_name: string; name: string }>(
    sql`select file_name, name from parquet_schema([${join(source.files.map((f) => sql`${f}`))}]) where num_children is null`,
  )
  const seen = new Map<string, string>()
  for (const { file_name: file, name } of rows) {
    const twin = seen.get(`${file}\0${name.toLowerCase()}`)
    if (twin !== undefined && twin !== name)
      throw new DuckmergeError(
        'SCHEMA_MISMATCH',
        `${shownPath(source, file)} has columns "${twin}" and "${name}", which differ only in case; DuckDB, SQLite and Delta treat them as one column.`,
        {
          side: source.side,
          path: shownPath(source, file),
          columns: [twin, name],
          hint: 'Rename one of them.',
        },
      )
    seen.set(`${file}\0${name.toLowerCase()}`, name)
  }
}

/**
 * Ours and theirs unioned by column name, as DuckDB's UNION ALL BY NAME reads them. Types:
 * - `'widen'` (merge): a column whose type differs gets the type both cast into without loss;
 *   SCHEMA_MISMATCH names the column and both types when there is none;
 * - `'theirs'` (rebase: the newer side replaces): theirs' type wins, listed in `retyped`; whether
 *   the ours values kept convert is checked against the data (data-checks.ts).
 *
 * @example
 * const schema = await unionSchema(db, ours, theirs, 'widen')
 * schema.added   // ['lr']: only theirs has it
 */
export async function unionSchema(
  db: DuckDb,
  ours: ParquetSource,
  theirs: ParquetSource,
  types: 'widen' | 'theirs',
): Promise<UnionSchema> {
  const oursColumns = await describeParquet(db, ours)
  const theirsColumns = await describeParquet(db, theirs)
  const oursByName = new Map(oursColumns.map((c) => [c.name.toLowerCase(), c]))
  const theirsByName = new Map(theirsColumns.map((c) => [c.name.toLowerCase(), c]))
  const added = theirsColumns
    .filter((c) => !oursByName.has(c.name.toLowerCase()))
    .map((c) => c.name)
  if (types === 'theirs') {
    // Ours' columns in ours' order with theirs' type where theirs has them, then theirs' new ones:
    // the order UNION ALL BY NAME gives, without asking DuckDB for a common type.
    const retyped: TypeChange[] = []
    const columns = oursColumns.map((b) => {
      const e = theirsByName.get(b.name.toLowerCase())
      if (!e || e.type === b.type) return b
      retyped.push({ column: b.name, from: b.type, to: e.type })
      return { name: b.name, type: e.type }
    })
    columns.push(...theirsColumns.filter((c) => !oursByName.has(c.name.toLowerCase())))
    return { columns, ours: oursColumns, theirs: theirsColumns, added, widened: [], retyped }
  }
  let columns: Column[]
  try {
    columns = await describe(
      db,
      sql`select * from ${readParquetSql(ours)} union all by name select * from ${readParquetSql(theirs)}`,
    )
  } catch (error) {
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot union the columns of ${ours.path} and ${theirs.path}: ${firstLine(messageOf(error))}`,
      { ours: ours.path, theirs: theirs.path },
      { cause: error },
    )
  }
  const widened: { column: string; ours: string; theirs: string; type: string }[] = []
  for (const column of columns) {
    const b = oursByName.get(column.name.toLowerCase())
    const e = theirsByName.get(column.name.toLowerCase())
    if (!b || !e || b.type === e.type) continue
    // DuckDB's UNION BY NAME would also read INTEGER and VARCHAR as VARCHAR: both sides must
    // cast into the union's type without loss (engine/type-rules.ts, the rule every merge shares).
    if (!castsLosslessly(b.type, column.type) || !castsLosslessly(e.type, column.type))
      throw new DuckmergeError(
        'SCHEMA_MISMATCH',
        `Column "${column.name}" is ${b.type} in ${ours.path} but ${e.type} in ${theirs.path}; that is not a safe widening. Rewrite one side with a common type or rename the column.`,
        { column: column.name, oursType: b.type, theirsType: e.type },
      )
    widened.push({ column: column.name, ours: b.type, theirs: e.type, type: column.type })
  }
  return {
    columns,
    ours: oursColumns,
    theirs: theirsColumns,
    added,
    widened,
    retyped: [],
  }
}

/** The first line of a DuckDB message, without its `LINE 1: …` query excerpt. */
export function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message
}

async function describe(db: DuckDb, query: Sql): Promise<Column[]> {
  const rows = await db.all<{ column_name: string; column_type: string }>(sql`describe ${query}`)
  return rows.map((r) => ({ name: r.column_name, type: r.column_type }))
}

/** Names the file at fault: DuckDB's own message often does not (e.g. a Thrift decode error). */
async function unreadable(
  db: DuckDb,
  source: ParquetSource,
  error: unknown,
): Promise<DuckmergeError> {
  for (const file of source.files.length > 1 ? source.files : []) {
    try {
      await describe(db, sql`select * from read_parquet([${file}])`)
    } catch (fileError) {
      return new DuckmergeError(
        'INPUT_UNREADABLE',
        `${file} is not readable Parquet: ${firstLine(messageOf(fileError))}. Rewrite or remove it.`,
        { side: source.side, path: file },
        { cause: fileError },
      )
    }
  }
  const only = source.files.length === 1 ? source.files[0] : undefined
  const file = only === undefined ? source.path : shownPath(source, only)
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `${only === undefined ? 'Dataset ' : ''}${file} is not readable Parquet: ${firstLine(messageOf(error))}. Rewrite or remove it.`,

    { side: source.side, path: file },
    { cause: error },
  )
}
