import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { bumpVersion, compareVersions, formatVersion, parseVersion } from './versioning.js'

describe('parseVersion', () => {
  test.each([
    ['e0.2.0', { prefix: 'e', major: 0, minor: 2, patch: 0 }],
    ['e10.0.3', { prefix: 'e', major: 10, minor: 0, patch: 3 }],
    ['e0.2', undefined],
    ['e0.2.0-rc1', undefined],
    ['e01.2.0', undefined],
    ['v0.2.0', undefined],
    ['e', undefined],
  ])('%s', (name, expected) => {
    expect(parseVersion(name)).toEqual(expected)
  })

  test('another prefix', () => {
    expect(parseVersion('exp-1.2.3', 'exp-')).toEqual({
      prefix: 'exp-',
      major: 1,
      minor: 2,
      patch: 3,
    })
  })
})

test.each([
  ['major', 'e1.0.0'],
  ['minor', 'e0.3.0'],
  ['patch', 'e0.2.2'],
] as const)('bump %s of e0.2.1 is %s', (bump, expected) => {
  const v = parseVersion('e0.2.1')
  expect(v && formatVersion(bumpVersion(v, bump))).toBe(expected)
})

test('a bump is always greater, and format/parse round-trip', () => {
  const version = fc.record({
    prefix: fc.constant('e'),
    major: fc.nat(1000),
    minor: fc.nat(1000),
    patch: fc.nat(1000),
  })
  fc.assert(
    fc.property(version, fc.constantFrom('major', 'minor', 'patch' as const), (v, bump) => {
      expect(parseVersion(formatVersion(v))).toEqual(v)
      expect(compareVersions(bumpVersion(v, bump), v)).toBeGreaterThan(0)
    }),
  )
})
