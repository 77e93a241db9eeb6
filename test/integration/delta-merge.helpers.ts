/** Small real Delta tables for the MERGE and backfill tests: written with DuckDB, committed to a real log. */
import { randomUUID } from 'node:crypto'
import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDb, withDuckDb } from '../../src/engine/duckdb.js'
import { raw, type Sql, sql } from '../../src/engine/sql.js'
import { commit } from '../../src/formats/delta/commit.js'
import {
  type Action,
  type AddFile,
  duckDbToDeltaType,
  loadSnapshot,
  registerSnapshot,
  type StructType,
  schemaToJson,
} from '../../src/formats/delta/index.js'
import { writeDataFiles } from '../../src/formats/delta/write-files.js'

/**
 * Creates a Delta table at `path` whose version 0 holds one data file per query in `files`
 * (so a test controls how rows spread over files), with Spark's protocol 1/2.
 */
export async function createTable(
  path: string,
  files: readonly Sql[],
  options: { partitionColumns?: readonly string[] } = {},
): Promise<void> {
  await withDuckDb({}, async (db) => {
    const first = files[0]
    if (!first) throw new Error('createTable needs at least one query')
    const described = await db.all<{ column_name: string; column_type: string }>(
      sql`describe ${first}`,
    )
    const schema: StructType = {
      type: 'struct',
      fields: described.map((c) => ({
        name: c.column_name,
        type: duckDbToDeltaType(c.column_type),
        nullable: true,
        metadata: {},
      })),
    }
    const partitionColumns = options.partitionColumns ?? []
    const adds: AddFile[] = []
    for (const query of files)
      adds.push(...(await writeDataFiles(db, path, query, { schema, partitionColumns })))
    const actions: Action[] = [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      {
        metaData: {
          id: randomUUID(),
          format: { provider: 'parquet', options: {} },
          schemaString: schemaToJson(schema),
          partitionColumns: [...partitionColumns],
          configuration: {},
          createdTime: Date.now(),
        },
      },
      ...adds.map((add) => ({ add })),
    ]
    await commit(path, actions, { readVersion: null, operation: 'CREATE TABLE AS SELECT' })
  })
}

/** Appends one file per query as the next version. */
export async function appendFiles(path: string, files: readonly Sql[]): Promise<void> {
  const snapshot = await loadSnapshot(path)
  await withDuckDb({}, async (db) => {
    const adds: AddFile[] = []
    for (const query of files)
      adds.push(
        ...(await writeDataFiles(db, path, query, {
          schema: snapshot.schema,
          partitionColumns: snapshot.partitionColumns,
        })),
      )
    await commit(
      path,
      adds.map((add) => ({ add })),
      { readVersion: snapshot.version, operation: 'WRITE', isBlindAppend: true },
    )
  })
}

/** Every row of the table's latest version, ordered by `orderBy` (JSON-safe values). */
export async function readRows<T = Record<string, unknown>>(
  path: string,
  orderBy: string,
): Promise<T[]> {
  const snapshot = await loadSnapshot(path)
  const db = await DuckDb.open()
  try {
    await registerSnapshot(db, snapshot, 't')
    return await db.allJson<T>(sql`select * from t order by ${raw(orderBy)}`)
  } finally {
    db.close()
  }
}

/** A copy of a fixture table, optionally cut back to `version` (later commits removed). */
export function copyTable(from: string, to: string, version?: number): string {
  cpSync(from, to, { recursive: true })
  if (version !== undefined)
    for (let v = version + 1; v < version + 1000; v++) {
      const file = join(to, '_delta_log', `${String(v).padStart(20, '0')}.json`)
      rmSync(file, { force: true })
    }
  return to
}
