import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { openDataRoot } from '../changes/data-root.js'
import { readRows } from '../changes/dataset-rows.js'
import { withDuckDb } from '../engine/duckdb.js'
import { literal, sql } from '../engine/sql.js'
import { createChangeRequest, createDataset, mergeChangeRequest } from '../index.js'
import { type Page, RowPages } from './row-pages.js'

const rowsOf = (page: Page): Record<string, unknown>[] => JSON.parse(page.json.toString())

const opened: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const x of opened.splice(0)) await x.close()
})

test('pages come ordered by key from a copy of the version; a new commit is seen; big datasets read the files', async () => {
  const dir = tempDir()
  // 250 rows written in descending key order: pages must come back ascending.
  const lines = Array.from({ length: 250 }, (_, i) => `${250 - i},v${250 - i}`)
  writeFileSync(join(dir, 'd.csv'), `id,v\n${lines.join('\n')}\n`)
  writeFileSync(join(dir, 'c.csv'), 'id,v\n5,changed\n')
  const root = await openDataRoot({ root: join(dir, 'root') })
  opened.push(root)
  await createDataset(root, { name: 'd', from: join(dir, 'd.csv'), key: ['id'] })
  const pages = new RowPages()
  opened.push(pages)
  const v0 = await pages.head(root, 1)
  expect(v0.currentVersion).toBe(0)
  const first = await pages.read(v0, 0, 0, 101)
  expect(first).toMatchObject({ version: 0, count: 101, hasMore: true })
  const firstRows = rowsOf(first)
  expect(firstRows).toHaveLength(101)
  expect(firstRows[0]).toEqual({ id: '1', v: 'v1' })
  expect(firstRows[100]).toEqual({ id: '101', v: 'v101' })
  const last = await pages.read(v0, 0, 200, 100)
  expect(last).toMatchObject({ count: 50, hasMore: false })
  expect(rowsOf(last).map((r) => r.id)).toEqual(
    Array.from({ length: 50 }, (_, i) => String(201 + i)),
  )
  // Exactly the bytes JSON.stringify writes for those rows; past the end, an empty page.
  expect(last.json.toString()).toBe(JSON.stringify(rowsOf(last)))
  expect(await pages.read(v0, 0, 250, 10)).toMatchObject({ count: 0, hasMore: false })
  expect((await pages.read(v0, 0, 300, 10)).json.toString()).toBe('[]')
  // The same dataset object until the log moves; then the new head.
  expect(await pages.head(root, 1)).toBe(v0)
  const cr = await createChangeRequest(root, { dataset: 'd', from: join(dir, 'c.csv'), title: 'c' })
  await mergeChangeRequest(root, cr.id)
  const v1 = await pages.head(root, 1)
  expect(v1.currentVersion).toBe(1)
  expect(rowsOf(await pages.read(v1, 1, 4, 1))).toEqual([{ id: '5', v: 'changed' }])
  expect(rowsOf(await pages.read(v1, 0, 4, 1))).toEqual([{ id: '5', v: 'v5' }])
  // Over maxRows: read from the files, the same rows.
  const small = new RowPages({ maxRows: 10 })
  opened.push(small)
  expect(await small.read(v1, 1, 0, 101)).toEqual(await pages.read(v1, 1, 0, 101))
})

test('a page is byte for byte what the files give, for every type; versions over the byte budget read the files', async () => {
  const dir = tempDir()
  await withDuckDb({}, (db) =>
    db.run(
      sql`COPY (SELECT range AS id, range::HUGEINT * 1e20::HUGEINT AS big, (range / 7)::DECIMAL(18,3) AS dec,
          DATE '2024-01-01' + range::INTEGER AS day, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(range) AS at,
          CASE WHEN range % 3 = 0 THEN NULL ELSE 'ü"\\' || range END AS text, [range, range + 1] AS list,
          {'a': range, 'b': 'x'} AS rec, range % 2 = 0 AS flag, 'NaN'::DOUBLE * (range % 2) AS nan
          FROM range(0, 3000) ORDER BY hash(range)) TO ${literal(join(dir, 't.parquet'))} (FORMAT parquet)`,
    ),
  )
  const root = await openDataRoot({ root: join(dir, 'root') })
  opened.push(root)
  const dataset = await createDataset(root, {
    name: 't',
    from: join(dir, 't.parquet'),
    key: ['id'],
  })
  const pages = new RowPages()
  const tight = new RowPages({ maxBytes: 10_000 })
  opened.push(pages, tight)
  for (const [offset, limit] of [
    [0, 1000],
    [2048, 1000],
    [2999, 5],
  ] as const) {
    const files = (await readRows(dataset, { offset, limit })).rows
    const page = await pages.read(dataset, 0, offset, limit)
    expect(page.json.toString()).toBe(JSON.stringify(files))
    expect(page.count).toBe(files.length)
    expect(await tight.read(dataset, 0, offset, limit)).toEqual(page)
  }
})
