/**
 * Puts the app on a socket (@hono/node-server) and stops it gracefully: on abort the server stops
 * accepting, waits for the requests in flight (merges included) and closes the store.
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Logger } from 'pino'
import type { DataRoot } from '../changes/data-root.js'
import { confineDuckDb } from '../engine/duckdb.js'
import { createService } from './app.js'
import type { RouteModule, ServiceLimits } from './context.js'
import { recoverOperations } from './operations-recovery.js'

export interface ServeOptions {
  readonly root: DataRoot
  readonly log: Logger
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly limits?: Partial<ServiceLimits>
  readonly routes?: readonly RouteModule[]
  /** Files outside the data root DuckDB may read (results databases the web UI shows). */
  readonly readablePaths?: readonly string[]
}

export interface RunningServer {
  /** `http://HOST:PORT` with the port actually bound. */
  readonly url: string
  /** Stops accepting, drains requests and background merges in flight, then resolves. */
  close(): Promise<void>
}

/**
 * Starts listening; resolves once the port is bound. Before that, operations a killed server left
 * running are settled (operations-recovery.ts). From here on every DuckDB the process opens
 * is confined to the data root (engine/duckdb.ts `confineDuckDb`): no request can make it read
 * or write a file elsewhere, or load an extension.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  confineDuckDb({
    allowedDirectories: [options.root.path],
    allowedPaths: options.readablePaths ?? [],
  })
  // Operations a killed predecessor left running are settled before the first request.
  const started = performance.now()
  const recovered = await recoverOperations({ root: options.root })
  if (recovered.length > 0)
    options.log.warn(
      { operations: recovered, ms: Math.round(performance.now() - started) },
      'settled operations a stopped server left running',
    )
  const { app, drain } = createService({
    root: options.root,
    log: options.log,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
  })
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: options.host, port: options.port },
      (info: AddressInfo) => {
        const host = info.family === 'IPv6' ? `[${info.address}]` : info.address
        resolve({
          url: `http://${host}:${info.port}`,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done())
              // Idle keep-alive sockets would hold close() open; busy ones finish first.
              if ('closeIdleConnections' in server) server.closeIdleConnections()
            }).then(drain),
        })
      },
    )
    server.once('error', reject)
  })
}
