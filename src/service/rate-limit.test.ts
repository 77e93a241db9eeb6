import { expect, test } from 'vitest'
import { DuckmergeError } from '../errors.js'
import { RateLimiter } from './rate-limit.js'

test('a bucket allows its limit per window, refuses the next with a retry time, and refills', () => {
  const limiter = new RateLimiter({ limit: 3, windowMs: 60_000 })
  for (let i = 0; i < 3; i++) limiter.take('a', 'reads', 0)
  let error: unknown
  try {
    limiter.take('a', 'reads', 0)
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(DuckmergeError)
  expect((error as DuckmergeError).code).toBe('RATE_LIMITED')
  expect((error as DuckmergeError).details.retry_after).toBe(20)
  // Other keys have their own bucket; a third of the window brings one token back.
  expect(limiter.allows('b', 0)).toBe(true)
  expect(limiter.allows('a', 19_999)).toBe(false)
  expect(limiter.allows('a', 20_000)).toBe(true)
})
