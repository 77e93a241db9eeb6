/**
 * The HTTP service as a hono app: request ids, access logs, errors in one shape, then the route
 * modules of routes/index.ts. Tests call `app.request(...)`; `serve` (server.ts) puts it on a socket.
 *
 *   request → X-Request-Id → access log → route (auth per module) → JSON | onError → response
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Hono } from 'hono'
import type { Logger } from 'pino'
import type { DataRoot } from '../changes/data-root.js'
import {
  DEFAULT_LIMITS,
  type RouteModule,
  type ServiceDeps,
  type ServiceEnv,
  type ServiceLimits,
} from './context.js'
import { errorHandler } from './error-response.js'
import { MergeRunner } from './merges.js'
import { routeModules } from './routes/index.js'
import { RowPages } from './row-pages.js'

export interface CreateAppOptions {
  readonly root: DataRoot
  readonly log: Logger
  readonly limits?: Partial<ServiceLimits>
  /** Route modules to mount after the built-in ones (e.g. the web UI). */
  readonly routes?: readonly RouteModule[]
}

// A client's own request id is kept when it is short and plain, so logs can be joined across hops.
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/**
 * Builds the app.
 *
 * @example
 * const app = createApp({ root: await openDataRoot({ root: dir }), log: pino({ enabled: false }) })
 * const res = await app.request('/healthz')
 */
export function createApp(options: CreateAppOptions): Hono<ServiceEnv> {
  return createService(options).app
}

/** The app and a `drain()` that waits for the merges it runs in the background, then closes. */
export function createService(options: CreateAppOptions): {
  app: Hono<ServiceEnv>
  drain: () => Promise<void>
} {
  const base = {
    root: options.root,
    log: options.log,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    instance: `${hostname()}:${process.pid}`,
    pages: new RowPages(),
  }
  const deps: ServiceDeps = { ...base, merges: new MergeRunner(base) }
  const app = new Hono<ServiceEnv>()
  app.use(async (c, next) => {
    const given = c.req.header('x-request-id')
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID()
    c.set('requestId', requestId)
    const started = performance.now()
    await next()
    c.res.headers.set('X-Request-Id', requestId)
    // No headers, no query strings: tokens and user text stay out of the logs.
    deps.log.info(
      {
        request_id: requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
        user: c.get('caller')?.name,
      },
      'request',
    )
  })
  app.onError(errorHandler(deps.log))
  app.notFound((c) =>
    c.json(
      {
        code: 'not_found',
        message: `No route ${c.req.method} ${c.req.path}.`,
        request_id: c.get('requestId'),
      },
      404,
    ),
  )
  for (const mount of [...routeModules, ...(options.routes ?? [])]) mount(app, deps)
  return {
    app,
    drain: async () => {
      await deps.merges.drain()
      await deps.pages.close()
    },
  }
}
