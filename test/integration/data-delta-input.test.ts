/**
 * `data merge|rebase` with a Delta table as base or exp: the table's snapshot is read (latest, or
 * --base-version / --exp-version), never every Parquet file in its folder, so the rows its log
 * removed (deleted, overwritten) do not come back (issue 14).
 */
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  createTable,
  deleteWhere,
  loadSnapshot,
  overwriteTable,
} from '../../src/formats/delta/index.js'
import { type CliResult, runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { readParquet, writeParquet } from './data-support.js'

const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id))

/**
 * A table written by our writer whose folder holds more Parquet than its snapshot: version 0
 * has ids 1–10, version 1 deletes ids 1–3 (its file is rewritten), version 2 replaces id 10's
 * row by a new one in an overwrite of the rows with id >= 8.
 */
async function tableWithRemovedFiles(dir: string): Promise<string> {
  const path = join(dir, 'runs')
  const rows = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, v: `v${i + 1}` }))
  await createTable({ path, source: { rows } })
  await deleteWhere({ path, where: 'id <= 3' })
  await overwriteTable({
    path,
    where: 'id >= 8',
    source: {
      rows: [
        { id: 8, v: 'v8' },
        { id: 9, v: 'v9' },
        { id: 10, v: 'new' },
      ],
    },
  })
  return path
}

function parquetFilesIn(table: string): number {
  return readdirSync(table).filter((n) => n.endsWith('.parquet')).length
}

/** `data merge` of base and exp at a version flag that must be refused: exit 1, `dir` unchanged. */
function refusedAtVersion(
  dir: string,
  [base, exp]: readonly [string, string],
  flag: '--base-version' | '--exp-version',
  version: number,
): CliResult {
  const before = hashTree(dir)
  const args = ['--base', base, '--exp', exp, '--output', join(dir, 'out.parquet')]
  const r = runCli(['data', 'merge', ...args, flag, String(version), '--json'])
  expect(r.code).toBe(1)
  expect(hashTree(dir)).toEqual(before)
  return r
}

describe('data merge/rebase read a Delta table for what it is', () => {
  test('merge --base TABLE: the latest snapshot, not the removed files', async () => {
    const dir = tempDir()
    const table = await tableWithRemovedFiles(dir)
    // 3 writes left 3+ files behind: reading them all would give 10 + 7 + 3 rows.
    expect(parquetFilesIn(table)).toBeGreaterThan(1)
    const exp = join(dir, 'exp.parquet')
    await writeParquet(exp, { id: 'BIGINT', v: 'VARCHAR' }, [
      [10, 'exp'],
      [11, 'v11'],
    ])
    const before = hashTree(dir)
    const output = join(dir, 'out.parquet')
    const r = runCli(
      [
        'data',
        'merge',
        '--base',
        table,
        '--exp',
        exp,
        '--output',
        output,
        '--dedup-key',
        'id',
      ].concat('--json'),
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({ rowsBefore: 7, rowsInserted: 1, rowsSkipped: 1, rowsAfter: 8 })
    const rows = await readParquet(output)
    expect(ids(rows)).toEqual([4, 5, 6, 7, 8, 9, 10, 11])
    expect(rows.find((r) => Number(r.id) === 10)?.v).toBe('new')
    const { [join('out.parquet')]: _out, ...inputsAfter } = hashTree(dir)
    expect(inputsAfter).toEqual(before)
  })

  test('merge --base-version N reads that version of the table', async () => {
    const dir = tempDir()
    const table = await tableWithRemovedFiles(dir)
    const exp = join(dir, 'exp.parquet')
    await writeParquet(exp, { id: 'BIGINT', v: 'VARCHAR' }, [[11, 'v11']])
    const output = join(dir, 'out.parquet')
    const at = (version: number) =>
      runCli(
        ['data', 'merge', '--base', table, '--exp', exp, '--output', output].concat(
          '--base-version',
          String(version),
          '--json',
        ),
      )
    const v0 = at(0)
    expect(v0.code).toBe(0)
    expect(v0.json()).toMatchObject({ rowsBefore: 10, rowsAfter: 11 })
    expect(ids(await readParquet(output))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    const v1 = at(1)
    expect(v1.json()).toMatchObject({ rowsBefore: 7, rowsAfter: 8 })
    const v9 = at(9)
    expect(v9.code).toBe(1)
    expect(v9.json()).toMatchObject({ error: { code: 'VERSION_NOT_FOUND' } })
    expect(v9.stderr).toContain('has no version 9: the latest is 2')
  })

  test('a version whose files vacuum removed: the hint names --base-version, not --version', async () => {
    const dir = tempDir()
    const table = await tableWithRemovedFiles(dir)
    for (const f of (await loadSnapshot(table, { version: 0 })).files) rmSync(join(table, f.path))
    const exp = join(dir, 'exp.parquet')
    await writeParquet(exp, { id: 'BIGINT', v: 'VARCHAR' }, [[11, 'v11']])
    const r = refusedAtVersion(dir, [table, exp], '--base-version', 0)
    expect(r.json()).toMatchObject({
      error: { code: 'INPUT_NOT_FOUND', details: { side: 'base' } },
    })
    expect(r.stderr).toContain(
      'Versions 1 to 2 have all their files. Read --base-version 1 to 2, or restore the file.',
    )
  })

  test('rebase --exp TABLE: the exp table snapshot replaces base rows by key', async () => {
    const dir = tempDir()
    const exp = await tableWithRemovedFiles(dir)
    const base = join(dir, 'base.parquet')
    await writeParquet(base, { id: 'BIGINT', v: 'VARCHAR' }, [
      [1, 'base1'],
      [10, 'base10'],
      [20, 'base20'],
    ])
    const output = join(dir, 'out.parquet')
    const r = runCli(
      ['data', 'rebase', '--base', base, '--exp', exp, '--output', output, '--key', 'id'].concat(
        '--json',
      ),
    )
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({
      rowsBefore: 3,
      rowsInserted: 7,
      rowsReplaced: 1,
      rowsAfter: 9,
    })
    const rows = await readParquet(output)
    // id 1 was deleted from the table: base's row stays; id 10 is the table's latest row.
    expect(ids(rows)).toEqual([1, 4, 5, 6, 7, 8, 9, 10, 20])
    expect(rows.find((r) => Number(r.id) === 10)?.v).toBe('new')
    expect(rows.find((r) => Number(r.id) === 1)?.v).toBe('base1')
  })

  test('--exp-version on a Parquet input is refused, naming the input', async () => {
    const dir = tempDir()
    const base = join(dir, 'base.parquet')
    const exp = join(dir, 'exp.parquet')
    await writeParquet(base, { id: 'BIGINT' }, [[1]])
    await writeParquet(exp, { id: 'BIGINT' }, [[2]])
    const r = refusedAtVersion(dir, [base, exp], '--exp-version', 1)
    expect(r.json()).toMatchObject({
      error: { code: 'VALIDATION_FAILED', details: { side: 'exp' } },
    })
    expect(r.stderr).toContain(
      `]: ${exp} is not a Delta table (no commit in a _delta_log folder), so it has no version 1 to read. Leave out --exp-version: a Parquet input has no versions.`,
    )
  })

  test.skipIf(!hasFixtures)(
    needsFixtures('fixture simple_table (31 tombstones): v4 ids [5,7,9], v0 ids [0..4]'),
    async () => {
      const dir = tempDir()
      const exp = join(dir, 'exp.parquet')
      await writeParquet(exp, { id: 'BIGINT' }, [[7], [100]])
      const output = join(dir, 'out.parquet')
      const table = fixture('delta', 'simple_table')
      const before = hashTree(table)
      const latest = runCli(
        ['data', 'merge', '--base', table, '--exp', exp, '--output', output].concat(
          '--dedup-key',
          'id',
          '--json',
        ),
      )
      expect(latest.code).toBe(0)
      expect(latest.json()).toMatchObject({ rowsBefore: 3, rowsInserted: 1, rowsSkipped: 1 })
      expect(ids(await readParquet(output))).toEqual([5, 7, 9, 100])
      const v0 = runCli(
        ['data', 'merge', '--base', table, '--exp', exp, '--output', output].concat(
          '--base-version',
          '0',
          '--json',
        ),
      )
      expect(v0.json()).toMatchObject({ rowsBefore: 5, rowsInserted: 2, rowsAfter: 7 })
      expect(ids(await readParquet(output))).toEqual([0, 1, 2, 3, 4, 7, 100])
      expect(hashTree(table)).toEqual(before)
    },
  )

  test.skipIf(!hasFixtures)(
    needsFixtures('fixture table-with-dv-small: the deletion vector hides 2 of its 10 rows'),
    async () => {
      const dir = tempDir()
      const table = fixture('delta', 'table-with-dv-small')
      const base = join(dir, 'base.parquet')
      await writeParquet(base, { value: 'INTEGER' }, [[-1]])
      const output = join(dir, 'out.parquet')
      const r = runCli(
        ['data', 'merge', '--base', base, '--exp', table, '--output', output].concat('--json'),
      )
      expect(r.code).toBe(0)
      expect(r.json()).toMatchObject({ rowsBefore: 1, rowsInserted: 8, rowsAfter: 9 })
      const values = (await readParquet(output)).map((row) => Number(row.value))
      expect(values).toEqual([-1, 1, 2, 3, 4, 5, 6, 7, 8])
    },
  )
})
