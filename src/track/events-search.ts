/**
 * Full-text search over the text fields of event payloads (messages, notes, predictions),
 * ranked by BM25. DuckDB's fts extension cannot be installed offline, so the index is SQLite's
 * FTS5 (built into better-sqlite3) in a sidecar file beside the store, `<store>.fts.sqlite`.
 * Indexing is incremental and idempotent: the sidecar remembers the ids it holds.
 *
 *   events_all (string fields of each payload, DuckDB, async) → worker thread: ids not in the
 *   sidecar → FTS5 insert → MATCH, bm25 → hits
 *
 * better-sqlite3 is synchronous, so the SQLite work runs in a worker thread
 * (events-search-worker.ts): indexing thousands of events or scoring a common word never
 * blocks the caller's event loop.
 */
import { Worker } from 'node:worker_threads'
import { workerScript } from '../engine/worker-script.js'
import { DuckmergeError } from '../errors.js'
import type { EventStore } from './event-store.js'
import {
  type SearchJob,
  type SearchOutcome,
  searchWorkerMarker,
  type TextRow,
} from './events-search-worker.js'

export interface SearchHit {
  readonly eventId: string
  readonly experiment: string
  readonly run: string
  readonly type: string
  /** The matching text with the terms in [brackets]. */
  readonly snippet: string
  /** BM25 as FTS5 computes it: lower is a better match. */
  readonly score: number
}

/** The sidecar file of a store. */
export function searchIndexPath(store: EventStore): string {
  return `${store.path}.fts.sqlite`
}

/** Top-level string fields of each payload, one text per event (events without text left out). */
function textRows(store: EventStore): Promise<TextRow[]> {
  return store.query<TextRow>(`select e.event_id, e.experiment, e.run, e.type,
      string_agg(json_extract_string(e.payload, '$."' || replace(k.key, '"', '\\"') || '"'), ' ')
        filter (where json_type(e.payload, '$."' || replace(k.key, '"', '\\"') || '"') = 'VARCHAR') as text
    from events_all e, unnest(json_keys(e.payload)) as k(key)
    group by all having text is not null and text <> ''`)
}

function runInWorker(job: Omit<SearchJob, 'marker'>): Promise<SearchOutcome> {
  const script = workerScript(import.meta.url, 'events-search-worker')
  const worker = new Worker(script.source, {
    eval: script.isEval,
    workerData: { ...job, marker: searchWorkerMarker } satisfies SearchJob,
  })
  return new Promise((resolve, reject) => {
    worker.once('message', (outcome: SearchOutcome) => {
      resolve(outcome)
      void worker.terminate()
    })
    worker.once('error', reject)
    worker.once('exit', (code) =>
      reject(new Error(`the search worker stopped (exit ${code}) before answering`)),
    )
  })
}

async function run(store: EventStore, query: string | undefined, limit: number) {
  const outcome = await runInWorker({
    indexPath: searchIndexPath(store),
    rows: await textRows(store),
    ...(query !== undefined ? { query } : {}),
    limit,
  })
  if (outcome.ok) return outcome
  if (outcome.stage === 'query')
    throw new DuckmergeError(
      'USAGE',
      `Cannot search ${store.path} for "${query}": ${outcome.message} (FTS5 query syntax: words, "phrases", OR, NOT, prefix*).`,
      { path: store.path, query },
    )
  throw new DuckmergeError(
    'OUTPUT_UNWRITABLE',
    `Cannot update the search index ${searchIndexPath(store)}: ${outcome.message}.`,
    { path: searchIndexPath(store), hint: 'Delete the index file; the next search rebuilds it.' },
  )
}

/**
 * Adds the events the index does not hold yet; returns how many were added.
 *
 * @example
 * await indexEvents(store) // 120, then 0 when run again
 */
export async function indexEvents(store: EventStore): Promise<number> {
  return (await run(store, undefined, 0)).added
}

/**
 * Events whose text matches `query` (FTS5 syntax: words, "phrases", OR, prefix*), best first.
 * Indexes new events first; the SQLite work runs in a worker thread.
 *
 * @example
 * await searchEvents(store, 'deal OR agreement', { limit: 5 })
 */
export async function searchEvents(
  store: EventStore,
  query: string,
  options: { readonly limit?: number } = {},
): Promise<SearchHit[]> {
  const { hits } = await run(store, query, options.limit ?? 10)
  return hits.map((r) => ({
    eventId: r.event_id,
    experiment: r.experiment,
    run: r.run,
    type: r.type,
    snippet: r.snippet,
    score: r.score,
  }))
}
