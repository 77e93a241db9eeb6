/**
 * Archiving old runs of an event store to Parquet, partitioned by event date, in an order that
 * readers of `events_all` never notice:
 *
 *   pick event ids (runs idle > N days, not yet archived) → COPY them to a hidden temp folder
 *   → rename each file into date=YYYY-MM-DD/ (atomic per file; events_all hides an archived id
 *     while it is still live) → point events_all at the archive → delete those ids from events,
 *     in one transaction → drop temp
 */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { DuckDb } from '../engine/duckdb.js'
import { literal, raw, sql } from '../engine/sql.js'
import type { ProgressCallback } from '../progress.js'

export interface ArchiveOptions {
  /** Archive runs whose newest event is older than this many days. */
  readonly olderThanDays: number
  /** The clock to measure age against (tests pin it). Default: now. */
  readonly now?: Date
  /** Phases: 'selecting runs', 'writing parquet', 'deleting archived events' (done/total = steps). */
  readonly onProgress?: ProgressCallback
}

export interface ArchiveReport {
  readonly runs: number
  readonly events: number
  /** Parquet files written, relative to the archive folder. */
  readonly files: readonly string[]
}

/**
 * Archives the runs idle for more than `olderThanDays` (see the file comment for the order of
 * steps). Called by `EventStore.archive`, which serialises it with every other store operation.
 *
 * @example
 * await archiveRuns(db, 'results/events.duckdb.archive', { olderThanDays: 30 }, refreshViews)
 * // { runs: 2, events: 7, files: ['date=2024-01-01/<batch>-0.parquet', …] }
 */
export async function archiveRuns(
  db: DuckDb,
  archiveDir: string,
  options: ArchiveOptions,
  /** Points events_all at the archive once the files are in place, before any row is deleted. */
  refreshViews: () => Promise<void>,
): Promise<ArchiveReport> {
  if (!(options.olderThanDays >= 0)) {
    throw new RangeError(`olderThanDays must be a number ≥ 0, got ${options.olderThanDays}`)
  }
  const step = (phase: string, done: number) =>
    options.onProgress?.({ phase, done, total: 3, unit: 'steps' })
  step('selecting runs', 0)
  const cutoff = new Date(
    (options.now ?? new Date()).getTime() - options.olderThanDays * 86_400_000,
  )
  await db.run(sql`create or replace temp table archive_batch as
    with old_runs as (
      select experiment, run from events group by experiment, run
      having max(time) < ${cutoff.toISOString()}::TIMESTAMPTZ::TIMESTAMP
    )
    select e.event_id, e.experiment, e.run from events e
    semi join old_runs o on o.experiment = e.experiment and o.run = e.run
    where not exists (select 1 from events_all a where a.event_id = e.event_id and a.source = 'archive')`)
  const counts = await db.one<{ events: bigint; runs: bigint }>(
    raw('select count(*) as events, count(distinct (experiment, run)) as runs from archive_batch'),
  )
  const events = Number(counts?.events ?? 0)
  if (events === 0) {
    await db.run(raw('drop table archive_batch'))
    return { runs: 0, events: 0, files: [] }
  }
  step('writing parquet', 1)
  await fs.mkdir(archiveDir, { recursive: true })
  const batch = randomUUID()
  const temp = join(archiveDir, `.tmp-${batch}`)
  const files: string[] = []
  try {
    await db.run(sql`copy (
        select e.*, strftime(e.time, '%Y-%m-%d') as date from events e
        semi join archive_batch b on b.event_id = e.event_id
        order by e.time, e.event_id
      ) to ${literal(temp)} (format parquet, partition_by (date), compression zstd)`)
    for (const part of (await fs.readdir(temp)).sort()) {
      await fs.mkdir(join(archiveDir, part), { recursive: true })
      for (const [i, file] of (await fs.readdir(join(temp, part))).sort().entries()) {
        const name = join(part, `${batch}-${i}.parquet`)
        await fs.rename(join(temp, part, file), join(archiveDir, name))
        files.push(name)
      }
    }
    await refreshViews()
    step('deleting archived events', 2)
    await db.transaction(async () => {
      await db.run(raw('delete from events where event_id in (select event_id from archive_batch)'))
    })
  } finally {
    await fs.rm(temp, { recursive: true, force: true })
    await db.run(raw('drop table if exists archive_batch'))
  }
  step('deleting archived events', 3)
  return { runs: Number(counts?.runs ?? 0), events, files }
}
