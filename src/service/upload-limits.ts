/**
 * Rows and columns per upload, counted without loading the upload: a CSV is counted on the
 * stream as it is written to disk (so an upload with too many rows stops early), a Parquet file
 * is judged by its footer, which is checked before DuckDB reads anything:
 *
 *   PAR1 … data … footer (thrift FileMetaData) │ footer length (u32 LE) │ PAR1
 *
 * both magics present, the footer length within the file and under FOOTER_LIMIT, then the row
 * count and the top-level column count from the footer alone (DuckDB's parquet_file_metadata
 * and parquet_schema read only the footer).
 */
import { open } from 'node:fs/promises'
import { DuckDb } from '../engine/duckdb.js'
import { literal, sql } from '../engine/sql.js'
import { DuckmergeError, messageOf } from '../errors.js'

export interface ShapeLimits {
  /** Most data rows an upload may hold (a CSV's header not counted). */
  readonly uploadRows: number
  /** Most columns an upload may hold. */
  readonly uploadColumns: number
}

/** A Parquet footer larger than this is refused before it is parsed. */
export const FOOTER_LIMIT = 64 * 1024 * 1024

const MAGIC = 'PAR1'
// Delimiters DuckDB's sniffer tries; the header's column count is the most any of them splits.
const DELIMITERS = [',', ';', '\t', '|'].map((d) => d.charCodeAt(0))
const QUOTE = 0x22
const NEWLINE = 0x0a

export function tooManyRows(limit: number, rows: number | undefined): DuckmergeError {
  const has = rows === undefined ? `more than ${limit}` : String(rows)
  return new DuckmergeError(
    'PAYLOAD_TOO_LARGE',
    `The upload has ${has} rows; the limit is ${limit} rows per upload.`,
    { reason: 'too_many_rows', limit_rows: limit, ...(rows === undefined ? {} : { rows }) },
  )
}

export function tooManyColumns(limit: number, columns: number): DuckmergeError {
  return new DuckmergeError(
    'PAYLOAD_TOO_LARGE',
    `The upload has ${columns} columns; the limit is ${limit} columns per upload.`,
    { reason: 'too_many_columns', limit_columns: limit, columns },
  )
}

/**
 * Counts CSV records (RFC 4180: newlines inside quotes belong to the field) on the stream and
 * the header's columns; throws as soon as a limit is passed.
 */
export class CsvCounter {
  #quoted = false
  #records = 0
  #pending = false
  #header: number[] | undefined = DELIMITERS.map(() => 0)
  columns = 0

  constructor(readonly limits: ShapeLimits) {}

  /** Data rows so far (the header excluded). */
  get rows(): number {
    return Math.max(0, this.#records + (this.#pending ? 1 : 0) - 1)
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number
      if (byte === QUOTE) this.#quoted = !this.#quoted
      if (this.#quoted) {
        this.#pending = true
        continue
      }
      if (byte === NEWLINE) {
        this.#endRecord()
        continue
      }
      if (byte !== 0x0d) this.#pending = true
      if (this.#header) {
        const d = DELIMITERS.indexOf(byte)
        if (d >= 0) this.#header[d] = (this.#header[d] ?? 0) + 1
      }
    }
  }

  /** At the end of the stream: the last record may lack its newline. */
  finish(): void {
    if (this.#pending) this.#endRecord()
  }

  #endRecord() {
    if (!this.#pending) return
    this.#pending = false
    this.#records++
    if (this.#header) {
      this.columns = Math.max(...this.#header) + 1
      this.#header = undefined
      if (this.columns > this.limits.uploadColumns)
        throw tooManyColumns(this.limits.uploadColumns, this.columns)
    }
    if (this.rows > this.limits.uploadRows) throw tooManyRows(this.limits.uploadRows, undefined)
  }
}

/**
 * Checks a Parquet file's footer, then its row and column counts against the limits.
 * INPUT_UNREADABLE (reason invalid_parquet) when the footer is not where it must be.
 */
export async function checkParquetShape(
  path: string,
  limits: ShapeLimits,
): Promise<{ rows: number; columns: number }> {
  const handle = await open(path, 'r')
  let footer: number
  try {
    const { size } = await handle.stat()
    const invalid = (problem: string) =>
      new DuckmergeError('INPUT_UNREADABLE', `The uploaded Parquet file ${problem}.`, {
        reason: 'invalid_parquet',
        bytes: size,
      })
    if (size < 12) throw invalid(`has ${size} bytes, fewer than a Parquet file's 12`)
    const head = Buffer.alloc(4)
    await handle.read(head, 0, 4, 0)
    const tail = Buffer.alloc(8)
    await handle.read(tail, 0, 8, size - 8)
    if (head.toString('latin1') !== MAGIC) throw invalid('does not start with PAR1')
    if (tail.subarray(4).toString('latin1') !== MAGIC)
      throw invalid('does not end with PAR1 (truncated, or not Parquet)')
    footer = tail.readUInt32LE(0)
    if (footer === 0 || footer + 12 > size)
      throw invalid(`declares a footer of ${footer} bytes, which does not fit in its ${size} bytes`)
    if (footer > FOOTER_LIMIT)
      throw new DuckmergeError(
        'PAYLOAD_TOO_LARGE',
        `The uploaded Parquet file's footer has ${footer} bytes; the limit is ${FOOTER_LIMIT}.`,
        { reason: 'parquet_footer', limit_footer_bytes: FOOTER_LIMIT, footer_bytes: footer },
      )
  } finally {
    await handle.close()
  }
  const db = await DuckDb.open({ threads: 1 })
  let shape: { rows: number; columns: number }
  try {
    const meta = await db.one<{ rows: bigint; columns: bigint }>(
      sql`SELECT (SELECT num_rows FROM parquet_file_metadata(${literal(path)})) AS rows,
        (SELECT num_children FROM parquet_schema(${literal(path)}) LIMIT 1) AS columns`,
    )
    shape = { rows: Number(meta?.rows ?? 0), columns: Number(meta?.columns ?? 0) }
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `The uploaded Parquet file's footer (${footer} bytes) cannot be read: ${messageOf(error)}`,
      { reason: 'invalid_parquet' },
      { cause: error },
    )
  } finally {
    db.close()
  }
  if (shape.columns > limits.uploadColumns)
    throw tooManyColumns(limits.uploadColumns, shape.columns)
  if (shape.rows > limits.uploadRows) throw tooManyRows(limits.uploadRows, shape.rows)
  return shape
}
