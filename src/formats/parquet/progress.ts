/**
 * Progress of a long DuckDB statement, polled from DuckDB's own query progress while it runs
 * (the statement runs off the JS thread, so a timer can read it).
 */
import type { DuckDb } from '../../engine/duckdb.js'
import { raw } from '../../engine/sql.js'
import type { ProgressCallback } from '../../progress.js'

/** Turns on DuckDB's progress tracking without its own printed bar. */
export async function enableQueryProgress(db: DuckDb): Promise<void> {
  await db.run(raw('SET enable_progress_bar = true'))
  await db.run(raw('SET enable_progress_bar_print = false'))
}

/**
 * Runs `fn` (one DuckDB statement) and reports `{ phase, done: percent, total: 100 }` every
 * 200 ms, then 100 % when it ends. Without `onProgress` it just runs `fn`.
 *
 * @example
 * await trackQuery(db, 'writing out.parquet', onProgress, () => db.run(copy))
 */
export async function trackQuery<T>(
  db: DuckDb,
  phase: string,
  onProgress: ProgressCallback | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  if (!onProgress) return fn()
  onProgress({ phase, done: 0, total: 100, unit: '%' })
  const timer = setInterval(() => {
    const percentage = db.connection.progress.percentage
    if (percentage >= 0)
      onProgress({ phase, done: Math.min(99, Math.floor(percentage)), total: 100, unit: '%' })
  }, 200)
  try {
    const result = await fn()
    onProgress({ phase, done: 100, total: 100, unit: '%' })
    return result
  } finally {
    clearInterval(timer)
  }
}
