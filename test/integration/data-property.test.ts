/** fast-check invariants of dataset merge and rebase over small generated Parquet inputs. */
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { mergeData, rebaseData } from '../../src/index.js'
import { tempDir } from '../support/temp.js'
import { readParquet, writeParquet } from './data-support.js'

interface Row {
  readonly k: number | null
  /** Unique per generated row, so output rows can be traced back to their input row. */
  readonly tag: number
}

const keyArb = fc.option(fc.integer({ min: 0, max: 6 }), { freq: 5 })
const rowsArb = fc.array(keyArb, { maxLength: 12 })
const uniqueKeysArb = fc.uniqueArray(keyArb, { maxLength: 7 })

async function write(dir: string, name: string, keys: readonly (number | null)[], offset: number) {
  const rows: Row[] = keys.map((k, i) => ({ k, tag: offset + i }))
  const path = join(dir, `${name}.parquet`)
  await writeParquet(
    path,
    { k: 'INTEGER', tag: 'INTEGER' },
    rows.map((r) => [r.k, r.tag]),
  )
  return { path, rows }
}

/** Rows in key order (NULL keys first), cut into `parts` files of a directory: an ours in key order. */
async function writeOrdered(dir: string, keys: readonly (number | null)[], parts: number) {
  const sortedKeys = [...keys].sort((a, b) => (a ?? -1) - (b ?? -1))
  const rows: Row[] = sortedKeys.map((k, i) => ({ k, tag: i }))
  const path = join(dir, 'base')
  const size = Math.max(1, Math.ceil(rows.length / parts))
  for (let i = 0; i * size < rows.length || i === 0; i++)
    await writeParquet(
      join(path, `part-${i}.parquet`),
      { k: 'INTEGER', tag: 'INTEGER' },
      rows.slice(i * size, (i + 1) * size).map((r) => [r.k, r.tag]),
    )
  return { path, rows }
}

async function tags(path: string): Promise<number[]> {
  return (await readParquet(path)).map((r) => Number(r.tag)).sort((a, b) => a - b)
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)
const runs = { numRuns: 15 }

describe('data merge/rebase invariants', () => {
  test('merge without a key keeps every base row and every exp row', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArb, rowsArb, async (oursKeys, theirsKeys) => {
        const dir = tempDir()
        const ours = await write(dir, 'base', oursKeys, 0)
        const theirs = await write(dir, 'exp', theirsKeys, 1000)
        const output = join(dir, 'out.parquet')
        const report = await mergeData({ ours: ours.path, theirs: theirs.path, output })
        expect(await tags(output)).toEqual(sorted([...ours.rows, ...theirs.rows].map((r) => r.tag)))
        expect(report.rowsAfter).toBe(oursKeys.length + theirsKeys.length)
      }),
      runs,
    )
  })

  test('merge with a dedup key keeps every base row, adds exactly the exp rows with new keys, and is idempotent', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArb, rowsArb, async (oursKeys, theirsKeys) => {
        const dir = tempDir()
        const ours = await write(dir, 'base', oursKeys, 0)
        const theirs = await write(dir, 'exp', theirsKeys, 1000)
        const once = join(dir, 'once.parquet')
        const twice = join(dir, 'twice.parquet')
        const report = await mergeData({
          ours: ours.path,
          theirs: theirs.path,
          output: once,
          key: ['k'],
        })
        // NULL is a key value like any other: Set uses SameValueZero, so null matches null.
        const known = new Set(oursKeys)
        const added = theirs.rows.filter((r) => !known.has(r.k))
        expect(await tags(once)).toEqual(sorted([...ours.rows, ...added].map((r) => r.tag)))
        expect(report.rowsInserted).toBe(added.length)
        expect(report.rowsSkipped).toBe(theirsKeys.length - added.length)
        const again = await mergeData({
          ours: once,
          theirs: theirs.path,
          output: twice,
          key: ['k'],
        })
        expect(again.rowsInserted).toBe(0)
        expect(await tags(twice)).toEqual(await tags(once))
      }),
      runs,
    )
  })

  test('on a base in key order over many files (row groups skipped), rebase and dedup merge match the model, dry runs included', async () => {
    const oursArb = fc.array(fc.option(fc.integer({ min: 0, max: 40 }), { freq: 8 }), {
      minLength: 1,
      maxLength: 24,
    })
    // Exp keys in a window of ours' key space, as reprocessed or newly appended rows are.
    const theirsArb = fc.integer({ min: 0, max: 44 }).chain((from) =>
      fc.uniqueArray(fc.option(fc.integer({ min: from, max: from + 4 }), { freq: 8 }), {
        minLength: 1,
        maxLength: 5,
      }),
    )
    await fc.assert(
      fc.asyncProperty(oursArb, theirsArb, async (oursKeys, theirsKeys) => {
        const dir = tempDir()
        const ours = await writeOrdered(dir, oursKeys, 8)
        const theirs = await write(dir, 'exp', theirsKeys, 1000)
        const newKeys = new Set(theirsKeys)
        const kept = ours.rows.filter((r) => !newKeys.has(r.k))
        const rebased = join(dir, 'rebased.parquet')
        const rebase = { ours: ours.path, theirs: theirs.path, output: rebased, key: ['k'] }
        const report = await rebaseData(rebase)
        expect(await tags(rebased)).toEqual(sorted([...kept, ...theirs.rows].map((r) => r.tag)))
        expect(report.rowsReplaced).toBe(ours.rows.length - kept.length)
        const dryRebase = await rebaseData({ ...rebase, dryRun: true })
        expect(dryRebase.rowsReplaced).toBe(report.rowsReplaced)

        const known = new Set(oursKeys)
        const added = theirs.rows.filter((r) => !known.has(r.k))
        const merged = join(dir, 'merged.parquet')
        const merge = { ours: ours.path, theirs: theirs.path, output: merged, key: ['k'] }
        const mergeReport = await mergeData(merge)
        expect(await tags(merged)).toEqual(sorted([...ours.rows, ...added].map((r) => r.tag)))
        expect(mergeReport.rowsSkipped).toBe(theirsKeys.length - added.length)
        const dryMerge = await mergeData({ ...merge, dryRun: true })
        expect(dryMerge.rowsSkipped).toBe(mergeReport.rowsSkipped)
      }),
      { numRuns: 30 },
    )
  })

  test('rebase keeps every exp row and exactly the base rows whose key exp lacks', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArb, uniqueKeysArb, async (oursKeys, theirsKeys) => {
        const dir = tempDir()
        const ours = await write(dir, 'base', oursKeys, 0)
        const theirs = await write(dir, 'exp', theirsKeys, 1000)
        const output = join(dir, 'out.parquet')
        const report = await rebaseData({
          ours: ours.path,
          theirs: theirs.path,
          output,
          key: ['k'],
        })
        const superseded = new Set(theirsKeys)
        const kept = ours.rows.filter((r) => !superseded.has(r.k))
        expect(await tags(output)).toEqual(sorted([...kept, ...theirs.rows].map((r) => r.tag)))
        expect(report.rowsReplaced).toBe(oursKeys.length - kept.length)
        expect(report.rowsAfter).toBe(kept.length + theirsKeys.length)
      }),
      runs,
    )
  })
})
