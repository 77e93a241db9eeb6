/** Reading a dataset's rows at a version: into a file (JSONL or CSV, streamed by DuckDB) or a page of objects. */
import { DuckDb } from '../engine/duckdb.js'
import { identList, literal, raw, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import { registerSnapshot } from '../formats/delta/scan.js'
import { loadSnapshot } from '../formats/delta/snapshot.js'
import type { Snapshot } from '../formats/delta/snapshot-types.js'
import type { Dataset } from './datasets.js'

export type RowsFormat = 'jsonl' | 'csv'

export interface RowsOptions {
  /** A Delta version; the head when omitted. */
  readonly version?: number
  /** At most this many rows (ordered by key); every row when omitted. */
  readonly limit?: number
}

/** The dataset's Delta snapshot at `version` (the head when omitted); VERSION_NOT_FOUND past the head. */
export async function datasetSnapshot(dataset: Dataset, version?: number): Promise<Snapshot> {
  if (version !== undefined && (version < 0 || version > dataset.currentVersion))
    throw new DuckmergeError(
      'VERSION_NOT_FOUND',
      `Dataset "${dataset.name}" has no version ${version} (versions 0 to ${dataset.currentVersion}).`,
      { dataset: dataset.name, version, current_version: dataset.currentVersion },
    )
  return loadSnapshot(dataset.tablePath, version === undefined ? {} : { version })
}

/**
 * Writes the rows, ordered by key, to `output` as JSON lines or CSV with a header. DuckDB
 * streams them: no row passes through JavaScript.
 *
 * @example
 * await exportRows(dataset, '/tmp/rows.csv', 'csv', { version: 3, limit: 100 })
 */
export async function exportRows(
  dataset: Dataset,
  output: string,
  format: RowsFormat,
  options: RowsOptions = {},
): Promise<{ version: number }> {
  const snapshot = await datasetSnapshot(dataset, options.version)
  const db = await DuckDb.open()
  try {
    await registerSnapshot(db, snapshot, 'rows')
    const limit = options.limit === undefined ? sql`` : sql`LIMIT ${options.limit}`
    const query = sql`SELECT * FROM rows ORDER BY ${identList(dataset.keyColumns)} ${limit}`
    const spec = raw(format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT json')
    await db.run(sql`COPY (${query}) TO ${literal(output)} (${spec})`)
    return { version: snapshot.version }
  } finally {
    db.close()
  }
}

/** A page of rows as JSON-safe objects (BIGINT and DECIMAL as strings), ordered by key. */
export async function readRows(
  dataset: Dataset,
  options: RowsOptions & { readonly offset?: number } = {},
): Promise<{ version: number; rows: Record<string, unknown>[] }> {
  const snapshot = await datasetSnapshot(dataset, options.version)
  const db = await DuckDb.open()
  try {
    await registerSnapshot(db, snapshot, 'rows')
    const rows = await db.allJson(
      sql`SELECT * FROM rows ORDER BY ${identList(dataset.keyColumns)} LIMIT ${options.limit ?? 100} OFFSET ${options.offset ?? 0}`,
    )
    return { version: snapshot.version, rows }
  } finally {
    db.close()
  }
}
