/** Where the rows of a Delta write come from: a file (Parquet, CSV, JSON), a DuckDB query, or rows. */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { extname, join, resolve } from 'node:path'
import type { DuckDb } from '../../../engine/duckdb.js'
import { ident, join as joinSql, literal, raw, type Sql, sql } from '../../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../../errors.js'
import {
  deltaToDuckDbType,
  duckDbToDeltaType,
  type StructField,
  type StructType,
} from '../schema.js'

/**
 * The rows to write.
 * - `file`: a Parquet file or glob, or a CSV / JSON file DuckDB reads.
 * - `query`: a DuckDB query (a `Sql` fragment, or SQL text the caller vouches for).
 * - `rows`: plain objects; `schema` fixes their types (else DuckDB infers them).
 */
export type DeltaSource =
  | { readonly file: string }
  | { readonly query: Sql | string }
  | { readonly rows: readonly Readonly<Record<string, unknown>>[]; readonly schema?: StructType }

/** A source made ready: a SELECT to embed, its schema, and a cleanup for temporary files. */
export interface PreparedSource {
  readonly query: Sql
  readonly schema: StructType
  readonly describe: string
  release(): Promise<void>
}

/**
 * Resolves a source into a query and its Delta schema (DuckDB types mapped by duckDbToDeltaType).
 * Rows without a schema take the table's types for the columns it has (`tableSchema`), and
 * otherwise their JavaScript types: integers BIGINT, other numbers DOUBLE, strings VARCHAR (never
 * sniffed as dates), booleans, bigints, Dates as UTC timestamps.
 * Throws INPUT_NOT_FOUND / INPUT_UNREADABLE naming the file when DuckDB cannot read it.
 *
 * @example
 * const src = await prepareSource(db, { file: 'runs/*.parquet' })
 * src.schema.fields.map((f) => f.name) // ['run_id', 'score']
 */
export async function prepareSource(
  db: DuckDb,
  source: DeltaSource,
  tableSchema?: StructType,
): Promise<PreparedSource> {
  let query: Sql
  let describe: string
  let release = async () => {}
  if ('file' in source) {
    describe = source.file
    query = await fileQuery(source.file)
  } else if ('query' in source) {
    describe = 'the query'
    query = typeof source.query === 'string' ? raw(source.query) : source.query
  } else {
    describe = 'the rows'
    const path = join(tmpdir(), `duckmerge-rows-${randomUUID()}.ndjson`)
    await fs.writeFile(path, source.rows.map((r) => `${toJsonLine(r)}\n`).join(''))
    release = () => fs.rm(path, { force: true })
    const schema = source.schema ?? rowsSchema(source.rows, tableSchema)
    query = sql`SELECT * FROM read_json(${path}, format = 'newline_delimited', columns = ${raw(columnsSpec(schema))})`
  }
  try {
    const columns = await db.all<{ column_name: string; column_type: string }>(
      sql`DESCRIBE SELECT * FROM (${query}) q`,
    )
    const fields: StructField[] = columns.map((c) => ({
      name: c.column_name,
      type: duckDbToDeltaType(c.column_type),
      nullable: true,
      metadata: {},
    }))
    return { query, schema: { type: 'struct', fields }, describe, release }
  } catch (error) {
    await release()
    if (error instanceof DuckmergeError) throw error
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read ${describe}: ${messageOf(error)}`,
      { source: describe },
      { cause: error },
    )
  }
}

async function fileQuery(file: string): Promise<Sql> {
  const path = resolve(file)
  const isGlob = /[*?[]/.test(file)
  if (!isGlob)
    try {
      await fs.access(path)
    } catch {
      throw new DuckmergeError('INPUT_NOT_FOUND', `Input file not found: ${file}`, { path: file })
    }
  const ext = extname(file).toLowerCase()
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt')
    return sql`SELECT * FROM read_csv_auto(${path})`
  if (ext === '.json' || ext === '.ndjson' || ext === '.jsonl')
    return sql`SELECT * FROM read_json_auto(${path})`
  return sql`SELECT * FROM read_parquet(${path}, hive_partitioning = false)`
}

/** read_json's `columns` struct for a schema (fixed text built from type names and quoted names). */
function columnsSpec(schema: StructType): string {
  return `{${schema.fields.map((f) => `${literal(f.name).text}: ${literal(deltaToDuckDbType(f.type)).text}`).join(', ')}}`
}

function rowsSchema(
  rows: readonly Readonly<Record<string, unknown>>[],
  tableSchema: StructType | undefined,
): StructType {
  const known = new Map((tableSchema?.fields ?? []).map((f) => [f.name.toLowerCase(), f]))
  const names: string[] = []
  const values = new Map<string, unknown[]>()
  for (const row of rows)
    for (const [k, v] of Object.entries(row)) {
      if (!values.has(k)) {
        names.push(k)
        values.set(k, [])
      }
      if (v !== null && v !== undefined) values.get(k)?.push(v)
    }
  const fields: StructField[] = names.map((name) => {
    const hinted = known.get(name.toLowerCase())
    const type = hinted ? hinted.type : duckDbToDeltaType(jsType(values.get(name) ?? []))
    return { name, type, nullable: true, metadata: {} }
  })
  return { type: 'struct', fields }
}

function jsType(values: readonly unknown[]): string {
  if (values.length === 0) return 'VARCHAR'
  if (values.every((v) => typeof v === 'boolean')) return 'BOOLEAN'
  if (values.every((v) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))))
    return 'BIGINT'
  if (values.every((v) => typeof v === 'number' || typeof v === 'bigint')) return 'DOUBLE'
  if (values.every((v) => v instanceof Date)) return 'TIMESTAMP WITH TIME ZONE'
  if (values.every((v) => typeof v === 'string')) return 'VARCHAR'
  return 'JSON'
}

function toJsonLine(row: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(row, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1')
    return v
  })
}

/** `SELECT "a", "b" FROM (query)`, for checks over a source. */
export function projection(query: Sql, columns: readonly string[]): Sql {
  return sql`SELECT ${joinSql(columns.map(ident))} FROM (${query}) q`
}
