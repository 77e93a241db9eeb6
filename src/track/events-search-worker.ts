/**
 * The worker thread that does a search's SQLite work (FTS5 indexing and the BM25 query), so a
 * long-running process (the service) keeps answering while a big index is built or scored.
 * One job per worker: it opens the sidecar, indexes the rows it is given that the sidecar does
 * not hold yet, runs the query when there is one, and posts the outcome back.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { sql } from '../engine/sql.js'
import { allSync, openSqlite, runSync } from '../engine/sqlite.js'
import { messageOf } from '../errors.js'

/** The marker a search job carries, so importing this module elsewhere does nothing. */
export const searchWorkerMarker = 'duckmerge-events-search'

export interface TextRow {
  readonly event_id: string
  readonly experiment: string
  readonly run: string
  readonly type: string
  readonly text: string
}

export interface SearchJob {
  readonly marker: typeof searchWorkerMarker
  readonly indexPath: string
  readonly rows: readonly TextRow[]
  readonly query?: string
  readonly limit: number
}

export type SearchOutcome =
  | {
      readonly ok: true
      readonly added: number
      readonly hits: readonly (Omit<TextRow, 'text'> & { snippet: string; score: number })[]
    }
  | { readonly ok: false; readonly stage: 'index' | 'query'; readonly message: string }

function runJob(job: SearchJob): SearchOutcome {
  let stage: 'index' | 'query' = 'index'
  const db = openSqlite(job.indexPath, { fileMustExist: false })
  try {
    db.exec(`create virtual table if not exists events_fts using fts5(
        event_id UNINDEXED, experiment UNINDEXED, run UNINDEXED, type UNINDEXED, text);
      create table if not exists indexed (event_id TEXT PRIMARY KEY) without rowid;`)
    const known = new Set(
      allSync<{ event_id: string }>(db, sql`select event_id from indexed`).map((r) => r.event_id),
    )
    const fresh = job.rows.filter((r) => !known.has(r.event_id))
    db.transaction(() => {
      for (const r of fresh) {
        runSync(
          db,
          sql`insert into events_fts (event_id, experiment, run, type, text) values (${r.event_id}, ${r.experiment}, ${r.run}, ${r.type}, ${r.text})`,
        )
        runSync(db, sql`insert or ignore into indexed values (${r.event_id})`)
      }
    })()
    if (job.query === undefined) return { ok: true, added: fresh.length, hits: [] }
    stage = 'query'
    const hits = allSync<Omit<TextRow, 'text'> & { snippet: string; score: number }>(
      db,
      sql`select event_id, experiment, run, type, snippet(events_fts, 4, '[', ']', '…', 12) as snippet,
        bm25(events_fts) as score from events_fts where events_fts match ${job.query}
        order by score limit ${job.limit}`,
    )
    return { ok: true, added: fresh.length, hits }
  } catch (error) {
    return { ok: false, stage, message: messageOf(error) }
  } finally {
    db.close()
  }
}

const job = workerData as SearchJob | undefined
if (parentPort !== null && job?.marker === searchWorkerMarker) parentPort.postMessage(runJob(job))
