/**
 * `data rebase` with a column whose type changed (issue 8): the newer side's (theirs') type wins,
 * kept ours rows are cast to it, and a kept value that does not convert fails naming the column,
 * the first bad value and the count, writing nothing. Merge keeps widening. Real Parquet files.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { isDuckmergeError, mergeData, rebaseData } from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { parquetColumns, readParquet, writeParquet } from './data-support.js'

async function sides(
  baseType: string,
  oursRows: unknown[][],
  expType: string,
  theirsRows: unknown[][],
): Promise<{ dir: string; ours: string; theirs: string; output: string }> {
  const dir = tempDir()
  const ours = join(dir, 'base.parquet')
  const theirs = join(dir, 'exp.parquet')
  await writeParquet(ours, { id: 'INTEGER', v: baseType }, oursRows as never)
  await writeParquet(theirs, { id: 'INTEGER', v: expType }, theirsRows as never)
  return { dir, ours, theirs, output: join(dir, 'out.parquet') }
}

describe('rebase with a changed column type: exp’s type wins', () => {
  test('int in base, string in exp: kept base values become text', async () => {
    const c = await sides(
      'INTEGER',
      [
        [1, 10],
        [2, 20],
        [3, null],
      ],
      'VARCHAR',
      [[2, 'twenty']],
    )
    const report = await rebaseData({
      ours: c.ours,
      theirs: c.theirs,
      output: c.output,
      key: ['id'],
    })
    expect(report).toMatchObject({ rowsBefore: 3, rowsReplaced: 1, rowsInserted: 1, rowsAfter: 3 })
    expect(report.typesChanged).toEqual([{ column: 'v', from: 'INTEGER', to: 'VARCHAR' }])
    expect(report.schema).toEqual([
      { name: 'id', type: 'INTEGER' },
      { name: 'v', type: 'VARCHAR' },
    ])
    expect(await parquetColumns(c.output)).toEqual({ id: 'INTEGER', v: 'VARCHAR' })
    expect(await readParquet(c.output)).toEqual([
      { id: 1, v: '10' },
      { id: 2, v: 'twenty' },
      { id: 3, v: null },
    ])
  })

  test('string in base, int in exp: kept values that convert are cast', async () => {
    const c = await sides(
      'VARCHAR',
      [
        [1, '7'],
        [2, 'not a number, but replaced'],
        [3, null],
      ],
      'BIGINT',
      [[2, 42]],
    )
    const report = await rebaseData({
      ours: c.ours,
      theirs: c.theirs,
      output: c.output,
      key: ['id'],
    })
    expect(report).toMatchObject({ rowsReplaced: 1, rowsAfter: 3 })
    expect(await parquetColumns(c.output)).toEqual({ id: 'INTEGER', v: 'BIGINT' })
    // BIGINT values come back as JSON strings (exact 64-bit integers).
    expect(await readParquet(c.output)).toEqual([
      { id: 1, v: '7' },
      { id: 2, v: '42' },
      { id: 3, v: null },
    ])
  })

  test('a narrower type in exp wins too (BIGINT in base, INTEGER in exp)', async () => {
    const c = await sides('BIGINT', [[1, 5]], 'INTEGER', [[2, 6]])
    await rebaseData({ ours: c.ours, theirs: c.theirs, output: c.output, key: ['id'] })
    expect(await parquetColumns(c.output)).toEqual({ id: 'INTEGER', v: 'INTEGER' })
    expect(await readParquet(c.output)).toEqual([
      { id: 1, v: 5 },
      { id: 2, v: 6 },
    ])
  })

  test('kept values that do not convert fail naming the column, first bad value and count; nothing written', async () => {
    const c = await sides(
      'VARCHAR',
      [
        [1, 'x9'],
        [2, 'abc'],
        [3, '12'],
        [4, 'abd'],
      ],
      'INTEGER',
      [[4, 1]],
    )
    const before = hashTree(c.dir)
    for (const dryRun of [false, true]) {
      const error = await rebaseData({
        ours: c.ours,
        theirs: c.theirs,
        output: c.output,
        key: ['id'],
        dryRun,
      }).catch((e: unknown) => e)
      expect(isDuckmergeError(error, 'SCHEMA_MISMATCH')).toBe(true)
      expect((error as Error).message).toBe(
        `Cannot rebase ${c.theirs} onto ${c.ours}: column "v" is VARCHAR in ${c.ours} but INTEGER in ${c.theirs}, and 2 values kept from ${c.ours} do not convert to INTEGER (first: "abc").`,
      )
      expect((error as { details: object }).details).toMatchObject({
        column: 'v',
        value: 'abc',
        count: 2,
        from: 'VARCHAR',
        to: 'INTEGER',
      })
      expect(existsSync(c.output)).toBe(false)
      expect(hashTree(c.dir)).toEqual(before)
    }
  })

  test('merge keeps widening: INTEGER and BIGINT give BIGINT; int and string are refused', async () => {
    const c = await sides('INTEGER', [[1, 5]], 'BIGINT', [[2, 6]])
    const report = await mergeData({ ours: c.ours, theirs: c.theirs, output: c.output })
    expect(report.typesChanged).toEqual([{ column: 'v', from: 'INTEGER', to: 'BIGINT' }])
    expect(await parquetColumns(c.output)).toEqual({ id: 'INTEGER', v: 'BIGINT' })
    const t = await sides('INTEGER', [[1, 5]], 'VARCHAR', [[2, 'six']])
    const error = await mergeData({ ours: t.ours, theirs: t.theirs, output: t.output }).catch(
      (e: unknown) => e,
    )
    expect(isDuckmergeError(error, 'SCHEMA_MISMATCH')).toBe(true)
    expect(existsSync(t.output)).toBe(false)
  })

  test('CLI: --dry-run shows the resulting schema and the type change, writes nothing', async () => {
    const c = await sides('INTEGER', [[1, 10]], 'VARCHAR', [[2, 'b']])
    const before = hashTree(c.dir)
    const args = ['data', 'rebase', '--base', c.ours, '--exp', c.theirs, '--output', c.output]
    const r = runCli([...args, '--key', 'id', '--dry-run'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('  types changed: v INTEGER → VARCHAR\n')
    expect(r.stdout).toContain('  schema: id INTEGER, v VARCHAR\n')
    const json = runCli([...args, '--key', 'id', '--dry-run', '--json'])
    expect(json.json()).toMatchObject({
      dryRun: true,
      base: c.ours,
      exp: c.theirs,
      schema: [
        { name: 'id', type: 'INTEGER' },
        { name: 'v', type: 'VARCHAR' },
      ],
      typesChanged: [{ column: 'v', from: 'INTEGER', to: 'VARCHAR' }],
    })
    expect(hashTree(c.dir)).toEqual(before)
  })

  test('CLI: a value that does not convert exits 1 naming the column, value and count', async () => {
    const c = await sides('VARCHAR', [[1, 'abc']], 'INTEGER', [[2, 2]])
    const r = runCli([
      'data',
      'rebase',
      '--base',
      c.ours,
      '--exp',
      c.theirs,
      '--output',
      c.output,
      '--key',
      'id',
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('[SCHEMA_MISMATCH]: Cannot rebase')
    expect(r.stderr).toContain(
      `1 value kept from ${c.ours} does not convert to INTEGER (first: "abc")`,
    )
    expect(existsSync(c.output)).toBe(false)
  })
})
