/**
 * Full-text search over the text fields of event payloads (messages, notes, predictions),
 * ranked by BM25. DuckDB's fts extension cannot be installed offline, so the index is SQLite's
 * FTS5 (built into better-sqlite3) in a sidecar file beside the store, `<store>.fts.sqlite`.
 * Indexing is incremental and idempotent: the sidecar remembers the ids it holds.
 *
 *   events_all (string fields of each payload) − ids in sidecar → FTS5 insert → search: MATCH, bm25
 */
import { sql } from '../engine/sql.js'
import { allSync, openSqlite, runSync } from '../engine/sqlite.js'
import { DuckmergeError, messageOf } from '../errors.js'
import type { EventStore } from './event-store.js'

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

function openIndex(store: EventStore) {
  const db = openSqlite(searchIndexPath(store), { fileMustExist: false })
  db.exec(`create virtual table if not exists events_fts using fts5(
      event_id UNINDEXED, experiment UNINDEXED, run UNINDEXED, type UNINDEXED, text);
    create table if not exists indexed (event_id TEXT PRIMARY KEY) without rowid;`)
  return db
}

/**
 * Adds the events the index does not hold yet; returns how many were added.
 *
 * @example
 * await indexEvents(store) // 120, then 0 when run again
 */
export async function indexEvents(store: EventStore): Promise<number> {
  // Top-level string fields of each payload, one text per event.
  const rows = await store.query<{
    event_id: string
    experiment: string
    run: string
    type: string
    text: string | null
  }>(`select e.event_id, e.experiment, e.run, e.type,
      string_agg(json_extract_string(e.payload, '$."' || replace(k.key, '"', '\\"') || '"'), ' ')
        filter (where json_type(e.payload, '$."' || replace(k.key, '"', '\\"') || '"') = 'VARCHAR') as text
    from events_all e, unnest(json_keys(e.payload)) as k(key)
    group by all`)
  const db = openIndex(store)
  try {
    const known = new Set(
      allSync<{ event_id: string }>(db, sql`select event_id from indexed`).map((r) => r.event_id),
    )
    const fresh = rows.filter((r) => !known.has(r.event_id) && r.text)
    db.transaction(() => {
      for (const r of fresh) {
        runSync(
          db,
          sql`insert into events_fts (event_id, experiment, run, type, text) values (${r.event_id}, ${r.experiment}, ${r.run}, ${r.type}, ${r.text})`,
        )
        runSync(db, sql`insert or ignore into indexed values (${r.event_id})`)
      }
    })()
    return fresh.length
  } finally {
    db.close()
  }
}

/**
 * Events whose text matches `query` (FTS5 syntax: words, "phrases", OR, prefix*), best first.
 *
 * @example
 * await searchEvents(store, 'deal OR agreement', { limit: 5 })
 */
export async function searchEvents(
  store: EventStore,
  query: string,
  options: { readonly limit?: number } = {},
): Promise<SearchHit[]> {
  await indexEvents(store)
  const db = openIndex(store)
  try {
    return allSync<{
      event_id: string
      experiment: string
      run: string
      type: string
      snippet: string
      score: number
    }>(
      db,
      sql`select event_id, experiment, run, type, snippet(events_fts, 4, '[', ']', '…', 12) as snippet,
        bm25(events_fts) as score from events_fts where events_fts match ${query}
        order by score limit ${options.limit ?? 10}`,
    ).map((r) => ({
      eventId: r.event_id,
      experiment: r.experiment,
      run: r.run,
      type: r.type,
      snippet: r.snippet,
      score: r.score,
    }))
  } catch (error) {
    throw new DuckmergeError(
      'USAGE',
      `Cannot search ${store.path} for "${query}": ${messageOf(error)} (FTS5 query syntax: words, "phrases", OR, NOT, prefix*).`,
      { path: store.path, query },
      { cause: error },
    )
  } finally {
    db.close()
  }
}
