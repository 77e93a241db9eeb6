/**
 * Checks a dataset merge makes before writing (key and partition columns exist, theirs keys are
 * unique for rebase) and the translation of DuckDB failures into errors naming the file at fault.
 */
import type { DuckDb } from '../engine/duckdb.js'
import { ident, join, raw, type Sql, sql } from '../engine/sql.js'
import { castsLosslessly } from '../engine/type-rules.js'
import { DuckmergeError, type Issue, messageOf } from '../errors.js'
import { firstLine, type TypeChange, type UnionSchema } from '../formats/parquet/schema.js'
import { type ParquetSource, readParquetSql, shownPath } from '../formats/parquet/source.js'
import type { KeyPlan } from './data-key-range.js'
import {
  countQuery,
  distinctKeyCountQuery,
  duplicateKeyQuery,
  keptOursRows,
  perfectHashBits,
  rawColumn,
  retypedQuery,
} from './data-sql.js'
import type { Strategy } from './report.js'

/**
 * Throws KEY_COLUMN_MISSING when a key column is absent on either side, listing that side's
 * columns. Names match case-insensitively, as DuckDB resolves them.
 */
export function assertKeyColumns(
  strategy: Strategy,
  key: readonly string[],
  ours: ParquetSource,
  theirs: ParquetSource,
  schema: UnionSchema,
): void {
  for (const [source, columns] of [
    [ours, schema.ours],
    [theirs, schema.theirs],
  ] as const) {
    const names = new Set(columns.map((c) => c.name.toLowerCase()))
    const missing = key.find((k) => !names.has(k.toLowerCase()))
    if (missing !== undefined)
      throw new DuckmergeError(
        'KEY_COLUMN_MISSING',
        `Cannot ${strategy} ${theirs.path} ${strategy === 'merge' ? 'into' : 'onto'} ${ours.path}: key column "${missing}" is missing in ${source.path} (columns: ${columns.map((c) => c.name).join(', ')}).`,
        {
          side: source.side,
          path: source.path,
          column: missing,
          hint: 'Pass {key} with columns both sides have.',
        },
      )
  }
}

/**
 * Rebase with a column whose type changed: every ours value the rebase keeps must convert to
 * theirs' type (a lossless change needs no look). Throws SCHEMA_MISMATCH naming the column, its
 * first bad value (in sort order) and how many there are, before anything is written. One scan
 * of the kept rows checks every column.
 */
export async function assertKeptValuesConvert(
  db: DuckDb,
  ours: ParquetSource,
  theirs: ParquetSource,
  key: readonly string[],
  plan: KeyPlan,
  retyped: readonly TypeChange[],
): Promise<void> {
  const lossy = retyped.filter((r) => !castsLosslessly(r.from, r.to))
  if (lossy.length === 0) return
  const kept = keptOursRows(
    retypedQuery(readParquetSql(ours), lossy, true),
    readParquetSql(theirs),
    key,
    plan,
  )
  const bad = (i: number, r: TypeChange) =>
    sql`${ident(rawColumn(i))} is not null and ${ident(r.column)} is null`
  const figures = lossy.map(
    (r, i) =>
      sql`count(*) filter (where ${bad(i, r)}) as ${ident(`n${i}`)}, min(cast(${ident(rawColumn(i))} as varchar)) filter (where ${bad(i, r)}) as ${ident(`v${i}`)}`,
  )
  const row = await db
    .one<Record<string, bigint | string | null>>(sql`select ${join(figures)} from (${kept})`)
    .catch((error: unknown) => {
      throw readFailure(error, ours, theirs)
    })
  const issues = lossy.flatMap((r, i) => {
    const count = Number(row?.[`n${i}`] ?? 0)
    if (count === 0) return []
    const value = String(row?.[`v${i}`])
    const message = `column "${r.column}" is ${r.from} in ${ours.path} but ${r.to} in ${theirs.path}, and ${count} value${count === 1 ? '' : 's'} kept from ${ours.path} do${count === 1 ? 'es' : ''} not convert to ${r.to} (first: "${value}")`
    return [{ ...r, count, value, message }]
  })
  const [first] = issues
  if (first === undefined) return
  throw new DuckmergeError(
    'SCHEMA_MISMATCH',
    `Cannot rebase ${theirs.path} onto ${ours.path}: ${issues.map((i) => i.message).join('; ')}.`,
    {
      column: first.column,
      from: first.from,
      to: first.to,
      value: first.value,
      count: first.count,
      issues: issues.map(
        (i): Issue => ({ path: [i.column], code: 'VALUE_NOT_CONVERTIBLE', message: i.message }),
      ),
      hint: 'Fix those values in {ours}, or give the column a type they fit in {theirs}.',
    },
  )
}

/** Throws COLUMN_NOT_FOUND when a --partition-by column is not in the merged schema. */
export function assertPartitionColumns(partitionBy: readonly string[], schema: UnionSchema): void {
  const names = new Set(schema.columns.map((c) => c.name.toLowerCase()))
  const missing = partitionBy.find((c) => !names.has(c.toLowerCase()))
  if (missing !== undefined)
    throw new DuckmergeError(
      'COLUMN_NOT_FOUND',
      `Cannot partition by "${missing}": the merged data has no such column (columns: ${schema.columns.map((c) => c.name).join(', ')}).`,
      { column: missing, hint: 'Pass {partitionBy} with existing columns.' },
    )
}

/**
 * Throws DUPLICATE_KEY when theirs holds several rows for one key (NULL counts as one key value):
 * a rebase would otherwise keep both silently. Names the most repeated key and its row count.
 * `theirsRows` is theirs' row count (from its footers): the check is one distinct count over the key
 * columns, and only when it falls short does a second query find the key to name.
 */
export async function assertUniqueKeys(
  db: DuckDb,
  ours: ParquetSource,
  theirs: ParquetSource,
  key: readonly string[],
  theirsRows: number,
): Promise<void> {
  const read = <T>(query: Sql) =>
    db.one<T>(query).catch((error: unknown) => {
      throw readFailure(error, ours, theirs)
    })
  await db.run(sql`SET perfect_ht_threshold = ${raw(String(perfectHashBits))}`)
  const distinct = await read<{ n: bigint }>(
    distinctKeyCountQuery(readParquetSql(theirs), key),
  ).finally(() => db.run(sql`RESET perfect_ht_threshold`))
  if (Number(distinct?.n ?? 0) === theirsRows) return
  const row = await read<Record<string, unknown>>(duplicateKeyQuery(readParquetSql(theirs), key))
  if (!row) return
  const value = key.map((k, i) => `${k}=${formatValue(row[`k${i}`])}`).join(', ')
  const rows = Number(row.__rows)
  const keys = Number(row.__keys)
  throw new DuckmergeError(
    'DUPLICATE_KEY',
    `Cannot rebase ${theirs.path} onto ${ours.path}: ${theirs.path} holds ${rows} rows with key ${key.length > 1 ? `(${value})` : value}${keys > 1 ? ` (${keys} keys repeat in all)` : ''}. Rebase needs one row per key in ${theirs.path}.`,
    {
      side: 'theirs',
      path: theirs.path,
      key: Object.fromEntries(key.map((k, i) => [k, row[`k${i}`]])),
      rows,
      keys,
      hint: 'Deduplicate it, or choose a {key} that tells its rows apart.',
    },
  )
}

/** Rows of a source, from Parquet footers only. */
export async function countRows(db: DuckDb, source: ParquetSource): Promise<number> {
  const row = await db
    .one<{ n: bigint }>(countQuery(readParquetSql(source)))
    .catch((error: unknown) => {
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `Cannot count the rows of ${source.path}: ${firstLine(messageOf(error))}`,
        { side: source.side, path: source.path },
        { cause: error },
      )
    })
  return Number(row?.n ?? 0)
}

/** A DuckDB failure while reading both inputs (after their footers were read fine). */
export function readFailure(error: unknown, ours: ParquetSource, theirs: ParquetSource): Error {
  if (error instanceof DuckmergeError) return error
  // Good inputs, too little memory: say so instead of blaming the files (issue 14).
  if (/out of memory/i.test(messageOf(error)))
    return new DuckmergeError(
      'OUT_OF_MEMORY',
      `DuckDB reached its memory limit merging ${ours.path} and ${theirs.path}: ${firstLine(messageOf(error))}`,
      { ours: ours.path, theirs: theirs.path, hint: 'Raise {memoryLimit} (e.g. 4GB).' },
      { cause: error },
    )
  // DuckDB names the file it failed on (`Failed to read file "/abs/x.parquet": …`): a damaged
  // page then gets an error naming that file and its side, not both inputs.
  const file = /file "([^"]+)"/.exec(messageOf(error))?.[1]
  const side = [ours, theirs].find((s) => file !== undefined && s.files.includes(file))
  if (side && file)
    return new DuckmergeError(
      'INPUT_UNREADABLE',
      `${shownPath(side, file)} is damaged: ${firstLine(messageOf(error))}. Rewrite it, or restore it from a copy.`,
      { side: side.side, path: shownPath(side, file) },
      { cause: error },
    )
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `Cannot read the data of ${ours.path} or ${theirs.path}: ${firstLine(messageOf(error))}. Check the files with parquet tools or rewrite them.`,
    { ours: ours.path, theirs: theirs.path },
    { cause: error },
  )
}

/** A DuckDB failure during COPY: the output side (disk full, permissions) or an input. */
export function writeFailure(
  error: unknown,
  temp: string,
  output: string,
  ours: ParquetSource,
  theirs: ParquetSource,
): Error {
  if (error instanceof DuckmergeError) return error
  const message = firstLine(messageOf(error))
  const isOutputSide =
    message.includes(temp) || /no space left|permission denied|read-only file system/i.test(message)
  if (isOutputSide)
    return new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write ${output}: ${message.replaceAll(temp, output)}`,
      { output },
      { cause: error },
    )
  return readFailure(error, ours, theirs)
}

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return value.toISOString()
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}
