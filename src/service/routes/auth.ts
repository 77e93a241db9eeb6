/** Bearer tokens in front of /api/v1 (user tokens) and /delta (service tokens). */
import { bearerAuth } from '../auth.js'
import type { RouteModule } from '../context.js'

export const authRoutes: RouteModule = (app, deps) => {
  app.use('/api/v1/*', bearerAuth(deps.root.store.db, 'user'))
  app.use('/delta/*', bearerAuth(deps.root.store.db, 'service'))
}
