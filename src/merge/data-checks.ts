/**
 * Checks a dataset merge makes before writing (key and partition columns exist, exp keys are
 * unique for rebase) and the translation of DuckDB failures into errors naming the file at fault.
 */
import type { DuckDb } from '../engine/duckdb.js'
import { raw, type Sql, sql } from '../engine/sql.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { firstLine, type UnionSchema } from '../formats/parquet/schema.js'
import { type ParquetSource, readParquetSql } from '../formats/parquet/source.js'
import {
  countQuery,
  distinctKeyCountQuery,
  duplicateKeyQuery,
  perfectHashBits,
} from './data-sql.js'
import type { Strategy } from './report.js'

/**
 * Throws KEY_COLUMN_MISSING when a key column is absent on either side, listing that side's
 * columns. Names match case-insensitively, as DuckDB resolves them.
 */
export function assertKeyColumns(
  strategy: Strategy,
  key: readonly string[],
  base: ParquetSource,
  exp: ParquetSource,
  schema: UnionSchema,
): void {
  // The option's field: merge takes dedupKey, rebase key (the CLI renders either as its flag).
  const field = strategy === 'merge' ? 'dedupKey' : 'key'
  for (const [source, columns] of [
    [base, schema.base],
    [exp, schema.exp],
  ] as const) {
    const names = new Set(columns.map((c) => c.name.toLowerCase()))
    const missing = key.find((k) => !names.has(k.toLowerCase()))
    if (missing !== undefined)
      throw new DuckmergeError(
        'KEY_COLUMN_MISSING',
        `Cannot ${strategy} ${exp.path} ${strategy === 'merge' ? 'into' : 'onto'} ${base.path}: key column "${missing}" is missing in ${source.side} ${source.path} (columns: ${columns.map((c) => c.name).join(', ')}).`,
        {
          side: source.side,
          path: source.path,
          column: missing,
          hint: `Pass {${field}} with columns both sides have.`,
        },
      )
  }
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
 * Throws DUPLICATE_KEY when exp holds several rows for one key (NULL counts as one key value):
 * a rebase would otherwise keep both silently. Names the most repeated key and its row count.
 * `expRows` is exp's row count (from its footers): the check is one distinct count over the key
 * columns, and only when it falls short does a second query find the key to name.
 */
export async function assertUniqueKeys(
  db: DuckDb,
  base: ParquetSource,
  exp: ParquetSource,
  key: readonly string[],
  expRows: number,
): Promise<void> {
  const read = <T>(query: Sql) =>
    db.one<T>(query).catch((error: unknown) => {
      throw readFailure(error, base, exp)
    })
  await db.run(sql`SET perfect_ht_threshold = ${raw(String(perfectHashBits))}`)
  const distinct = await read<{ n: bigint }>(
    distinctKeyCountQuery(readParquetSql(exp), key),
  ).finally(() => db.run(sql`RESET perfect_ht_threshold`))
  if (Number(distinct?.n ?? 0) === expRows) return
  const row = await read<Record<string, unknown>>(duplicateKeyQuery(readParquetSql(exp), key))
  if (!row) return
  const value = key.map((k, i) => `${k}=${formatValue(row[`k${i}`])}`).join(', ')
  const rows = Number(row.__rows)
  const keys = Number(row.__keys)
  throw new DuckmergeError(
    'DUPLICATE_KEY',
    `Cannot rebase ${exp.path} onto ${base.path}: exp holds ${rows} rows with key ${key.length > 1 ? `(${value})` : value}${keys > 1 ? ` (${keys} keys repeat in all)` : ''}. Rebase needs one exp row per key.`,
    {
      key: Object.fromEntries(key.map((k, i) => [k, row[`k${i}`]])),
      rows,
      keys,
      hint: 'Deduplicate exp, or choose a {key} that tells its rows apart.',
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
        `Cannot count the rows of ${source.side} ${source.path}: ${firstLine(messageOf(error))}`,
        { side: source.side, path: source.path },
        { cause: error },
      )
    })
  return Number(row?.n ?? 0)
}

/** A DuckDB failure while reading both inputs (after their footers were read fine). */
export function readFailure(error: unknown, base: ParquetSource, exp: ParquetSource): Error {
  if (error instanceof DuckmergeError) return error
  // Good inputs, too little memory: say so instead of blaming the files (issue 14).
  if (/out of memory/i.test(messageOf(error)))
    return new DuckmergeError(
      'OUT_OF_MEMORY',
      `DuckDB reached its memory limit merging base ${base.path} and exp ${exp.path}: ${firstLine(messageOf(error))}`,
      { base: base.path, exp: exp.path, hint: 'Raise {memoryLimit} (e.g. 4GB).' },
      { cause: error },
    )
  // DuckDB names the file it failed on (`Failed to read file "/abs/x.parquet": …`): a damaged
  // page then gets an error naming that file and its side, not both inputs.
  const file = /file "([^"]+)"/.exec(messageOf(error))?.[1]
  const side = [base, exp].find((s) => file !== undefined && s.files.includes(file))
  if (side && file)
    return new DuckmergeError(
      'INPUT_UNREADABLE',
      `${side.side} file ${file} is damaged: ${firstLine(messageOf(error))}. Rewrite it, or restore it from a copy.`,
      { side: side.side, path: file },
      { cause: error },
    )
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `Cannot read the data of base ${base.path} or exp ${exp.path}: ${firstLine(messageOf(error))}. Check the files with parquet tools or rewrite them.`,
    { base: base.path, exp: exp.path },
    { cause: error },
  )
}

/** A DuckDB failure during COPY: the output side (disk full, permissions) or an input. */
export function writeFailure(
  error: unknown,
  temp: string,
  output: string,
  base: ParquetSource,
  exp: ParquetSource,
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
  return readFailure(error, base, exp)
}

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return value.toISOString()
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}
