/** Hand-built Delta tables for reader tests: Parquet written by DuckDB, a log written as JSON. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { DuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import {
  commitFileName,
  encodeZ85,
  type StructField,
  schemaToJson,
  serializeRoaringBitmapArray,
} from '../../src/formats/delta/index.js'

/** Writes `select` (SQL text written by the test) to `<table>/<file>` as Parquet. */
export async function writeParquet(
  db: DuckDb,
  table: string,
  file: string,
  select: string,
): Promise<string> {
  const path = join(table, file)
  mkdirSync(dirname(path), { recursive: true })
  await db.run(sql`copy (${raw(select)}) to ${literal(path)} (format parquet)`)
  return path
}

export const field = (
  name: string,
  type: StructField['type'],
  metadata: Record<string, unknown> = {},
): StructField => ({ name, type, nullable: true, metadata })

export function protocolAction(reader = 1, writer = 2, features?: string[]) {
  return {
    protocol: {
      minReaderVersion: reader,
      minWriterVersion: writer,
      ...(features ? { readerFeatures: features, writerFeatures: features } : {}),
    },
  }
}

export function metaDataAction(
  fields: readonly StructField[],
  partitionColumns: readonly string[] = [],
  configuration: Record<string, string> = {},
) {
  return {
    metaData: {
      id: 'test-table',
      format: { provider: 'parquet', options: {} },
      schemaString: schemaToJson({ type: 'struct', fields }),
      partitionColumns,
      configuration,
      createdTime: 0,
    },
  }
}

export function addAction(path: string, extra: Record<string, unknown> = {}) {
  return {
    add: {
      path,
      partitionValues: {},
      size: 1,
      modificationTime: 0,
      dataChange: true,
      ...extra,
    },
  }
}

/** An inline deletion vector deleting `rows` (PROTOCOL.md: Z85 of the bitmap, padded to 4). */
export function inlineDv(rows: readonly number[]) {
  const bitmap = serializeRoaringBitmapArray(rows)
  const padded = new Uint8Array(Math.ceil(bitmap.length / 4) * 4)
  padded.set(bitmap)
  return {
    storageType: 'i',
    pathOrInlineDv: encodeZ85(padded),
    sizeInBytes: bitmap.length,
    cardinality: rows.length,
  }
}

/** Writes commit files 0..n-1 (with a commitInfo each) into `<table>/_delta_log`. */
export function writeLog(table: string, commits: readonly (readonly object[])[], from = 0): void {
  mkdirSync(join(table, '_delta_log'), { recursive: true })
  commits.forEach((actions, i) => {
    const lines = [
      { commitInfo: { timestamp: 1_700_000_000_000 + (from + i) * 1000, operation: 'WRITE' } },
      ...actions,
    ].map((a) => JSON.stringify(a))
    writeFileSync(join(table, '_delta_log', commitFileName(from + i)), `${lines.join('\n')}\n`)
  })
}
