/** What a MERGE checks before reading any data: the schema after mergeSchema, key columns, star clauses. */
import type { DuckDb } from '../../../../engine/duckdb.js'
import { ident, join, type Sql, sql } from '../../../../engine/sql.js'
import { integerWidth, widenType } from '../../../../engine/type-rules.js'
import { DuckmergeError, type Issue } from '../../../../errors.js'
import {
  type DataType,
  deltaToDuckDbType,
  duckDbToDeltaType,
  type StructType,
  typeToString,
} from '../../schema.js'
import type { Snapshot } from '../../snapshot-types.js'
import { checkInvariants } from '../write-context.js'
import { assignedColumns, type MergeClause } from './clauses.js'
import type { ResolvedSource } from './source.js'

/**
 * The table schema after mergeSchema: source columns the table lacks are appended (nullable)
 * when a clause writes them, as in Spark: every such column when an update-all or insert-all
 * clause takes the source's columns, else only those an explicit assignment names. A source
 * column no clause writes (an `_op` marker read only by conditions) stays out of the table.
 * Names match case-insensitively, keeping the table's spelling (Delta, Spark and DuckDB resolve
 * column names so): a source `ACC` is the table's `Acc`, never a second column.
 */
export function evolveSchema(
  table: string,
  snapshot: Snapshot,
  source: ResolvedSource,
  clauses: readonly MergeClause[],
  mergeSchema: boolean,
): { schema: StructType; columnsAdded: string[] } {
  if (!mergeSchema) return { schema: snapshot.schema, columnsAdded: [] }
  const known = new Set(snapshot.schema.fields.map((f) => f.name.toLowerCase()))
  const written = writtenColumns(clauses)
  const added = source.columns.filter(
    (c) =>
      !known.has(c.name.toLowerCase()) && (written === 'all' || written.has(c.name.toLowerCase())),
  )
  return {
    schema: {
      type: 'struct',
      fields: [
        ...snapshot.schema.fields,
        ...added.map((c) => ({
          name: c.name,
          type: deltaTypeOf(table, source, c),
          nullable: true,
          metadata: {},
        })),
      ],
    },
    columnsAdded: added.map((c) => c.name),
  }
}

/** The columns the clauses write: 'all' when a star clause takes every source column, else the assigned names (lower case). */
function writtenColumns(clauses: readonly MergeClause[]): 'all' | Set<string> {
  const names = new Set<string>()
  for (const clause of clauses) {
    if (clause.action === 'delete') continue
    const assignments = clause.kind === 'notMatched' ? clause.values : clause.set
    if (assignments === 'all') return 'all'
    for (const name of assignedColumns(clause)) names.add(name.toLowerCase())
  }
  return names
}

/** The source's column names in the table's spelling where the table has the column. */
export function sourceColumnsAs(schema: StructType, source: ResolvedSource): string[] {
  const spelling = new Map(schema.fields.map((f) => [f.name.toLowerCase(), f.name]))
  return source.columns.map((c) => spelling.get(c.name.toLowerCase()) ?? c.name)
}

export function checkKeys(
  table: string,
  source: ResolvedSource,
  snapshot: Snapshot,
  keys: readonly string[],
): void {
  if (keys.length === 0)
    throw new DuckmergeError('USAGE', `Cannot merge into ${table}: the key names no column.`, {
      table,
      hint: 'Set {key} to at least one column.',
    })
  const sourceColumns = source.columns.map((c) => c.name)
  const targetColumns = snapshot.schema.fields.map((f) => f.name)
  for (const key of keys) {
    if (!targetColumns.includes(key))
      throw new DuckmergeError(
        'KEY_COLUMN_MISSING',
        `Cannot merge ${source.label} into ${table}: key column "${key}" is missing in ${table} (columns: ${targetColumns.join(', ')}).`,
        { table, column: key, side: 'ours', hint: 'Set {key} to columns both sides have.' },
      )
    if (!sourceColumns.includes(key))
      throw new DuckmergeError(
        'KEY_COLUMN_MISSING',
        `Cannot merge ${source.label} into ${table}: key column "${key}" is missing in ${source.label} (columns: ${sourceColumns.join(', ')}).`,
        { table, column: key, side: 'theirs', hint: 'Set {key} to columns both sides have.' },
      )
  }
}

/**
 * Whether `target.k = source.k` holds exactly when the two values are the same source value,
 * for every key: same type on both sides (or integers of two widths, widened without loss) and
 * not floating point (-0.0 equals 0.0 but need not hash alike). Then distinct source key values
 * can never meet the same target row; a cast such as '02' → 2 could.
 *
 * @example
 * keysCompareExactly(source, schema, ['id']) // false when source.id is VARCHAR and target.id BIGINT
 */
export function keysCompareExactly(
  source: ResolvedSource,
  schema: StructType,
  keys: readonly string[],
): boolean {
  return keys.every((key) => {
    const sourceType = source.columns.find((c) => c.name === key)?.type.toUpperCase()
    const field = schema.fields.find((f) => f.name === key)
    if (sourceType === undefined || field === undefined) return false
    const targetType = deltaToDuckDbType(field.type).toUpperCase()
    if (['FLOAT', 'DOUBLE', 'REAL'].includes(targetType)) return false
    return (
      sourceType === targetType ||
      (integerWidth(sourceType) !== undefined && integerWidth(targetType) !== undefined)
    )
  })
}

/**
 * UPDATE SET * and INSERT * take every table column from the source, so without mergeSchema a
 * table column the source lacks is an error, as in Spark. With mergeSchema an update keeps it
 * and an insert leaves it NULL. A column they take must have a type that widens with the table's
 * (engine/type-rules.ts: numbers of any width, DATE and TIMESTAMP, …): otherwise SCHEMA_MISMATCH names
 * the column and both types.
 */
export function checkStarClauses(
  table: string,
  source: ResolvedSource,
  snapshot: Snapshot,
  clauses: readonly MergeClause[],
  mergeSchema: boolean,
): void {
  const hasStar = clauses.some(
    (c) =>
      (c.kind === 'matched' && c.action === 'update' && c.set === 'all') ||
      (c.kind === 'notMatched' && c.values === 'all'),
  )
  if (!hasStar) return
  const sourceColumns = new Map(source.columns.map((c) => [c.name.toLowerCase(), c]))
  const missing = snapshot.schema.fields
    .map((f) => f.name)
    .filter((n) => !sourceColumns.has(n.toLowerCase()))
  if (missing.length > 0 && !mergeSchema)
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot merge ${source.label} into ${table}: the source lacks column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}, which update-all / insert-all take from it.`,
      {
        table,
        source: source.label,
        columns: missing,
        hint: `Add ${missing.length > 1 ? 'them' : 'it'} to the source, assign columns explicitly, or set {mergeSchema}.`,
      },
    )
  const issues: Issue[] = []
  for (const field of snapshot.schema.fields) {
    const column = sourceColumns.get(field.name.toLowerCase())
    if (column === undefined) continue
    const theirs = deltaTypeOf(table, source, column)
    // Types with no common type (engine/type-rules.ts) cannot share a column: text for a number.
    if (widenType(deltaToDuckDbType(field.type), deltaToDuckDbType(theirs)) === undefined)
      issues.push({
        path: [field.name],
        code: 'column_type',
        message: `column "${field.name}" is ${typeToString(theirs)} in the source but ${typeToString(field.type)} in the table`,
      })
  }
  if (issues.length > 0)
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot merge ${source.label} into ${table}: ${issues.map((i) => i.message).join('; ')}.`,
      {
        table,
        source: source.label,
        issues,
        hint: "Cast the source column to the table's type, or assign the column explicitly.",
      },
    )
}

function deltaTypeOf(
  table: string,
  source: ResolvedSource,
  column: { readonly name: string; readonly type: string },
): DataType {
  try {
    return duckDbToDeltaType(column.type)
  } catch (error) {
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot merge ${source.label} into ${table}: source column "${column.name}" has type ${column.type}, which a Delta table cannot hold.`,
      { table, source: source.label, column: column.name, type: column.type },
      { cause: error },
    )
  }
}

/**
 * The table's constraints on the rows about to be written: NOT NULL columns (nullable: false)
 * and column invariants (PROTOCOL.md, Column Invariants). Costs a pass over the rows only when
 * the schema has such a column.
 */
export async function assertConstraints(
  db: DuckDb,
  schema: StructType,
  query: Sql,
  table: string,
): Promise<void> {
  const required = schema.fields.filter((f) => !f.nullable)
  if (required.length > 0) {
    const counts = join(
      required.map(
        (f, i) => sql`count(*) filter (where ${ident(f.name)} is null) as ${ident(`n${i}`)}`,
      ),
    )
    const row = await db.one<Record<string, bigint>>(sql`select ${counts} from (${query})`)
    required.forEach((field, i) => {
      const n = Number(row?.[`n${i}`] ?? 0)
      if (n > 0)
        throw new DuckmergeError(
          'VALIDATION_FAILED',
          `Cannot merge into ${table}: ${n} row(s) would have NULL in column "${field.name}", which is NOT NULL. Nothing was written; give the column a value in the clause or source.`,
          { table, column: field.name, rows: n },
        )
    })
  }
  await checkInvariants(db, schema, query, table)
}
