import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'

describe('cli', () => {
  test('--help lists commands and exits 0', () => {
    const r = runCli(['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('duckmerge')
  })

  test('an unknown command is a usage error (exit 2)', () => {
    const r = runCli(['frobnicate'])
    expect(r.code).toBe(2)
    expect(r.stdout).toContain('Unknown command: frobnicate')
  })
})

describe('flag values', () => {
  test('a single-value flag given twice is a usage error (exit 2) naming the flag', () => {
    const r = runCli(['results', 'merge', '--base', 'a.db', '--base', 'b.db', '--exp', 'c.db'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('[USAGE]: --base was given more than once; it takes one value')
  })

  test('a repeatable flag may be given twice', () => {
    const r = runCli([
      'results',
      'merge',
      '--base',
      'a.db',
      '--exp',
      'b.db',
      '--table',
      'x',
      '--table',
      'y',
    ])
    expect(r.code).toBe(1) // a.db is missing: the flags themselves were accepted
    expect(r.stderr).toContain('[INPUT_NOT_FOUND]')
  })

  test.each([
    ['0', '--limit must be a whole number of 1 or more, got "0"'],
    ['-5', '--limit must be a whole number of 1 or more, got "-5"'],
    ['2.5', '--limit must be a whole number of 1 or more, got "2.5"'],
  ])('--limit %s is a usage error saying what a limit is', (value, message) => {
    const r = runCli(['exp', 'list', '--limit', value])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(`duckmerge: error [USAGE]: ${message}`)
  })
})
