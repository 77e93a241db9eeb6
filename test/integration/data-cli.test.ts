import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { parquetCompressions, readParquet, writeParquet } from './data-support.js'

const cols = { id: 'INTEGER', v: 'VARCHAR' }

async function inputs(dir: string): Promise<{ base: string; exp: string }> {
  const base = join(dir, 'base.parquet')
  const exp = join(dir, 'exp.parquet')
  await writeParquet(base, cols, [
    [1, 'a'],
    [2, 'b'],
  ])
  await writeParquet(exp, { id: 'INTEGER', v: 'VARCHAR', lr: 'DOUBLE' }, [
    [2, 'B', 0.1],
    [3, 'C', 0.2],
  ])
  return { base, exp }
}

describe('duckmerge data merge / rebase (CLI)', () => {
  test('merge --json prints exactly one JSON object with the report figures', async () => {
    const dir = tempDir()
    const { base, exp } = await inputs(dir)
    const output = join(dir, 'out.parquet')
    const r = runCli([
      'data',
      'merge',
      '--base',
      base,
      '--exp',
      exp,
      '--output',
      output,
      '--dedup-key',
      'id',
      '--json',
    ])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    const report = r.json()
    expect(report).toMatchObject({
      strategy: 'merge',
      dryRun: false,
      base,
      exp,
      output,
      rowsBefore: 2,
      rowsInserted: 1,
      rowsReplaced: 0,
      rowsSkipped: 1,
      rowsAfter: 3,
      columnsAdded: ['lr'],
    })
    expect(typeof report.durationMs).toBe('number')
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'a', lr: null },
      { id: 2, v: 'b', lr: null },
      { id: 3, v: 'C', lr: 0.2 },
    ])
    expect(await parquetCompressions(output)).toEqual(['ZSTD'])
  })

  test('rebase prints the human summary without --json', async () => {
    const dir = tempDir()
    const { base, exp } = await inputs(dir)
    const output = join(dir, 'out.parquet')
    const r = runCli([
      'data',
      'rebase',
      '--base',
      base,
      '--exp',
      exp,
      '--output',
      output,
      '--key',
      'id',
      '--compression',
      'snappy',
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`rebase: ${exp} → ${output}`)
    expect(r.stdout).toContain('rows: 2 before, +2 inserted, 1 replaced, 0 skipped, 3 after')
    expect(r.stdout).toContain('columns added: lr')
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'a', lr: null },
      { id: 2, v: 'B', lr: 0.1 },
      { id: 3, v: 'C', lr: 0.2 },
    ])
    expect(await parquetCompressions(output)).toEqual(['SNAPPY'])
  })

  test('--dry-run --json reports the figures and writes nothing', async () => {
    const dir = tempDir()
    const { base, exp } = await inputs(dir)
    const before = hashTree(dir)
    const output = join(dir, 'out.parquet')
    const r = runCli([
      'data',
      'rebase',
      '--base',
      base,
      '--exp',
      exp,
      '--output',
      output,
      '--key',
      'id',
      '--dry-run',
      '--json',
    ])
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({ dryRun: true, rowsReplaced: 1, rowsInserted: 2, rowsAfter: 3 })
    expect(existsSync(output)).toBe(false)
    expect(hashTree(dir)).toEqual(before)
  })

  test('--partition-by writes a directory', async () => {
    const dir = tempDir()
    const { base, exp } = await inputs(dir)
    const output = join(dir, 'out')
    const r = runCli([
      'data',
      'merge',
      '--base',
      base,
      '--exp',
      exp,
      '--output',
      output,
      '--partition-by',
      'id',
      '--memory-limit',
      '256MB',
      '--json',
    ])
    expect(r.code).toBe(0)
    expect(await readParquet(join(output, '*', '*.parquet'), { hive: true })).toHaveLength(4)
  })

  test.each([
    [['data', 'rebase', '--base', 'b', '--exp', 'e', '--output', 'o'], 'missing required --key'],
    [['data', 'merge', '--exp', 'e', '--output', 'o'], 'missing required --base'],
    [
      ['data', 'merge', '--base', 'b', '--exp', 'e', '--output', 'o', '--compression', 'lz4'],
      '--compression must be one of zstd, snappy, gzip, uncompressed, got "lz4"',
    ],
    [
      ['data', 'merge', '--base', 'b', '--exp', 'e', '--output', 'o', '--memory-limit', 'lots'],
      '--memory-limit must be a size',
    ],
    [
      ['data', 'merge', '--base', 'b', '--exp', 'e', '--output', 'o', '--frobnicate'],
      "Unknown option '--frobnicate'",
    ],
  ])('usage error (exit 2): %j', (args, message) => {
    const r = runCli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('[USAGE]')
    expect(r.stderr).toContain(message)
  })
})
