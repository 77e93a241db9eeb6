import { expect, test } from 'vitest'
import { cacheKey, canonicalJson } from './result-cache.js'

test('the key ignores object key order and depends on name and every argument', () => {
  const a = cacheKey('predict', [{ id: 1, x: 0.5 }, 'fast'])
  expect(a).toMatch(/^[0-9a-f]{64}$/)
  expect(cacheKey('predict', [{ x: 0.5, id: 1 }, 'fast'])).toBe(a)
  expect(cacheKey('predict', [{ id: 1, x: 0.5 }, 'slow'])).not.toBe(a)
  expect(cacheKey('score', [{ id: 1, x: 0.5 }, 'fast'])).not.toBe(a)
  expect(cacheKey('predict', [{ id: 1, x: 0.5 }])).not.toBe(a)
})

test('a string and a number with the same digits are different arguments', () => {
  expect(cacheKey('f', ['1'])).not.toBe(cacheKey('f', [1]))
})

test('calls with a non-data argument are not cacheable', () => {
  class Model {}
  expect(cacheKey('f', [() => 1])).toBeUndefined()
  expect(cacheKey('f', [new Model()])).toBeUndefined()
  expect(cacheKey('f', [{ nested: [Symbol('s')] }])).toBeUndefined()
})

test('canonical JSON sorts keys at every level', () => {
  expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}')
  expect(canonicalJson(new Date(Date.UTC(2024, 0, 1)))).toBe('{"date":"2024-01-01T00:00:00.000Z"}')
})
