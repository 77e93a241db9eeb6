/**
 * In-process rate limits (token buckets): failed logins per client address, reads and writes per
 * token. Over the limit → RATE_LIMITED (429 with Retry-After). With several server processes
 * each counts on its own.
 */
import { DuckmergeError } from '../errors.js'

export interface Rate {
  /** Requests allowed per window. */
  readonly limit: number
  readonly windowMs: number
}

export const RATES = {
  failedAuth: { limit: 20, windowMs: 60_000 },
  reads: { limit: 1200, windowMs: 60_000 },
  writes: { limit: 120, windowMs: 60_000 },
} as const satisfies Record<string, Rate>

/** Buckets by key; each refills continuously at limit per window. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  constructor(readonly rate: Rate) {}

  /** Takes one token for `key`, or throws RATE_LIMITED saying when to retry. */
  take(key: string, what: string, now = Date.now()): void {
    if (!this.allows(key, now))
      throw new DuckmergeError('RATE_LIMITED', `Too many ${what}; retry later.`, {
        retry_after: this.retryAfter(key, now),
      })
    this.#spend(key, now)
  }

  /** Whether `key` has a token left (without taking one). */
  allows(key: string, now = Date.now()): boolean {
    return this.#refill(key, now).tokens >= 1
  }

  /** Records one event against `key` (e.g. a failed login). */
  note(key: string, now = Date.now()): void {
    this.#spend(key, now)
  }

  /** Seconds until `key` has a token again. */
  retryAfter(key: string, now = Date.now()): number {
    const bucket = this.#refill(key, now)
    const perMs = this.rate.limit / this.rate.windowMs
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000))
  }

  #spend(key: string, now: number) {
    const bucket = this.#refill(key, now)
    bucket.tokens = Math.max(0, bucket.tokens - 1)
  }

  #refill(key: string, now: number) {
    let bucket = this.#buckets.get(key)
    if (!bucket) {
      if (this.#buckets.size > 100_000) this.#buckets.clear()
      bucket = { tokens: this.rate.limit, at: now }
      this.#buckets.set(key, bucket)
    }
    const perMs = this.rate.limit / this.rate.windowMs
    bucket.tokens = Math.min(this.rate.limit, bucket.tokens + (now - bucket.at) * perMs)
    bucket.at = now
    return bucket
  }
}
