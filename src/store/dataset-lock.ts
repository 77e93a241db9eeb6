/**
 * The merge lock of a dataset: merges of one dataset run one at a time, so each is planned against
 * the head it commits on (the Delta commit protocol still catches writers that take no lock).
 *
 *   in this process   a queue per dataset (both dialects)
 *   across processes  Postgres: a session advisory lock, pg_advisory_lock(DATASET_LOCK_CLASS, id),
 *                     on a session of its own, held for the whole merge; it ends with that
 *                     connection, so a killed holder frees it, and with the merge's manifest it
 *                     tells whether a `merging` change request has a live holder
 *                     (merge-recovery.ts). Released sessions are kept for the next locks.
 *                     SQLite: none here (the change request's compare-and-set and the merge
 *                     manifest's pid keep other processes out).
 *
 * The lock is re-entrant within one async call chain (AsyncLocalStorage): the service holds it
 * around its If-Match check and the merge it then runs, which takes it again.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import pg from 'pg'
import type { Store } from './store.js'

/** pg_advisory_lock's first key for dataset merge locks ("dmrg"); the second is the dataset id. */
export const DATASET_LOCK_CLASS = 0x646d7267

/** A held cross-process lock. */
export interface AdvisoryLock {
  release(): Promise<void>
}

const held = new AsyncLocalStorage<ReadonlySet<string>>()
/** The tail of each dataset's in-process queue, by store and dataset. */
const queues = new Map<string, Promise<void>>()

function keyOf(store: Store, datasetId: number): string {
  return `${store.label}\u0000${datasetId}`
}

/**
 * Runs `fn` holding dataset `datasetId`'s merge lock, waiting for it as long as it takes.
 *
 * @example
 * await withDatasetLock(root.store, dataset.id, () => mergeOnce())
 */
export async function withDatasetLock<T>(
  store: Store,
  datasetId: number,
  fn: () => Promise<T>,
): Promise<T> {
  const key = keyOf(store, datasetId)
  if (held.getStore()?.has(key)) return fn()
  const leave = await enterQueue(key, true)
  try {
    const lock = await store.advisoryLock(datasetId, true)
    return await holding(key, lock, fn)
  } finally {
    ;(leave as () => void)()
  }
}

/**
 * Runs `fn` holding the lock when nobody else holds it (here or in another process); else
 * returns `{ ran: false }` at once.
 */
export async function tryDatasetLock<T>(
  store: Store,
  datasetId: number,
  fn: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false }> {
  const key = keyOf(store, datasetId)
  if (held.getStore()?.has(key)) return { ran: true, value: await fn() }
  const leave = await enterQueue(key, false)
  if (!leave) return { ran: false }
  try {
    const lock = await store.advisoryLock(datasetId, false)
    if (!lock) return { ran: false }
    return { ran: true, value: await holding(key, lock, fn) }
  } finally {
    leave()
  }
}

async function holding<T>(key: string, lock: AdvisoryLock | undefined, fn: () => Promise<T>) {
  try {
    return await held.run(new Set([...(held.getStore() ?? []), key]), fn)
  } finally {
    await lock?.release()
  }
}

/** Joins the queue of `key` (or, when not waiting, takes it only if free); returns the leave. */
async function enterQueue(key: string, wait: boolean): Promise<(() => void) | undefined> {
  const previous = queues.get(key)
  if (previous && !wait) return undefined
  let leave = () => {}
  const mine = new Promise<void>((resolve) => {
    leave = resolve
  })
  const tail = (previous ?? Promise.resolve()).then(() => mine)
  queues.set(key, tail)
  await previous
  return () => {
    leave()
    if (queues.get(key) === tail) queues.delete(key)
  }
}

/**
 * Postgres's side of the lock: sessions outside the store's pool (which keeps serving queries
 * meanwhile), each taking one session advisory lock and keeping it until released. A released
 * session is kept for the next lock (opening one costs as much as a small merge's bookkeeping);
 * a session whose connection failed is dropped, which frees whatever it held.
 */
export class PgLockSessions {
  readonly #url: string
  readonly #idle: pg.Client[] = []
  #closed = false

  constructor(url: string) {
    this.#url = url
  }

  async lock(datasetId: number, wait: boolean): Promise<AdvisoryLock | undefined> {
    const kept = this.#idle.pop()
    if (kept)
      try {
        return await this.#lockOn(kept, datasetId, wait)
      } catch {
        // The kept session died unnoticed (a Postgres restart): a new one.
      }
    return this.#lockOn(await this.#connect(), datasetId, wait)
  }

  async #lockOn(
    client: pg.Client,
    datasetId: number,
    wait: boolean,
  ): Promise<AdvisoryLock | undefined> {
    const keys = [DATASET_LOCK_CLASS, datasetId % 2147483647]
    try {
      if (wait) await client.query('SELECT pg_advisory_lock($1::int4, $2::int4)', keys)
      else {
        const { rows } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock($1::int4, $2::int4) AS locked',
          keys,
        )
        if (rows[0]?.locked !== true) {
          this.#keep(client)
          return undefined
        }
      }
    } catch (error) {
      await client.end().catch(() => undefined)
      throw error
    }
    return {
      release: async () => {
        const unlocked = await client
          .query('SELECT pg_advisory_unlock($1::int4, $2::int4)', keys)
          .then(() => true)
          .catch(() => false)
        if (unlocked) this.#keep(client)
        else await client.end().catch(() => undefined)
      },
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#idle.splice(0).map((c) => c.end().catch(() => undefined)))
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.#url, keepAlive: true })
    // A dropped connection frees the lock server-side; the merge's lease (merge-recovery.ts)
    // keeps others from taking its change request meanwhile.
    client.on('error', () => {
      const at = this.#idle.indexOf(client)
      if (at >= 0) this.#idle.splice(at, 1)
    })
    await client.connect()
    return client
  }

  #keep(client: pg.Client): void {
    if (this.#closed || this.#idle.length >= IDLE_SESSIONS) void client.end().catch(() => undefined)
    else this.#idle.push(client)
  }
}

/** Released lock sessions kept open per store. */
const IDLE_SESSIONS = 4
