import { describe, expect, test } from 'vitest'
import { productsRoot } from '../support/cr-root.js'

function setup() {
  const root = productsRoot()
  // BIGINT values arrive as exact strings in JSON; the test compares numbers.
  const rows = () =>
    root
      .cli('dataset', 'rows', 'products')
      .json<{ rows: Record<string, unknown>[] }>()
      .rows.map((r) =>
        Object.fromEntries(
          Object.entries(r).map(([k, v]) => [
            k,
            typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v,
          ]),
        ),
      )
  return { ...root, rows }
}

describe('duckmerge cr', { timeout: 300_000 }, () => {
  test('same cell from two change requests: the second conflicts (base/ours/theirs), nothing written; --force takes theirs; re-merge replays', () => {
    const { cli, cr, rows, log } = setup()
    const a = cr('a.csv', 'id,price\n7,11\n')
    const b = cr('b.csv', 'id,price\n7,12\n')
    expect(a.id).toMatch(/^cr_[a-z0-9]{16}$/)
    expect([a.number, b.number]).toEqual([1, 2])
    const mergedA = cli('cr', 'merge', a.id, '--requested-by', 'ann')
    expect(mergedA.code, mergedA.stderr).toBe(0)
    expect(mergedA.json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
      commit_id: 'v1',
      rows_affected: 1,
      diff: {
        version_before: 0,
        version_after: 1,
        rows_added: 0,
        rows_updated: 1,
        rows_deleted: 0,
      },
      idempotent_replay: false,
    })
    const conflict = cli('cr', 'merge', b.id)
    expect(conflict.code).toBe(1)
    expect(conflict.json()).toMatchObject({
      error: {
        code: 'MERGE_CONFLICT',
        details: {
          base_version: 0,
          main_version: 1,
          conflicts: [
            {
              key: { id: 7 },
              kind: 'cell',
              cells: [{ column: 'price', base: 10, ours: 11, theirs: 12 }],
            },
          ],
        },
      },
    })
    expect(log()).toHaveLength(2)
    expect(cli('cr', 'show', b.id).json()).toMatchObject({ status: 'conflict' })

    const forced = cli('cr', 'merge', b.id, '--force')
    expect(forced.json()).toMatchObject({ status: 'merged', merged_version: 2 })
    expect(rows().find((r) => r.id === 7)).toEqual({ id: 7, price: 12, qty: 7 })

    const replay = cli('cr', 'merge', a.id)
    expect(replay.json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
      idempotent_replay: true,
    })
    expect(log()).toHaveLength(3)
    expect(cli('dataset', 'show', 'products').json()).toMatchObject({
      current_version: 2,
      row_count: 3,
    })
    const actions = cli('cr', 'audit', a.id)
      .json<{ events: { action: string }[] }>()
      .events.map((e) => e.action)
    expect(actions).toEqual(['cr.create', 'merge.requested', 'merge.succeeded'])
  })

  test('same row, different columns: both merge under the cell rule, the second conflicts under the row rule', () => {
    const { cli, cr, rows } = setup()
    const a = cr('a.csv', 'id,price\n7,11\n')
    const b = cr('b.csv', 'id,qty\n7,99\n')
    const c = cr('c.csv', 'id,qty\n7,98\n')
    expect(cli('cr', 'merge', a.id).code).toBe(0)
    const row = cli('cr', 'merge', b.id, '--rule', 'row')
    expect(row.json()).toMatchObject({
      error: { code: 'MERGE_CONFLICT', details: { rule: 'row' } },
    })
    expect(cli('cr', 'merge', b.id).json()).toMatchObject({ status: 'merged', merged_version: 2 })
    expect(rows().find((r) => r.id === 7)).toEqual({ id: 7, price: 11, qty: 99 })
    // --take ours keeps the head's value for the conflicting cell.
    expect(cli('cr', 'merge', c.id, '--take', 'ours').json()).toMatchObject({ status: 'merged' })
    expect(rows().find((r) => r.id === 7)).toEqual({ id: 7, price: 11, qty: 99 })
  })

  test('_op deletes, inserts, snapshot mode, and refused uploads', () => {
    const { cli, cr, rows, file } = setup()
    const patch = cr('d.csv', 'id,price,_op\n1,,delete\n9,90,\n')
    expect(patch.staged).toMatchObject({
      rows: 2,
      upserts: 1,
      deletes: 1,
      new_columns: [],
      columns: ['id', 'price'],
    })
    expect(cli('cr', 'merge', patch.id).json()).toMatchObject({
      diff: { rows_added: 1, rows_deleted: 1, rows_updated: 0 },
    })
    expect(rows()).toEqual([
      { id: 2, price: 20, qty: 2 },
      { id: 7, price: 10, qty: 7 },
      { id: 9, price: 90, qty: null },
    ])
    const snap = cr('s.csv', 'id,price,qty\n2,21,2\n', '--mode', 'snapshot')
    expect(snap.staged).toMatchObject({ upserts: 1, deletes: 2 })
    expect(cli('cr', 'merge', snap.id).json()).toMatchObject({
      diff: { rows_updated: 1, rows_deleted: 2 },
    })
    expect(rows()).toEqual([{ id: 2, price: 21, qty: 2 }])

    const cast = cli(
      'cr',
      'create',
      'products',
      '--from',
      file('bad.csv', 'id,price\n2,abc\n'),
      '--title',
      'x',
    )
    expect(cast.json()).toMatchObject({
      error: { code: 'SCHEMA_MISMATCH', details: { column: 'price', type: 'BIGINT' } },
    })
    const op = cli(
      'cr',
      'create',
      'products',
      '--from',
      file('op.csv', 'id,_op\n2,remove\n'),
      '--title',
      'x',
    )
    expect(op.json()).toMatchObject({
      error: { code: 'VALIDATION_FAILED', details: { column: '_op', sample_values: ['remove'] } },
    })
    const dup = cli(
      'cr',
      'create',
      'products',
      '--from',
      file('dup.csv', 'id,price\n2,1\n2,3\n'),
      '--title',
      'x',
    )
    expect(dup.json()).toMatchObject({ error: { code: 'DUPLICATE_KEY' } })

    const wide = cr('w.csv', 'id,color\n2,red\n')
    expect(wide.staged).toMatchObject({ new_columns: [{ name: 'color', type: 'VARCHAR' }] })
    const refused = cli('cr', 'merge', wide.id)
    expect(refused.json()).toMatchObject({ error: { code: 'SCHEMA_MISMATCH' } })
    expect(refused.stderr).toContain('--merge-schema')
    const widened = cli('cr', 'merge', wide.id, '--merge-schema')
    expect(widened.json()).toMatchObject({ status: 'merged', schema_changed: true })
    // The patch's _op column steers the merge; it never becomes a column of the dataset.
    expect(
      cli('dataset', 'show', 'products')
        .json<{ schema: { name: string }[] }>()
        .schema.map((c) => c.name),
    ).toEqual(['id', 'price', 'qty', 'color'])

    const closed = cr('c.csv', 'id,price\n2,5\n')
    expect(cli('cr', 'close', closed.id).json()).toMatchObject({ status: 'closed' })
    expect(cli('cr', 'merge', closed.id).json()).toMatchObject({ error: { code: 'INVALID_STATE' } })
    expect(cli('cr', 'reopen', closed.id).json()).toMatchObject({ status: 'pending' })
    expect(
      cli('cr', 'list', 'products', '--status', 'pending')
        .json<{ change_requests: { id: string }[] }>()
        .change_requests.map((c) => c.id),
    ).toEqual([closed.id])
  })
})
