import { describe, expect, test } from 'vitest'
import { isDuckmergeError } from '../errors.js'
import {
  columnName,
  columnType,
  formatTimestamp,
  formatUtcTimestamp,
  generateTrackId,
  MonotonicClock,
  toCell,
} from './tracker-values.js'

describe('columnName (xetrack _validate_key)', () => {
  test.each([
    ['my-metric x', 'my_metric_x'],
    ['accuracy', 'accuracy'],
    ['7', '7'],
    ['naïve', 'na_ve'],
    ['a.b/c', 'a_b_c'],
    ['x'.repeat(70), 'x'.repeat(64)],
  ])('%s → %s', (key, name) => expect(columnName(key)).toBe(name))

  test('an empty key is rejected', () => {
    expect(() => columnName('')).toThrow(/empty key/)
  })
})

describe('toCell and columnType', () => {
  test.each<[string, unknown, unknown, string | undefined]>([
    ['int', 3, 3, 'INTEGER'],
    ['float', 0.5, 0.5, 'REAL'],
    ['bool true', true, 1, 'INTEGER'],
    ['bool false', false, 0, 'INTEGER'],
    ['string', 'yes', 'yes', 'TEXT'],
    ['bigint', 12n, 12n, 'INTEGER'],
    ['list', ['a', 'b'], '["a","b"]', 'TEXT'],
    ['dict', { depth: 2 }, '{"depth":2}', 'TEXT'],
    ['null', null, null, undefined],
    ['undefined', undefined, null, undefined],
  ])('%s', (_name, value, cell, type) => {
    const c = toCell('k', value)
    expect(c).toEqual(cell)
    if (type !== undefined && c !== null) expect(columnType(c, value)).toBe(type)
  })

  test('a Date becomes xetrack timestamp text', () => {
    const cell = toCell('when', new Date(2024, 0, 2, 3, 4, 5, 6))
    expect(cell).toBe('2024-01-02 03:04:05.006000')
  })

  test('bytes stay bytes in a BLOB column', () => {
    const bytes = new Uint8Array([1, 2])
    expect(columnType(toCell('b', bytes), bytes)).toBe('BLOB')
  })

  test.each([
    ['function', () => 1],
    ['symbol', Symbol('s')],
  ])('a %s is rejected naming the key', (type, value) => {
    let caught: unknown
    try {
      toCell('bad-key', value)
    } catch (error) {
      caught = error
    }
    expect(isDuckmergeError(caught, 'VALIDATION_FAILED')).toBe(true)
    expect((caught as Error).message).toBe(
      `Cannot track "bad-key": a ${type} cannot be stored in a column. ` +
        'Log a number, string, boolean, Date, Uint8Array, array or plain object instead.',
    )
  })

  test('a function nested in an object is rejected naming the key', () => {
    expect(() => toCell('cfg', { f: () => 1 })).toThrow(/Cannot track "cfg": its value cannot/)
  })
})

describe('timestamps', () => {
  test('local time with six fraction digits', () => {
    const micros = new Date(2024, 0, 2, 3, 4, 5).getTime() * 1000 + 6
    expect(formatTimestamp(micros)).toBe('2024-01-02 03:04:05.000006')
    expect(formatTimestamp(micros + 999_993)).toBe('2024-01-02 03:04:05.999999')
    expect(formatTimestamp(micros + 999_994)).toBe('2024-01-02 03:04:06.000000')
  })

  test('UTC text for the event store', () => {
    expect(formatUtcTimestamp(Date.UTC(2024, 4, 1, 12, 0, 0) * 1000 + 42)).toBe(
      '2024-05-01 12:00:00.000042',
    )
  })

  test('the clock never repeats, even within one microsecond', () => {
    const clock = new MonotonicClock()
    const seen = Array.from({ length: 10_000 }, () => clock.nowMicros())
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
  })
})

test('track ids read like xetrack: adjective-animal-1234', () => {
  for (let i = 0; i < 50; i++) expect(generateTrackId()).toMatch(/^[a-z]+-[a-z]+-\d{4}$/)
})
