/**
 * The opt-in result cache of `Tracker.track`: a result is stored under a stable content hash of
 * the function's name and arguments, in the tracker's own database (table `tracker_cache`), so a
 * re-run after a restart skips work already done. Lookups read the database directly (one
 * indexed row); writes travel with the tracked rows and are durable at the same `flush()`.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { ident } from '../engine/sql.js'
import { openSqlite, type SqliteDb } from '../engine/sqlite.js'
import { cacheTable } from './tracker-sqlite.js'

export interface CachedResult {
  readonly value: unknown
  /** The fn returned a promise: a hit returns one too. */
  readonly isAsync: boolean
  /** The run that computed it (xetrack's `cache` column lineage). */
  readonly trackId: string
}

/**
 * The cache key of a call, or undefined when an argument is not plain data (a function, a class
 * instance): such calls always run, as xetrack skips caching for unhashable arguments.
 *
 * @example
 * cacheKey('predict', [{ id: 1, x: 0.5 }]) === cacheKey('predict', [{ x: 0.5, id: 1 }]) // true
 */
export function cacheKey(functionName: string, args: readonly unknown[]): string | undefined {
  const text = canonicalJson([functionName, args])
  return text === undefined ? undefined : createHash('sha256').update(text).digest('hex')
}

/**
 * JSON with object keys sorted; undefined when the value holds anything but plain data.
 *
 * @example
 * canonicalJson({ b: 1, a: [2] }) // '{"a":[2],"b":1}'
 */
export function canonicalJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : `"${String(value)}"`
    case 'bigint':
      return `{"bigint":"${value}"}`
    case 'undefined':
      return 'null'
    case 'object': {
      if (value === null) return 'null'
      if (value instanceof Date) return `{"date":${JSON.stringify(value.toISOString())}}`
      if (Array.isArray(value)) {
        const items = value.map(canonicalJson)
        return items.includes(undefined) ? undefined : `[${items.join(',')}]`
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return undefined
      const parts: string[] = []
      for (const key of Object.keys(value).sort()) {
        const item = canonicalJson((value as Record<string, unknown>)[key])
        if (item === undefined) return undefined
        parts.push(`${JSON.stringify(key)}:${item}`)
      }
      return `{${parts.join(',')}}`
    }
    default:
      return undefined
  }
}

export class ResultCache {
  readonly #path: string
  readonly #memory = new Map<string, CachedResult>()
  #db: SqliteDb | undefined

  constructor(path: string) {
    this.#path = path
  }

  /** This process's own results first, then the database's. */
  get(key: string): CachedResult | undefined {
    const known = this.#memory.get(key)
    if (known) return known
    const row = this.#read(key)
    if (row === undefined) return undefined
    const stored = JSON.parse(row.result) as { value: unknown; isAsync: boolean }
    const hit = { value: stored.value, isAsync: stored.isAsync, trackId: row.track_id }
    this.#memory.set(key, hit)
    return hit
  }

  /** Remembers a result; returns the text to store, or undefined if it is not JSON data. */
  remember(key: string, hit: CachedResult): string | undefined {
    if (canonicalJson(hit.value) === undefined) return undefined
    const text = JSON.stringify({ value: hit.value, isAsync: hit.isAsync })
    this.#memory.set(key, { ...hit, value: JSON.parse(text).value })
    return text
  }

  close(): void {
    this.#db?.close()
    this.#db = undefined
  }

  #read(key: string): { result: string; track_id: string } | undefined {
    if (this.#db === undefined) {
      if (!existsSync(this.#path)) return undefined
      this.#db = openSqlite(this.#path, { fileMustExist: true })
    }
    try {
      return this.#db
        .prepare(`select result, track_id from ${ident(cacheTable).text} where cache_key = ?`)
        .get(key) as { result: string; track_id: string } | undefined
    } catch (error) {
      // No cache table yet: nothing was ever cached in this database.
      if (/no such table/.test((error as Error).message)) return undefined
      throw error
    }
  }
}
