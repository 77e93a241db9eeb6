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
