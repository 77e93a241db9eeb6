import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { isDuckmergeError, rebaseData } from '../../src/index.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { readParquet, writeParquet } from './data-support.js'

const cols = { id: 'INTEGER', v: 'VARCHAR' }

describe('rebaseData', () => {
  test('exp rows supersede base rows with the same key; other base rows stay', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, cols, [
      [1, 'old1'],
      [2, 'old2'],
      [3, 'old3'],
    ])
    await writeParquet(theirs, cols, [
      [2, 'new2'],
      [4, 'new4'],
    ])
    const output = join(dir, 'out.parquet')
    const report = await rebaseData({ ours, theirs, output, key: ['id'] })
    expect(report).toMatchObject({
      strategy: 'rebase',
      rowsBefore: 3,
      rowsInserted: 2,
      rowsReplaced: 1,
      rowsSkipped: 0,
      rowsAfter: 4,
    })
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'old1' },
      { id: 2, v: 'new2' },
      { id: 3, v: 'old3' },
      { id: 4, v: 'new4' },
    ])
  })

  test('every base row sharing a key with exp is superseded, even repeated ones', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, cols, [
      [1, 'a'],
      [1, 'a again'],
      [2, 'b'],
    ])
    await writeParquet(theirs, cols, [[1, 'fixed']])
    const output = join(dir, 'out.parquet')
    const report = await rebaseData({ ours, theirs, output, key: ['id'] })
    expect(report).toMatchObject({ rowsReplaced: 2, rowsInserted: 1, rowsAfter: 2 })
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'fixed' },
      { id: 2, v: 'b' },
    ])
  })

  test('a NULL key supersedes the base row with a NULL key', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, cols, [
      [null, 'old null'],
      [1, 'one'],
    ])
    await writeParquet(theirs, cols, [[null, 'new null']])
    const output = join(dir, 'out.parquet')
    const report = await rebaseData({ ours, theirs, output, key: ['id'] })
    expect(report).toMatchObject({ rowsReplaced: 1, rowsAfter: 2 })
    expect(await readParquet(output)).toEqual([
      { id: 1, v: 'one' },
      { id: null, v: 'new null' },
    ])
  })

  test('a rebase on a composite key matches on every key column', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    const c = { run: 'VARCHAR', step: 'INTEGER', loss: 'DOUBLE' }
    await writeParquet(ours, c, [
      ['a', 1, 0.5],
      ['a', 2, 0.4],
      ['b', 1, 0.9],
    ])
    await writeParquet(theirs, c, [['a', 2, 0.3]])
    const output = join(dir, 'out.parquet')
    await rebaseData({ ours, theirs, output, key: ['run', 'step'] })
    expect(await readParquet(output)).toEqual([
      { run: 'a', step: 1, loss: 0.5 },
      { run: 'a', step: 2, loss: 0.3 },
      { run: 'b', step: 1, loss: 0.9 },
    ])
  })

  test('several exp rows for one key fail with DUPLICATE_KEY naming the key and count; nothing is written', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, cols, [[1, 'a']])
    await writeParquet(theirs, cols, [
      [7, 'x'],
      [7, 'y'],
      [7, 'z'],
      [8, 'p'],
      [8, 'q'],
      [9, 'ok'],
    ])
    const before = hashTree(dir)
    const output = join(dir, 'out.parquet')
    const error = await rebaseData({ ours, theirs, output, key: ['id'] }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'DUPLICATE_KEY')).toBe(true)
    expect((error as Error).message).toMatchInlineSnapshot(
      `"Cannot rebase ${theirs} onto ${ours}: ${theirs} holds 3 rows with key id=7 (2 keys repeat in all). Rebase needs one row per key in ${theirs}."`,
    )
    expect(existsSync(output)).toBe(false)
    expect(hashTree(dir)).toEqual(before)
  })

  test('two exp rows with NULL keys are duplicates too (NULL matches NULL)', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, { run: 'VARCHAR', seed: 'INTEGER' }, [['a', 1]])
    await writeParquet(theirs, { run: 'VARCHAR', seed: 'INTEGER' }, [
      ['a', null],
      ['a', null],
    ])
    const error = await rebaseData({
      ours,
      theirs,
      output: join(dir, 'out.parquet'),
      key: ['run', 'seed'],
    }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'DUPLICATE_KEY')).toBe(true)
    expect((error as Error).message).toContain(
      `${theirs} holds 2 rows with key (run="a", seed=NULL)`,
    )
  })

  test('repeats among dense integer keys are found, NULL ones too (perfect hash aggregate)', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    await writeParquet(ours, cols, [[1, 'a']])
    const cases: [string, (number | null)[], string][] = [
      ['null', [1, 2, null, 3, null], 'holds 2 rows with key id=NULL'],
      ['top', [5, 6, 7, 8, 8], 'holds 2 rows with key id=8'],
    ]
    for (const [name, keys, message] of cases) {
      const theirs = join(dir, `exp-${name}.parquet`)
      await writeParquet(
        theirs,
        cols,
        keys.map((k) => [k, 'x']),
      )
      const output = join(dir, 'out.parquet')
      const error = await rebaseData({ ours, theirs, output, key: ['id'] }).catch((e: unknown) => e)
      expect(isDuckmergeError(error, 'DUPLICATE_KEY'), name).toBe(true)
      expect((error as Error).message).toContain(`${theirs} ${message}`)
      expect(existsSync(output)).toBe(false)
    }
  })

  test('--dry-run gives the figures of the real run and writes nothing', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    const theirs = join(dir, 'exp.parquet')
    await writeParquet(ours, cols, [
      [1, 'a'],
      [2, 'b'],
    ])
    await writeParquet(theirs, { id: 'INTEGER', v: 'VARCHAR', extra: 'INTEGER' }, [
      [2, 'B', 1],
      [3, 'C', 2],
    ])
    const output = join(dir, 'out.parquet')
    const before = hashTree(dir)
    const dry = await rebaseData({ ours, theirs, output, key: ['id'], dryRun: true })
    expect(hashTree(dir)).toEqual(before)
    const real = await rebaseData({ ours, theirs, output, key: ['id'] })
    expect({ ...dry, durationMs: 0 }).toEqual({ ...real, durationMs: 0, dryRun: true })
    expect(real).toMatchObject({
      rowsReplaced: 1,
      rowsInserted: 2,
      rowsAfter: 3,
      columnsAdded: ['extra'],
    })
  })

  test('a base in key order over several files (row groups outside exp’s keys are copied unprobed) gives exact rows and figures, NULL keys included', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base')
    const theirs = join(dir, 'exp.parquet')
    const c = { run: 'VARCHAR', step: 'INTEGER', v: 'VARCHAR' }
    // Eight files of keys a…h, one row group each; theirs touches only the last one, plus a NULL.
    for (const [i, run] of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].entries())
      await writeParquet(join(ours, `part-${i}.parquet`), c, [
        [run, 1, 'old'],
        [run, 2, 'old'],
        ...(i === 0 ? [[null, 1, 'old null']] : []),
      ])
    await writeParquet(theirs, c, [
      ['h', 2, 'new'],
      ['i', 1, 'new'],
      [null, 1, 'new null'],
    ])
    const output = join(dir, 'out.parquet')
    const report = await rebaseData({ ours, theirs, output, key: ['run', 'step'] })
    expect(report).toMatchObject({
      rowsBefore: 17,
      rowsInserted: 3,
      rowsReplaced: 2,
      rowsAfter: 18,
    })
    const rows = await readParquet(output)
    expect(rows).toHaveLength(18)
    expect(rows.filter((r) => r.v !== 'old')).toEqual([
      { run: 'h', step: 2, v: 'new' },
      { run: 'i', step: 1, v: 'new' },
      { run: null, step: 1, v: 'new null' },
    ])
    expect(rows).toContainEqual({ run: 'h', step: 1, v: 'old' })
    const dry = await rebaseData({ ours, theirs, output, key: ['run', 'step'], dryRun: true })
    expect(dry.rowsReplaced).toBe(2)
  })

  test('a rebase without key columns is refused before reading anything', async () => {
    const dir = tempDir()
    const error = await rebaseData({
      ours: join(dir, 'missing.parquet'),
      theirs: join(dir, 'missing.parquet'),
      output: join(dir, 'out.parquet'),
      key: [],
    }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'VALIDATION_FAILED')).toBe(true)
    expect((error as Error).message).toContain('rebase needs at least one key column')
  })

  test('an aborted signal stops the rebase with INTERRUPTED and writes nothing', async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.parquet')
    await writeParquet(ours, cols, [[1, 'a']])
    const controller = new AbortController()
    controller.abort()
    const output = join(dir, 'out.parquet')
    const error = await rebaseData({
      ours,
      theirs: ours,
      output,
      key: ['id'],
      signal: controller.signal,
    }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'INTERRUPTED')).toBe(true)
    expect(existsSync(output)).toBe(false)
  })
})
