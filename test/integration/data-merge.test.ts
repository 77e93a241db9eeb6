import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { mergeData, type Progress } from '../../src/index.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { parquetColumns, parquetCompressions, readParquet, writeParquet } from './data-support.js'

const idv = { id: 'INTEGER', v: 'VARCHAR' }

async function basicInputs(dir: string): Promise<{ ours: string; theirs: string }> {
  const ours = join(dir, 'base.parquet')
  const theirs = join(dir, 'exp.parquet')
  await writeParquet(ours, idv, [
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ])
  await writeParquet(theirs, idv, [
    [3, 'c2'],
    [4, 'd'],
  ])
  return { ours, theirs }
}

describe('mergeData', () => {
  test('without a key keeps every base and every exp row', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours, theirs, output })
    expect(report).toMatchObject({
      strategy: 'merge',
      dryRun: false,
      rowsBefore: 3,
      rowsInserted: 2,
      rowsReplaced: 0,
      rowsSkipped: 0,
      rowsAfter: 5,
      columnsAdded: [],
      tables: [{ table: 'base', rowsBefore: 3, rowsAfter: 5 }],
    })
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
      { id: 3, v: 'c2' },
      { id: 4, v: 'd' },
    ])
  })

  test('with a dedup key skips exp rows whose key base has', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours, theirs, output, key: ['id'] })
    expect(report).toMatchObject({ rowsBefore: 3, rowsInserted: 1, rowsSkipped: 1, rowsAfter: 4 })
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
      { id: 4, v: 'd' },
    ])
  })

  test('merging the same exp twice with a dedup key equals merging it once', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    const once = join(dir, 'once.parquet')
    const twice = join(dir, 'twice.parquet')
    await mergeData({ ours, theirs, output: once, key: ['id'] })
    const second = await mergeData({ ours: once, theirs, output: twice, key: ['id'] })
    expect(second).toMatchObject({ rowsBefore: 4, rowsInserted: 0, rowsSkipped: 2, rowsAfter: 4 })
    expect(await readParquet(twice)).toEqual(await readParquet(once))
  })

  test('a NULL key matches a NULL key (IS NOT DISTINCT FROM), also in composite keys', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    const cols = { run: 'VARCHAR', seed: 'INTEGER', score: 'DOUBLE' }
    await writeParquet(ours, cols, [
      ['r1', null, 0.1],
      [null, null, 0.2],
      ['r2', 1, 0.3],
    ])
    await writeParquet(theirs, cols, [
      ['r1', null, 0.9], // matches (r1, NULL)
      [null, null, 0.8], // matches (NULL, NULL)
      ['r2', null, 0.7], // (r2, NULL) is not (r2, 1)
    ])
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours, theirs, output, key: ['run', 'seed'] })
    expect(report).toMatchObject({ rowsInserted: 1, rowsSkipped: 2, rowsAfter: 4 })
    expect(await readParquet(output)).toEqual([
      { run: 'r1', seed: null, score: 0.1 },
      { run: 'r2', seed: 1, score: 0.3 },
      { run: 'r2', seed: null, score: 0.7 },
      { run: null, seed: null, score: 0.2 },
    ])
  })

  test('columns are unioned by name: a column only exp has is NULL in base rows', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, { id: 'INTEGER', only_base: 'VARCHAR', v: 'DOUBLE' }, [[1, 'x', 1.5]])
    // Different column order, one column missing, one new: matched by name, not position.
    await writeParquet(theirs, { lr: 'DOUBLE', v: 'DOUBLE', id: 'INTEGER' }, [[0.01, 2.5, 2]])
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours, theirs, output })
    expect(report.columnsAdded).toEqual(['lr'])
    expect(report.tables?.[0]?.columnsAdded).toEqual(['lr'])
    expect(Object.keys(await parquetColumns(output))).toEqual(['id', 'only_base', 'v', 'lr'])
    expect(await readParquet(output)).toEqual([
      { id: 1, only_base: 'x', v: 1.5, lr: null },
      { id: 2, only_base: null, v: 2.5, lr: 0.01 },
    ])
  })

  test('INTEGER in base and BIGINT in exp widen to BIGINT, keeping every value', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, { id: 'INTEGER', d: 'DATE' }, [[1, '2024-01-02']])
    await writeParquet(theirs, { id: 'BIGINT', d: 'TIMESTAMP' }, [
      [9_000_000_000n, '2024-05-06 07:08:09'],
    ])
    const output = join(dir, 'out.parquet')
    await mergeData({ ours, theirs, output, key: ['id'] })
    expect(await parquetColumns(output)).toEqual({ id: 'BIGINT', d: 'TIMESTAMP' })
    expect(await readParquet(output)).toEqual([
      // JSON-safe reads give BIGINT as exact strings.
      { id: '1', d: '2024-01-02 00:00:00' },
      { id: '9000000000', d: '2024-05-06 07:08:09' },
    ])
  })

  test('writes zstd by default and the requested codec otherwise', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    await mergeData({ ours, theirs, output: join(dir, 'z.parquet') })
    await mergeData({ ours, theirs, output: join(dir, 's.parquet'), compression: 'snappy' })
    await mergeData({ ours, theirs, output: join(dir, 'g.parquet'), compression: 'gzip' })
    await mergeData({ ours, theirs, output: join(dir, 'u.parquet'), compression: 'uncompressed' })
    expect(await parquetCompressions(join(dir, 'z.parquet'))).toEqual(['ZSTD'])
    expect(await parquetCompressions(join(dir, 's.parquet'))).toEqual(['SNAPPY'])
    expect(await parquetCompressions(join(dir, 'g.parquet'))).toEqual(['GZIP'])
    expect(await parquetCompressions(join(dir, 'u.parquet'))).toEqual(['UNCOMPRESSED'])
  })

  test('a hive-partitioned directory keeps its partition columns', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base')
    await writeParquet(
      ours,
      { id: 'INTEGER', year: 'INTEGER' },
      [
        [1, 2023],
        [2, 2024],
        [3, 2024],
      ],
      { partitionBy: ['year'] },
    )
    expect(readdirSync(ours).sort()).toEqual(['year=2023', 'year=2024'])
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(theirs, { id: 'INTEGER', year: 'INTEGER' }, [
      [3, 2024],
      [4, 2025],
    ])
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours, theirs, output, key: ['id', 'year'] })
    expect(report).toMatchObject({ rowsBefore: 3, rowsInserted: 1, rowsSkipped: 1, rowsAfter: 4 })
    // DuckDB reads hive values as BIGINT; theirs' INTEGER widens to it.
    expect(await parquetColumns(output)).toEqual({ id: 'INTEGER', year: 'BIGINT' })
    expect(await readParquet(output)).toEqual([
      { id: 1, year: '2023' },
      { id: 2, year: '2024' },
      { id: 3, year: '2024' },
      { id: 4, year: '2025' },
    ])
  })

  test('--partition-by writes a hive directory that reads back to the same rows', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    const output = join(dir, 'out')
    const report = await mergeData({ ours, theirs, output, partitionBy: ['v'] })
    expect(report.rowsAfter).toBe(5)
    expect(readdirSync(output).sort()).toEqual(['v=a', 'v=b', 'v=c', 'v=c2', 'v=d'])
    expect(await readParquet(join(output, '**', '*.parquet'), { hive: true })).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
      { id: 3, v: 'c2' },
      { id: 4, v: 'd' },
    ])
    // Running again replaces the directory as a whole.
    await mergeData({ ours, theirs: ours, output, partitionBy: ['v'] })
    expect(readdirSync(output).sort()).toEqual(['v=a', 'v=b', 'v=c'])
  })

  test('a glob reads every file it matches, unioned by name', async () => {
    const dir = tempDir()
    await writeParquet(join(dir, 'in', 'part-1.parquet'), idv, [[1, 'a']])
    await writeParquet(join(dir, 'in', 'part-2.parquet'), { id: 'INTEGER', w: 'INTEGER' }, [[2, 7]])
    await writeParquet(join(dir, 'in', 'other.parquet'), idv, [[99, 'not matched']])
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(theirs, idv, [[3, 'c']])
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours: join(dir, 'in', 'part-*.parquet'), theirs, output })
    expect(report).toMatchObject({ rowsBefore: 2, rowsInserted: 1, rowsAfter: 3 })
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'a', w: null },
      { id: 2, v: null, w: 7 },
      { id: 3, v: 'c', w: null },
    ])
  })

  test('a directory skips hidden and underscore entries (_delta_log, _SUCCESS, .tmp)', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base')
    await writeParquet(join(ours, 'a.parquet'), idv, [[1, 'a']])
    await writeParquet(join(ours, '_tmp', 'b.parquet'), idv, [[2, 'b']])
    await writeParquet(join(ours, '.c.parquet'), idv, [[3, 'c']])
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours, theirs: join(ours, 'a.parquet'), output })
    expect(report).toMatchObject({ rowsBefore: 1, rowsInserted: 1, rowsAfter: 2 })
  })

  test('--dry-run reports the same figures and writes nothing', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    const before = hashTree(dir)
    const output = join(dir, 'out.parquet')
    const dry = await mergeData({ ours, theirs, output, key: ['id'], dryRun: true })
    expect(hashTree(dir)).toEqual(before)
    expect(existsSync(output)).toBe(false)
    const real = await mergeData({ ours, theirs, output, key: ['id'] })
    const figures = (r: typeof real) => ({ ...r, durationMs: 0, dryRun: false })
    expect(figures(dry)).toEqual(figures(real))
    expect(dry.dryRun).toBe(true)
  })

  test('reports progress phases ending at 100 %', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    const seen: Progress[] = []
    const output = join(dir, 'out.parquet')
    await mergeData({ ours, theirs, output, onProgress: (p) => seen.push(p) })
    expect(seen.at(-1)).toEqual({ phase: `writing ${output}`, done: 100, total: 100, unit: '%' })
  })

  test('leaves no temporary or spill files beside the output', async () => {
    const dir = tempDir()
    const { ours, theirs } = await basicInputs(dir)
    await mergeData({ ours, theirs, output: join(dir, 'out.parquet') })
    expect(readdirSync(dir).sort()).toEqual(['base.parquet', 'exp.parquet', 'out.parquet'])
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('mergeData on real Spark-written tables'), () => {
  test('basic-decimal-table (a Delta table: its snapshot, the partition column typed by the log, decimals) keeps its rows', async () => {
    const table = fixture('delta', 'basic-decimal-table')
    const before = hashTree(table)
    const dir = tempDir()
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(theirs, { col1: 'DECIMAL(5,2)', part: 'DECIMAL(12,5)' }, [
      ['1.50', '1.00000'],
    ])
    const output = join(dir, 'out.parquet')
    const report = await mergeData({ ours: table, theirs, output, key: ['part'] })
    expect(report).toMatchObject({
      rowsBefore: 4,
      rowsInserted: 1,
      rowsAfter: 5,
      tables: [{ table: 'basic-decimal-table' }],
    })
    const rows = await readParquet(output)
    expect(rows.map((r) => String(r.part)).sort()).toEqual([
      '-2342342.23423',
      '0.00004',
      '1.00000',
      '234.00000',
      '2342222.23454',
    ])
    expect(rows.find((r) => r.part === '234.00000')).toEqual({
      col1: '1.00',
      col2: '2.00000',
      col3: '3.0000000000',
      part: '234.00000',
    })
    expect(hashTree(table)).toEqual(before)
  })
})
