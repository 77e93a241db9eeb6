/**
 * Key matching bounded by theirs' key range (row groups skipped, rebase's split) gives exact rows
 * for every key type it applies to, including types widened between ours and theirs.
 */
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { SqlValue } from '../../src/engine/sql.js'
import { mergeData, rebaseData } from '../../src/index.js'
import { tempDir } from '../support/temp.js'
import { readParquet, writeParquet } from './data-support.js'

interface KeyCase {
  readonly name: string
  readonly baseType: string
  readonly expType: string
  /** Twelve ours keys in order, written two per file over six files. */
  readonly keys: readonly SqlValue[]
  /** A key above all of ours'. */
  readonly newKey: SqlValue
}

const dates = Array.from({ length: 12 }, (_, i) => `2024-01-${String(i + 10)}`)

const cases: KeyCase[] = [
  {
    name: 'VARCHAR',
    baseType: 'VARCHAR',
    expType: 'VARCHAR',
    keys: [...'abcdefghijkl'],
    newKey: 'z',
  },
  { name: 'DATE', baseType: 'DATE', expType: 'DATE', keys: dates, newKey: '2025-01-01' },
  {
    name: 'TIMESTAMP',
    baseType: 'TIMESTAMP',
    expType: 'TIMESTAMP',
    keys: dates.map((d) => `${d} 12:00:00.5`),
    newKey: '2025-01-01 00:00:00',
  },
  {
    name: 'DECIMAL',
    baseType: 'DECIMAL(10,2)',
    expType: 'DECIMAL(10,2)',
    keys: Array.from({ length: 12 }, (_, i) => i + 0.25),
    newKey: 99.5,
  },
  {
    name: 'INTEGER in base, BIGINT in exp',
    baseType: 'INTEGER',
    expType: 'BIGINT',
    keys: Array.from({ length: 12 }, (_, i) => i * 1000),
    newKey: 10_000_000_000n,
  },
  {
    name: 'DATE in base, TIMESTAMP in exp',
    baseType: 'DATE',
    expType: 'TIMESTAMP',
    keys: dates,
    newKey: '2025-01-01 06:00:00',
  },
]

async function inputs(dir: string, c: KeyCase) {
  const ours = join(dir, 'base')
  for (let f = 0; f < 6; f++)
    await writeParquet(
      join(ours, `part-${f}.parquet`),
      { k: c.baseType, v: 'VARCHAR' },
      [0, 1].map((i) => [c.keys[f * 2 + i] ?? null, `base-${f * 2 + i}`]),
    )
  const theirs = join(dir, 'exp.parquet')
  // The last two ours keys (in ours' last file), a new key, and a NULL one.
  await writeParquet(theirs, { k: c.expType, v: 'VARCHAR' }, [
    [c.keys[10] ?? null, 'exp-10'],
    [c.keys[11] ?? null, 'exp-11'],
    [c.newKey, 'exp-new'],
    [null, 'exp-null'],
  ])
  return { ours, theirs }
}

const tags = async (path: string) => (await readParquet(path)).map((r) => String(r.v)).sort()
const oursTags = (except: number[]) =>
  Array.from({ length: 12 }, (_, i) => i)
    .filter((i) => !except.includes(i))
    .map((i) => `base-${i}`)

describe('key matching bounded by exp’s key range', () => {
  test.each(cases)('$name: rebase and dedup merge give exact rows and figures', async (c) => {
    const dir = tempDir()
    const { ours, theirs } = await inputs(dir, c)

    const rebased = join(dir, 'rebased.parquet')
    const rebase = await rebaseData({ ours, theirs, output: rebased, key: ['k'] })
    expect(rebase).toMatchObject({
      rowsBefore: 12,
      rowsInserted: 4,
      rowsReplaced: 2,
      rowsAfter: 14,
    })
    expect(await tags(rebased)).toEqual(
      [...oursTags([10, 11]), 'exp-10', 'exp-11', 'exp-new', 'exp-null'].sort(),
    )
    const dryRebase = await rebaseData({ ours, theirs, output: rebased, key: ['k'], dryRun: true })
    expect(dryRebase.rowsReplaced).toBe(2)

    const merged = join(dir, 'merged.parquet')
    const merge = await mergeData({ ours, theirs, output: merged, key: ['k'] })
    expect(merge).toMatchObject({ rowsInserted: 2, rowsSkipped: 2, rowsAfter: 14 })
    expect(await tags(merged)).toEqual([...oursTags([]), 'exp-new', 'exp-null'].sort())
    const dryMerge = await mergeData({ ours, theirs, output: merged, key: ['k'], dryRun: true })
    expect(dryMerge.rowsSkipped).toBe(2)
  })

  test('a hive partition column as the key: partitions outside exp’s range are skipped, rows exact', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base')
    await writeParquet(
      ours,
      { year: 'INTEGER', v: 'VARCHAR' },
      [2020, 2021, 2022, 2023].map((y) => [y, `base-${y}`]),
      { partitionBy: ['year'] },
    )
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(theirs, { year: 'BIGINT', v: 'VARCHAR' }, [
      [2023, 'exp-2023'],
      [2024, 'exp-2024'],
    ])
    const rebased = join(dir, 'rebased.parquet')
    const rebase = await rebaseData({ ours, theirs, output: rebased, key: ['year'] })
    expect(rebase).toMatchObject({ rowsReplaced: 1, rowsAfter: 5 })
    expect(await tags(rebased)).toEqual(
      ['base-2020', 'base-2021', 'base-2022', 'exp-2023', 'exp-2024'].sort(),
    )
    const merged = join(dir, 'merged.parquet')
    const merge = await mergeData({ ours, theirs, output: merged, key: ['year'] })
    expect(merge).toMatchObject({ rowsInserted: 1, rowsSkipped: 1, rowsAfter: 5 })
  })
})
