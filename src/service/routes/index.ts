/**
 * The route modules createApp mounts, in order: public routes first, then the bearer-token
 * middleware, then the API. Append new modules here (the web UI's go after the API).
 */
import type { RouteModule } from '../context.js'
import { authRoutes } from './auth.js'
import { changeRequestRoutes } from './change-requests.js'
import { datasetRoutes } from './datasets.js'
import { experimentRoutes } from './experiments.js'
import { healthRoutes } from './health.js'
import { mergeCrRoutes } from './merge-cr.js'
import { openApiRoutes } from './openapi.js'
import { operationRoutes } from './operations.js'
import { projectRoutes } from './projects.js'
import { reviewRoutes } from './review.js'
import { uiRoutes } from './ui.js'

export const routeModules: readonly RouteModule[] = [
  healthRoutes,
  openApiRoutes,
  authRoutes,
  projectRoutes,
  datasetRoutes,
  changeRequestRoutes,
  reviewRoutes,
  operationRoutes,
  mergeCrRoutes,
]

/** The web app and what only it needs; `serve` mounts these after the API. */
export function webRoutes(resultsFiles: readonly string[] = []): RouteModule[] {
  return [experimentRoutes(resultsFiles), uiRoutes()]
}
