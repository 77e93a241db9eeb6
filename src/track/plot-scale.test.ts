import { describe, expect, test } from 'vitest'
import { formatTick, linearScale, logScale, prefersLog } from './plot-scale.js'

describe('linearScale', () => {
  test('widens to nice ticks and maps the domain onto the range', () => {
    const s = linearScale(0.71, 0.97, [400, 0])
    expect(s.ticks.map((t) => t.label)).toEqual(['0.7', '0.75', '0.8', '0.85', '0.9', '0.95', '1'])
    expect(s.domain).toEqual([0.7, 1])
    expect(s.map(0.7)).toBe(400)
    expect(s.map(1)).toBeCloseTo(0, 9)
    expect(s.map(0.85)).toBeCloseTo(200, 9)
  })

  test('a single value gets a range around it', () => {
    expect(linearScale(5, 5, [0, 100]).domain).toEqual([4.4, 5.6])
    expect(linearScale(0, 0, [0, 100]).domain).toEqual([-1, 1])
  })
})

describe('logScale', () => {
  test('under three decades labels 1, 2 and 5 × 10^k; other multiples are minor', () => {
    const s = logScale(0.0003, 0.03, [0, 600])
    expect(s.ticks.filter((t) => !t.minor).map((t) => t.label)).toEqual([
      '0.0005',
      '0.001',
      '0.002',
      '0.005',
      '0.01',
      '0.02',
    ])
    expect(s.ticks.filter((t) => t.minor).every((t) => t.label === '')).toBe(true)
    // Equal ratios are equal distances.
    expect(s.map(0.003) - s.map(0.0003)).toBeCloseTo(s.map(0.03) - s.map(0.003), 9)
  })

  test('wide spans label decades only', () => {
    const labels = logScale(1e-6, 1, [0, 600])
      .ticks.filter((t) => !t.minor)
      .map((t) => t.label)
    expect(labels).toEqual(['1e-6', '1e-5', '0.0001', '0.001', '0.01', '0.1', '1'])
  })
})

test('prefersLog: positive values spanning two decades', () => {
  expect(prefersLog([0.0003, 0.003, 0.03])).toBe(true)
  expect(prefersLog([0.01, 0.5])).toBe(false)
  expect(prefersLog([0, 1, 1000])).toBe(false)
  expect(prefersLog([5])).toBe(false)
})

test.each([
  [0, '0'],
  [0.75, '0.75'],
  [0.0001, '0.0001'],
  [0.00002, '2e-5'],
  [25000, '25k'],
  [3_000_000, '3M'],
  [1e10, '1e10'],
  [-0.5, '-0.5'],
])('formatTick(%s) is %s', (value, label) => {
  expect(formatTick(value)).toBe(label)
})
