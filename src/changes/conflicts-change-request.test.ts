import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { createChangeRequest } from './change-requests.js'
import { conflictsOfChangeRequest } from './conflicts-change-request.js'
import { openDataRoot } from './data-root.js'
import { createDataset } from './datasets.js'
import { mergeChangeRequest } from './merge-change-request.js'

async function setup(table: string) {
  const dir = tempDir()
  const root = await openDataRoot({ root: join(dir, 'root') })
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  }
  await createDataset(root, { name: 't', from: file('t.csv', table), key: ['id'] })
  const cr = async (name: string, text: string) =>
    (await createChangeRequest(root, { dataset: 't', from: file(name, text), title: name })).id
  return { root, cr }
}

// A (merged first) and B both start from version 0 and touch the same keys in every way.
const BASE = 'id,price,qty\n1,10,1\n2,20,2\n3,30,3\n4,40,4\n5,50,5\n6,60,6\n'
const A =
  'id,price,_op\n1,11,upsert\n2,21,upsert\n3,,delete\n4,41,upsert\n5,51,upsert\n6,,delete\n10,100,upsert\n11,110,upsert\n'
const B =
  'id,price,qty,_op\n1,12,1,upsert\n2,20,22,upsert\n3,31,3,upsert\n4,,,delete\n5,51,5,upsert\n6,,,delete\n10,101,,upsert\n11,110,,upsert\n'

describe('conflictsOfChangeRequest', () => {
  test('cell rule: cell, delete-update, update-delete, insert-insert; identical changes and delete/delete are not conflicts', async () => {
    const { root, cr } = await setup(BASE)
    try {
      const a = await cr('a.csv', A)
      const b = await cr('b.csv', B)
      const before = await conflictsOfChangeRequest(root, b)
      expect(before.summary).toEqual({
        rows: 0,
        cells: 0,
        by_kind: {
          cell: 0,
          row: 0,
          'delete-update': 0,
          'update-delete': 0,
          'insert-insert': 0,
          'column-type': 0,
        },
      })
      await mergeChangeRequest(root, a)
      const found = await conflictsOfChangeRequest(root, b)
      expect(found).toMatchObject({ base_version: 0, main_version: 1, rule: 'cell' })
      expect(found.summary).toEqual({
        rows: 4,
        cells: 2,
        by_kind: {
          cell: 1,
          row: 0,
          'delete-update': 1,
          'update-delete': 1,
          'insert-insert': 1,
          'column-type': 0,
        },
      })
      expect(found.items).toEqual([
        {
          key: { id: 1 },
          kind: 'cell',
          cells: [{ column: 'price', base: 10, ours: 11, theirs: 12 }],
        },
        {
          key: { id: 3 },
          kind: 'delete-update',
          cells: [],
          base: { id: 3, price: 30, qty: 3 },
          ours: null,
          theirs: { id: 3, price: 31, qty: 3 },
        },
        {
          key: { id: 4 },
          kind: 'update-delete',
          cells: [],
          base: { id: 4, price: 40, qty: 4 },
          ours: { id: 4, price: 41, qty: 4 },
          theirs: null,
        },
        {
          key: { id: 10 },
          kind: 'insert-insert',
          cells: [{ column: 'price', base: null, ours: 100, theirs: 101 }],
        },
      ])
      expect(found.truncated).toBe(false)
      const two = await conflictsOfChangeRequest(root, b, { limit: 2 })
      expect(two.items.map((i) => i.key)).toEqual([{ id: 1 }, { id: 3 }])
      expect(two.summary).toEqual(found.summary)
      expect(two.truncated).toBe(true)
    } finally {
      await root.close()
    }
  })

  test('row rule: the same row changed in different columns conflicts', async () => {
    const { root, cr } = await setup(BASE)
    try {
      const a = await cr('a.csv', A)
      const b = await cr('b.csv', B)
      await mergeChangeRequest(root, a)
      const found = await conflictsOfChangeRequest(root, b, { rule: 'row' })
      expect(found.summary).toEqual({
        rows: 5,
        cells: 4,
        by_kind: {
          cell: 0,
          row: 3,
          'delete-update': 1,
          'update-delete': 1,
          'insert-insert': 0,
          'column-type': 0,
        },
      })
      expect(found.items.filter((i) => i.kind === 'row')).toEqual([
        {
          key: { id: 1 },
          kind: 'row',
          cells: [{ column: 'price', base: 10, ours: 11, theirs: 12 }],
        },
        {
          key: { id: 2 },
          kind: 'row',
          cells: [
            { column: 'price', base: 20, ours: 21, theirs: 20 },
            { column: 'qty', base: 2, ours: 2, theirs: 22 },
          ],
        },
        {
          key: { id: 10 },
          kind: 'row',
          cells: [{ column: 'price', base: null, ours: 100, theirs: 101 }],
        },
      ])
    } finally {
      await root.close()
    }
  })

  test('a column added on both sides with different types', async () => {
    const { root, cr } = await setup(BASE)
    try {
      const a = await cr('a.csv', 'id,note\n1,hello\n')
      const b = await cr('b.csv', 'id,note\n2,5\n')
      await mergeChangeRequest(root, a, { mergeSchema: true })
      const found = await conflictsOfChangeRequest(root, b)
      expect(found.summary.by_kind['column-type']).toBe(1)
      expect(found.items).toContainEqual({
        key: null,
        kind: 'column-type',
        cells: [{ column: 'note', base: null, ours: 'VARCHAR', theirs: 'BIGINT' }],
      })
    } finally {
      await root.close()
    }
  })
})
