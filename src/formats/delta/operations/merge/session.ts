/** A DuckDB session sized for merging big tables: bounded memory, spilling to a private temp folder. */
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDb } from '../../../../engine/duckdb.js'

export interface SessionOptions {
  /** DuckDB's memory_limit; past it, joins and sorts spill to `tempDirectory`. Default '1GB'. */
  readonly memoryLimit?: string
  /** Where DuckDB spills; default a fresh folder under the OS temp dir, removed afterwards. */
  readonly tempDirectory?: string
  /** DuckDB threads; default DuckDB's (one per core). */
  readonly threads?: number
}

export const DEFAULT_MEMORY_LIMIT = '1GB'

/**
 * Runs `fn` with a DuckDB opened for streaming work: memory_limit set, a temp directory to
 * spill to, and preserve_insertion_order off so scans and copies stream instead of buffering
 * (delta-rs users' most common MERGE failure is running out of memory; DuckDB spills instead).
 *
 * @example
 * await withMergeSession({ memoryLimit: '512MB' }, (db) => db.run(sql`select 1`))
 */
export async function withMergeSession<T>(
  options: SessionOptions,
  fn: (db: DuckDb) => Promise<T>,
): Promise<T> {
  const ownTemp = options.tempDirectory === undefined
  // Not created here: DuckDB creates it only when it spills, so a killed process leaves nothing.
  const tempDirectory =
    options.tempDirectory ??
    join(tmpdir(), `duckmerge-merge-${process.pid}-${randomBytes(4).toString('hex')}`)
  const db = await DuckDb.open({
    memoryLimit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
    tempDirectory,
    preserveInsertionOrder: false,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  })
  try {
    return await fn(db)
  } finally {
    db.close()
    if (ownTemp) rmSync(tempDirectory, { recursive: true, force: true })
  }
}
