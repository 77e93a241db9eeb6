/**
 * Liveness and readiness: /healthz answers while the process runs, /readyz when the store
 * answers and a DuckDB session opens with the sandbox in force (confined to the data root, no
 * extension auto-loading, configuration locked).
 */
import { sql } from 'kysely'
import { DuckDb } from '../../engine/duckdb.js'
import { raw } from '../../engine/sql.js'
import type { RouteModule } from '../context.js'

export const healthRoutes: RouteModule = (app, deps) => {
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    try {
      await sql`select 1`.execute(deps.root.store.db)
      return c.json({
        status: 'ready',
        store: deps.root.store.dialect,
        duckdb: await duckDbSettings(),
      })
    } catch {
      return c.json({ status: 'unavailable', request_id: c.get('requestId') }, 503)
    }
  })
}

/** The settings a DuckDB session of this process gets, read from a fresh one. */
async function duckDbSettings() {
  const db = await DuckDb.open({ threads: 1 })
  try {
    const row = await db.one<Record<string, boolean>>(
      raw(`SELECT current_setting('enable_external_access') AS external_access,
        current_setting('autoload_known_extensions') AS autoload_extensions,
        current_setting('autoinstall_known_extensions') AS autoinstall_extensions,
        current_setting('lock_configuration') AS configuration_locked`),
    )
    return { ...row }
  } finally {
    db.close()
  }
}
