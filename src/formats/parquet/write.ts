/** Writing a query's rows to Parquet with DuckDB's COPY: one file, or a hive-partitioned folder. */
import type { DuckDb } from '../../engine/duckdb.js'
import { identList, literal, raw, type Sql, sql } from '../../engine/sql.js'

export type Compression = 'zstd' | 'snappy' | 'gzip' | 'uncompressed'
export const compressions: readonly Compression[] = ['zstd', 'snappy', 'gzip', 'uncompressed']

export interface ParquetWriteOptions {
  readonly compression: Compression
  /** Write a folder of `col=value/` subfolders instead of one file. */
  readonly partitionBy?: readonly string[]
}

/**
 * Streams `query` into Parquet at `target` (a file, or a folder when partitioned) and returns
 * the number of rows written. The target path is a literal: DuckDB's COPY takes no parameter there.
 *
 * @example
 * await copyToParquet(db, sql`select * from t`, '/out/.x.tmp', { compression: 'zstd' })
 * // DuckDB: COPY (select * from t) TO '/out/.x.tmp' (FORMAT parquet, COMPRESSION zstd)
 */
export async function copyToParquet(
  db: DuckDb,
  query: Sql,
  target: string,
  options: ParquetWriteOptions,
): Promise<number> {
  if (!compressions.includes(options.compression))
    throw new TypeError(`unknown Parquet compression: ${options.compression}`)
  const partition =
    options.partitionBy && options.partitionBy.length > 0
      ? sql`, PARTITION_BY (${identList(options.partitionBy)})`
      : raw('')
  return db.run(
    sql`COPY (${query}) TO ${literal(target)} (FORMAT parquet, COMPRESSION ${raw(options.compression)}${partition})`,
  )
}
