import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { openDataRoot } from '../changes/data-root.js'
import { createChangeRequest, createDataset, mergeChangeRequest } from '../index.js'
import { RowPages } from './row-pages.js'

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
  expect(first.rows).toHaveLength(101)
  expect(first.rows[0]).toEqual({ id: '1', v: 'v1' })
  expect(first.rows[100]).toEqual({ id: '101', v: 'v101' })
  expect((await pages.read(v0, 0, 200, 100)).rows.map((r) => r.id)).toEqual(
    Array.from({ length: 50 }, (_, i) => String(201 + i)),
  )
  // The same dataset object until the log moves; then the new head.
  expect(await pages.head(root, 1)).toBe(v0)
  const cr = await createChangeRequest(root, { dataset: 'd', from: join(dir, 'c.csv'), title: 'c' })
  await mergeChangeRequest(root, cr.id)
  const v1 = await pages.head(root, 1)
  expect(v1.currentVersion).toBe(1)
  expect((await pages.read(v1, 1, 4, 1)).rows).toEqual([{ id: '5', v: 'changed' }])
  expect((await pages.read(v1, 0, 4, 1)).rows).toEqual([{ id: '5', v: 'v5' }])
  // Over maxRows: read from the files, the same rows.
  const small = new RowPages({ maxRows: 10 })
  opened.push(small)
  expect(await small.read(v1, 1, 0, 101)).toEqual(await pages.read(v1, 1, 0, 101))
})
