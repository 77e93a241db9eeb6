/** Full-text search over event payloads: BM25 ranking over thousands of events, off the event loop. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { EventStore, type NewEvent } from '../../src/index.js'
import { indexEvents, searchEvents } from '../../src/track/events-search.js'
import { tempDir } from '../support/temp.js'

const words = ['deal', 'offer', 'trade', 'agree', 'refuse', 'barter', 'price', 'counter']

test('a search over 20k events indexes them in a worker thread: the event loop keeps ticking, hits are exact', async () => {
  const store = await EventStore.open({ path: join(tempDir(), 'events.duckdb') })
  const events: NewEvent[] = Array.from({ length: 20_000 }, (_, i) => ({
    eventId: `m-${i}`,
    time: new Date(Date.UTC(2024, 0, 1) + i * 1000),
    experiment: 'pidgin',
    run: `r${i % 10}`,
    type: 'message',
    // Every 1000th message says "zebra", i / 1000 + 1 times; the rest never.
    payload: {
      text: `${words[i % 8]} ${words[(i * 3) % 8]} ${i % 1000 === 0 ? 'zebra '.repeat(i / 1000 + 1) : ''}turn ${i}`,
      tokens: i % 50,
    },
  }))
  await store.append(events)
  let ticks = 0
  let last = performance.now()
  let maxGap = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks++
  }, 5)
  const started = performance.now()
  const hits = await searchEvents(store, 'zebra', { limit: 3 })
  const elapsed = performance.now() - started
  clearInterval(timer)
  // 20 messages say zebra: the more often, the better the BM25 score.
  expect(hits.map((h) => h.eventId)).toEqual(['m-19000', 'm-18000', 'm-17000'])
  expect(hits[0]).toMatchObject({ experiment: 'pidgin', run: 'r0', type: 'message' })
  expect(hits[0]?.snippet).toContain('[zebra]')
  // The loop kept running while the index was built: no pause near the whole search's length
  // (measured here: 7.2 s search, longest pause 1.3 s on a loaded machine; in-thread FTS5
  // indexing is one pause as long as most of the search).
  expect(ticks).toBeGreaterThan(5)
  expect(maxGap).toBeLessThan(elapsed / 2)
  expect(existsSync(`${store.path}.fts.sqlite`)).toBe(true)
  // Indexed once: nothing new the second time, and every word query still answers.
  expect(await indexEvents(store)).toBe(0)
  expect((await searchEvents(store, 'barter AND price', { limit: 100 })).length).toBe(0)
  // "agree offer" is the text of every message with i % 8 = 3.
  expect((await searchEvents(store, 'turn AND "agree offer"', { limit: 5000 })).length).toBe(2500)
  store.close()
}, 300_000)
