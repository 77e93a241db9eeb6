/**
 * The dataset merge lock on a Postgres store (every merge takes and releases it): 200 take +
 * release cycles of withDatasetLock against the floor, the same number of round trips to the same
 * server on the store's pool (2 per cycle: lock, unlock).
 * Before sessions were kept, each cycle opened a connection (~70-90 ms here). Needs Debian's
 * PostgreSQL binaries (a throwaway cluster, as the tests start it).
 */
import { sql } from 'kysely'
import { withDatasetLock } from '../src/store/dataset-lock.js'
import { openStore } from '../src/store/store.js'
import { hasPostgres, noPostgresReason, startPostgres } from '../test/support/postgres.js'
import { measure, report } from './support.js'

const cycles = 200

if (!hasPostgres) process.stdout.write(`skipped: ${noPostgresReason}\n`)
else {
  const cluster = await startPostgres()
  try {
    const store = await openStore({ url: await cluster.database() })
    try {
      await withDatasetLock(store, 1, async () => {}) // warm: one session opened
      const best = async (fn: () => Promise<unknown>) => {
        const runs = [await measure(fn), await measure(fn), await measure(fn)]
        return runs.reduce((a, b) => (b.ms < a.ms ? b : a))
      }
      const lock = await best(async () => {
        for (let i = 0; i < cycles; i++) await withDatasetLock(store, 1 + (i % 3), async () => {})
      })
      const floor = await best(async () => {
        for (let i = 0; i < cycles * 2; i++) await sql`SELECT 1`.execute(store.db)
      })
      report(`merge lock, ${cycles} take+release`, lock, {
        label: `${cycles * 2} round trips on the store's pool`,
        m: floor,
      })
    } finally {
      await store.close()
    }
  } finally {
    cluster.stop()
  }
}
