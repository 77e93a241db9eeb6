import { readdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { DuckDb } from '../engine/duckdb.js'
import { literal, raw, sql } from '../engine/sql.js'
import { createChangeRequest, getChangeRequest, stagedFile } from './change-requests.js'
import { diffCacheDir, openDataRoot } from './data-root.js'
import { createDataset } from './datasets.js'
import { type ChangeRequestDiffRow, diffChangeRequest } from './diff-change-request.js'
import { mergeChangeRequest } from './merge-change-request.js'

/** A data root with dataset `t` made by DuckDB from `select` (typed columns), and a file helper. */
async function setup(select: string) {
  const dir = tempDir()
  const root = await openDataRoot({ root: join(dir, 'root') })
  const db = await DuckDb.open()
  const parquet = async (name: string, query: string) => {
    const file = join(dir, name)
    await db.run(sql`copy (${raw(query)}) to ${literal(file)} (format parquet)`)
    return file
  }
  await createDataset(root, { name: 't', from: await parquet('t.parquet', select), key: ['id'] })
  const cr = async (name: string, text: string) => {
    const file = join(dir, name)
    writeFileSync(file, text)
    return (await createChangeRequest(root, { dataset: 't', from: file, title: name })).id
  }
  const crFrom = async (name: string, query: string) =>
    (
      await createChangeRequest(root, {
        dataset: 't',
        from: await parquet(name, query),
        title: name,
      })
    ).id
  const close = async () => {
    db.close()
    await root.close()
  }
  return { root, cr, crFrom, close }
}

const TYPED = `select i::bigint as id, (i * 10)::double as price, i::integer as qty,
  (i + 0.5)::decimal(10,2) as amount, date '2024-01-01' + i::integer as d, 'n' || i as name
  from range(1, 6) r(i)`

describe('diffChangeRequest', () => {
  test('against base: Dolt diff-stat summary and rows with exact values', async () => {
    const { root, crFrom, close } = await setup(TYPED)
    try {
      // Updates 2 (price) and 3 (same values: no change), deletes 4, deletes 99 (absent), adds 9.
      const id = await crFrom(
        'p.parquet',
        `select * from (values
          (2::bigint, 25.5::double, 'upsert'), (3, 30, 'upsert'), (4, null, 'delete'),
          (99, null, 'delete'), (9007199254740993, 1, 'upsert')) v(id, price, _op)`,
      )
      const diff = await diffChangeRequest(root, id)
      expect(diff.summary).toEqual({
        rows_added: 1,
        rows_deleted: 1,
        rows_modified: 1,
        rows_unmodified: 3,
        cells_added: 6,
        cells_deleted: 6,
        cells_modified: 1,
        columns: {
          price: { modified: 1 },
          qty: { modified: 0 },
          amount: { modified: 0 },
          d: { modified: 0 },
          name: { modified: 0 },
        },
        schema_changes: [],
        old_row_count: 5,
        new_row_count: 5,
      })
      expect(diff.rows).toEqual([
        {
          key: { id: 2 },
          kind: 'modified',
          changed: ['price'],
          before: { id: 2, price: 20, qty: 2, amount: '2.50', d: '2024-01-03', name: 'n2' },
          after: { id: 2, price: 25.5, qty: 2, amount: '2.50', d: '2024-01-03', name: 'n2' },
        },
        {
          key: { id: 4 },
          kind: 'deleted',
          changed: ['id', 'price', 'qty', 'amount', 'd', 'name'],
          before: { id: 4, price: 40, qty: 4, amount: '4.50', d: '2024-01-05', name: 'n4' },
          after: null,
        },
        {
          key: { id: '9007199254740993' },
          kind: 'added',
          changed: ['id', 'price', 'qty', 'amount', 'd', 'name'],
          before: null,
          after: {
            id: '9007199254740993',
            price: 1,
            qty: null,
            amount: null,
            d: null,
            name: null,
          },
        },
      ])
      expect(diff.page).toEqual({ limit: 100, next_cursor: null, has_more: false })
      const only = await diffChangeRequest(root, id, { kinds: ['added'], columns: ['price'] })
      expect(only.rows).toEqual([
        {
          key: { id: '9007199254740993' },
          kind: 'added',
          changed: ['id', 'price'],
          before: null,
          after: { id: '9007199254740993', price: 1 },
        },
      ])
      const summary = await diffChangeRequest(root, id, { summaryOnly: true })
      expect(summary.rows).toEqual([])
      expect(summary.summary).toEqual(diff.summary)
    } finally {
      await close()
    }
  })

  // A page of up to 1000 rows can need several windows of 1024 patch keys (a third are no-ops).
  test('paging with random limits visits every changed key exactly once, in key order', {
    timeout: 300_000,
  }, async () => {
    // 3000 rows; the change touches 2500 keys, a third of them without changing anything, so
    // pages span several windows of patch keys.
    const { root, crFrom, close } = await setup(
      'select i::bigint as id, i::integer as a, (i % 7)::integer as b from range(0, 3000) r(i)',
    )
    try {
      const id = await crFrom(
        'p.parquet',
        `select i::bigint as id, case when i % 3 = 0 then i else i + 1 end::integer as a,
           case when i % 5 = 0 then 'delete' else 'upsert' end as _op
         from range(500, 3200) r(i) where i % 13 <> 0`,
      )
      const all = await diffChangeRequest(root, id, { limit: 1000 })
      const everything: ChangeRequestDiffRow[] = [...all.rows]
      let cursor = all.page.next_cursor
      while (cursor !== null) {
        const next = await diffChangeRequest(root, id, { limit: 1000, cursor })
        expect(next.summary).toBeNull()
        everything.push(...next.rows)
        cursor = next.page.next_cursor
      }
      const s = all.summary
      expect(everything.length).toBe(
        (s?.rows_added ?? 0) + (s?.rows_deleted ?? 0) + (s?.rows_modified ?? 0),
      )
      const keys = everything.map((r) => Number(r.key.id))
      expect(keys).toEqual([...keys].sort((x, y) => x - y))
      expect(new Set(keys).size).toBe(keys.length)
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 150, max: 1000 }), { minLength: 1, maxLength: 4 }),
          async (limits) => {
            const seen: number[] = []
            let at: string | null | undefined
            let i = 0
            do {
              const limit = limits[i++ % limits.length] as number
              const page = await diffChangeRequest(root, id, {
                limit,
                ...(at ? { cursor: at } : {}),
              })
              expect(page.rows.length).toBeLessThanOrEqual(limit)
              seen.push(...page.rows.map((r) => Number(r.key.id)))
              at = page.page.next_cursor
            } while (at)
            expect(seen).toEqual(keys)
          },
        ),
        { numRuns: 3 },
      )
    } finally {
      await close()
    }
  })

  test('against main: what merging would change now; a cursor of a moved head is refused', async () => {
    const { root, cr, close } = await setup(TYPED)
    try {
      const a = await cr('a.csv', 'id,price,qty\n2,21,20\n')
      const b = await cr('b.csv', 'id,price\n2,21\n3,31\n')
      const before = await diffChangeRequest(root, b, { against: 'main', limit: 1 })
      expect(before.rows.map((r) => [r.key.id, r.changed])).toEqual([[2, ['price']]])
      expect(before.page.has_more).toBe(true)
      await mergeChangeRequest(root, a)
      // A already set price 21 on key 2: merging B now changes key 3 only.
      const after = await diffChangeRequest(root, b, { against: 'main' })
      expect(after.from_version).toBe(1)
      expect(after.summary).toMatchObject({ rows_modified: 1, columns: { price: { modified: 1 } } })
      expect(after.rows.map((r) => [r.key.id, r.before?.price, r.after?.price])).toEqual([
        [3, 30, 31],
      ])
      // Against base the change is the same as before the merge.
      expect((await diffChangeRequest(root, b)).summary?.rows_modified).toBe(2)
      await expect(
        diffChangeRequest(root, b, {
          against: 'main',
          cursor: before.page.next_cursor as string,
        }),
      ).rejects.toMatchObject({ code: 'INVALID_CURSOR' })
      await expect(
        diffChangeRequest(root, b, { cursor: 'bm90IGEgY3Vyc29y' }),
      ).rejects.toMatchObject({ code: 'INVALID_CURSOR' })
      await expect(diffChangeRequest(root, b, { columns: ['nope'] })).rejects.toMatchObject({
        code: 'COLUMN_NOT_FOUND',
        message: expect.stringContaining('"nope"'),
      })
    } finally {
      await close()
    }
  })

  test('pages read the stored diff of the revision and head; a moved head stores a new one and drops the old', async () => {
    const { root, cr, close } = await setup(TYPED)
    try {
      const a = await cr('a.csv', 'id,price\n1,11\n')
      const b = await cr('b.csv', 'id,price\n2,21\n3,31\n4,41\n')
      const first = await diffChangeRequest(root, b, { limit: 1 })
      const main = await diffChangeRequest(root, b, { against: 'main', limit: 1 })
      const files = () => readdirSync(diffCacheDir(root, b)).sort()
      expect(files()).toEqual([
        'r1-base-v0-all.json',
        'r1-base-v0-all.parquet',
        'r1-main-v0-all.json',
        'r1-main-v0-all.parquet',
      ])
      // A page after a cursor reads the stored diff alone: the staged patch is not needed.
      const patch = stagedFile(root, await getChangeRequest(root, b))
      renameSync(patch, `${patch}.away`)
      const second = await diffChangeRequest(root, b, {
        limit: 2,
        cursor: first.page.next_cursor as string,
      })
      expect(second.rows.map((r) => [r.key.id, r.after?.price])).toEqual([
        [3, 31],
        [4, 41],
      ])
      renameSync(`${patch}.away`, patch)
      expect(main.rows.map((r) => r.key.id)).toEqual([2])
      await mergeChangeRequest(root, a)
      const moved = await diffChangeRequest(root, b, { against: 'main', limit: 1 })
      expect(moved.from_version).toBe(1)
      expect(files()).toEqual([
        'r1-base-v0-all.json',
        'r1-base-v0-all.parquet',
        'r1-main-v1-all.json',
        'r1-main-v1-all.parquet',
      ])
    } finally {
      await close()
    }
  })
})
