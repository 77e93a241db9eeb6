/** What every route sees: the data root, the logger, and per request its id and caller. */
import type { Hono } from 'hono'
import type { Logger } from 'pino'
import type { DataRoot } from '../changes/data-root.js'
import type { Caller } from './auth.js'
import type { MergeRunner } from './merges.js'
import type { RowPages } from './row-pages.js'

/** The service's dependencies, shared by every route module. */
export interface ServiceDeps {
  readonly root: DataRoot
  readonly log: Logger
  /** Limits, overridable for tests. */
  readonly limits: ServiceLimits
  /** host:pid, recorded on the operations this instance runs. */
  readonly instance: string
  /** Runs merges as operations (set by createApp). */
  readonly merges: MergeRunner
  /** Pages of rows, from copies of recently read versions (set by createApp). */
  readonly pages: RowPages
}

export interface ServiceLimits {
  /** Largest upload (bytes), counted on the stream. */
  readonly uploadBytes: number
  /** Largest JSON body (bytes). */
  readonly jsonBytes: number
  /** Most data rows per upload (a file, or JSON upserts and deletes). */
  readonly uploadRows: number
  /** Most columns per upload. */
  readonly uploadColumns: number
}

export const DEFAULT_LIMITS: ServiceLimits = {
  uploadBytes: 1024 * 1024 * 1024,
  jsonBytes: 10 * 1024 * 1024,
  uploadRows: 50_000_000,
  uploadColumns: 1000,
}

export interface ServiceEnv {
  Variables: {
    requestId: string
    /** Set by the auth middleware on /api/v1 and /delta. */
    caller: Caller
  }
}

export type ServiceApp = Hono<ServiceEnv>

/**
 * A route module adds its routes to the app (the API, the seed's contract, the web UI's static
 * files). src/service/routes/index.ts lists them in mounting order.
 */
export type RouteModule = (app: ServiceApp, deps: ServiceDeps) => void
