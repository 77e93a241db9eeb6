/**
 * Reading an uploaded file (Parquet, CSV, JSONL, or a Delta table folder) and the checks every
 * upload passes before anything is written: column names, key columns present, unique, not null.
 */
import { existsSync } from 'node:fs'
import { extname, join as joinPath, resolve } from 'node:path'
import type { DuckDb } from '../engine/duckdb.js'
import { ident, identList, join, literal, type Sql, sql } from '../engine/sql.js'
import { DuckmergeError, type Issue, messageOf } from '../errors.js'
import { scanSql } from '../formats/delta/scan.js'
import { loadSnapshot } from '../formats/delta/snapshot.js'

export interface Column {
  readonly name: string
  /** DuckDB type as DESCRIBE prints it. */
  readonly type: string
}

export interface Upload {
  /** A temp view over the file's rows (`__dm_upload`). */
  readonly relation: Sql
  readonly columns: readonly Column[]
  /** The file as given, for messages. */
  readonly label: string
}

/** The operation column of a change request upload (Debezium's `op`, Delta CDF's `_change_type`). */
export const OP_COLUMN = '_op'

/** Names a dataset column may never have: CDF and change request columns, and our own temporaries. */
export const RESERVED_COLUMNS: readonly string[] = [
  OP_COLUMN,
  '_change_type',
  '_commit_version',
  '_commit_timestamp',
]
const RESERVED_PREFIXES = ['_dm_', '__dm_', '__delta_']
// Delta forbids these in column names unless column mapping is on (delta-io/delta#1744).
const FORBIDDEN_CHARACTERS = /[ ,;{}()\n\t=]/
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/

/**
 * Opens `file` as the view `__dm_upload` in `db`. A folder with a `_delta_log` is read at its
 * latest version (a Delta table written by Spark or delta-rs can become a dataset).
 */
export async function openUpload(db: DuckDb, file: string, view = '__dm_upload'): Promise<Upload> {
  const path = resolve(file)
  let query: Sql
  if (existsSync(joinPath(path, '_delta_log'))) {
    query = scanSql(await loadSnapshot(path, { db }))
  } else {
    if (!existsSync(path))
      throw new DuckmergeError('INPUT_NOT_FOUND', `Input file not found: ${file}`, { file })
    query = fileQuery(path)
  }
  try {
    await db.run(sql`CREATE OR REPLACE TEMP VIEW ${ident(view)} AS ${query}`)
    const described = await db.all<{ column_name: string; column_type: string }>(
      sql`DESCRIBE SELECT * FROM ${ident(view)}`,
    )
    return {
      relation: ident(view),
      columns: described.map((c) => ({ name: c.column_name, type: c.column_type })),
      label: file,
    }
  } catch (error) {
    if (error instanceof DuckmergeError) throw error
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read ${file}: ${messageOf(error)}`,
      { file },
      { cause: error },
    )
  }
}

/** A scan of the file by its extension, the path a literal so the query can be a view's body. */
function fileQuery(path: string): Sql {
  const ext = extname(path).toLowerCase()
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt')
    return sql`SELECT * FROM read_csv_auto(${literal(path)})`
  if (ext === '.json' || ext === '.ndjson' || ext === '.jsonl')
    return sql`SELECT * FROM read_json_auto(${literal(path)})`
  return sql`SELECT * FROM read_parquet(${literal(path)}, hive_partitioning = false)`
}

/**
 * Every problem with the upload's column names: empty, longer than 255 bytes, control
 * characters, characters Delta forbids without column mapping, reserved names, and names equal
 * but for case (DuckDB identifiers are case-insensitive). `allowed` names (`_op` in a change
 * request) pass.
 */
export function columnNameIssues(
  names: readonly string[],
  allowed: readonly string[] = [],
): Issue[] {
  const issues: Issue[] = []
  const seen = new Map<string, string>()
  for (const name of names) {
    const path = [name]
    if (name.trim() === '')
      issues.push({ path, code: 'empty_name', message: 'a column has an empty name' })
    else if (Buffer.byteLength(name) > 255)
      issues.push({
        path,
        code: 'name_too_long',
        message: `column "${name.slice(0, 40)}…" is longer than 255 bytes`,
      })
    else if (CONTROL_CHARACTERS.test(name))
      issues.push({
        path,
        code: 'control_character',
        message: `column ${JSON.stringify(name)} holds a control character`,
      })
    else if (FORBIDDEN_CHARACTERS.test(name))
      issues.push({
        path,
        code: 'forbidden_character',
        message: `column ${JSON.stringify(name)} holds one of the characters Delta forbids in column names (space , ; { } ( ) newline tab =)`,
      })
    const lower = name.toLowerCase()
    if (
      !allowed.includes(name) &&
      (RESERVED_COLUMNS.includes(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p)))
    )
      issues.push({ path, code: 'reserved_name', message: `column "${name}" is a reserved name` })
    const earlier = seen.get(lower)
    if (earlier !== undefined && name !== '')
      issues.push({
        path,
        code: 'case_duplicate',
        message: `columns "${earlier}" and "${name}" differ only in case`,
      })
    seen.set(lower, name)
  }
  return issues
}

/** Throws VALIDATION_FAILED listing every bad column name of an upload. */
export function assertColumnNames(upload: Upload, allowed: readonly string[] = []): void {
  const issues = columnNameIssues(
    upload.columns.map((c) => c.name),
    allowed,
  )
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `${upload.label} has ${issues.length} bad column name(s): ${issues.map((i) => i.message).join('; ')}.`,
      { file: upload.label, issues, reason: 'invalid_column_name' },
    )
}

/** Throws KEY_COLUMN_MISSING when a key column is not among the upload's columns. */
export function assertKeyColumns(upload: Upload, keys: readonly string[]): void {
  const names = upload.columns.map((c) => c.name)
  const missing = keys.filter((k) => !names.includes(k))
  if (missing.length > 0)
    throw new DuckmergeError(
      'KEY_COLUMN_MISSING',
      `${upload.label} has no key column ${missing.map((m) => `"${m}"`).join(', ')} (columns: ${names.join(', ')}).`,
      { file: upload.label, columns: missing, hint: 'Choose {key} from the columns of the file.' },
    )
}

const SAMPLE = 5

/**
 * Throws NULL_KEY or DUPLICATE_KEY, with sample keys, unless the key columns of `relation`
 * identify its rows. One scan each; the samples come from the same queries.
 */
export async function assertUniqueKeys(
  db: DuckDb,
  relation: Sql,
  keys: readonly string[],
  label: string,
): Promise<void> {
  const keyList = identList(keys)
  const anyNull = join(
    keys.map((k) => sql`${ident(k)} IS NULL`),
    ' OR ',
  )
  const nulls = await db.one<{ n: bigint }>(
    sql`SELECT count(*) AS n FROM ${relation} WHERE ${anyNull}`,
  )
  const nullCount = Number(nulls?.n ?? 0)
  if (nullCount > 0) {
    const sample = await db.allJson(
      sql`SELECT ${keyList} FROM ${relation} WHERE ${anyNull} LIMIT ${SAMPLE}`,
    )
    throw new DuckmergeError(
      'NULL_KEY',
      `${label}: ${nullCount} row(s) have a NULL in key column(s) ${keys.join(', ')} (sample keys: ${sample.map((s) => JSON.stringify(s)).join(', ')}); every row needs a key.`,
      { file: label, columns: keys, rows: nullCount, sample_keys: sample },
    )
  }
  const dups = await db.allJson<Record<string, unknown> & { _dm_n: string | number }>(
    sql`SELECT ${keyList}, count(*) AS _dm_n FROM ${relation} GROUP BY ALL HAVING count(*) > 1 ORDER BY _dm_n DESC, ${keyList} LIMIT ${SAMPLE}`,
  )
  if (dups.length > 0) {
    const total = await db.one<{ n: bigint }>(
      sql`SELECT count(*) AS n FROM (SELECT 1 FROM ${relation} GROUP BY ${keyList} HAVING count(*) > 1)`,
    )
    const sample = dups.map(({ _dm_n, ...key }) => ({ key, rows: Number(_dm_n) }))
    throw new DuckmergeError(
      'DUPLICATE_KEY',
      `${label}: ${Number(total?.n ?? 0)} key(s) of ${keys.join(', ')} appear on more than one row (sample: ${sample.map((s) => `${JSON.stringify(s.key)} ×${s.rows}`).join(', ')}); keys must be unique.`,
      { file: label, columns: keys, keys: Number(total?.n ?? 0), sample_keys: sample },
    )
  }
}
