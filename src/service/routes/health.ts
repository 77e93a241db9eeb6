/** Liveness and readiness: /healthz answers while the process runs, /readyz when the store does. */
import { sql } from 'kysely'
import type { RouteModule } from '../context.js'

export const healthRoutes: RouteModule = (app, deps) => {
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    try {
      await sql`select 1`.execute(deps.root.store.db)
      return c.json({ status: 'ready', store: deps.root.store.dialect })
    } catch {
      return c.json({ status: 'unavailable', request_id: c.get('requestId') }, 503)
    }
  })
}
