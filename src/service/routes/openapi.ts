/** GET /api/v1/openapi.json: the API description (public, like /healthz). */
import { ENGINE_INFO } from '../../formats/delta/commit.js'
import type { RouteModule } from '../context.js'
import { documented, openApiDocument } from '../openapi.js'

const version = ENGINE_INFO.split('/')[1] ?? '0.0.0'

export const openApiRoutes: RouteModule = (app) => {
  documented({
    method: 'get',
    path: '/api/v1/openapi.json',
    summary: 'This document',
    tag: 'meta',
    responses: { 200: 'OpenAPI 3.1 document' },
    isPublic: true,
  })
  app.get('/api/v1/openapi.json', (c) => c.json(openApiDocument(version)))
}
