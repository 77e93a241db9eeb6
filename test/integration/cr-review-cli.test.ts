import { describe, expect, test } from 'vitest'
import { productsRoot } from '../support/cr-root.js'

function setup() {
  const root = productsRoot()
  const cr = (name: string, content: string) => root.cr(name, content).id
  const merge = (id: string) => {
    const r = root.cli('cr', 'merge', id)
    expect(r.code, r.stderr).toBe(0)
  }
  return { ...root, cr, merge }
}

// Each test runs the CLI a dozen times: allow for a loaded machine.
describe('duckmerge cr diff / cr conflicts', { timeout: 240_000 }, () => {
  test('two change requests editing the same cell: the second lists base, ours and theirs', () => {
    const { cli, cr, merge, text } = setup()
    const a = cr('a.csv', 'id,price\n7,11\n')
    const b = cr('b.csv', 'id,price\n7,12\n')
    const none = cli('cr', 'conflicts', b)
    expect(none.code, none.stderr).toBe(0)
    expect(none.json()).toMatchObject({ summary: { rows: 0, cells: 0 }, items: [] })
    merge(a)
    const found = cli('cr', 'conflicts', b)
    expect(found.code, found.stderr).toBe(0)
    expect(found.json()).toMatchObject({
      base_version: 0,
      main_version: 1,
      rule: 'cell',
      summary: { rows: 1, cells: 1, by_kind: { cell: 1, 'delete-update': 0 } },
      items: [
        {
          key: { id: 7 },
          kind: 'cell',
          cells: [{ column: 'price', base: 10, ours: 11, theirs: 12 }],
        },
      ],
    })
    const shown = text('cr', 'conflicts', b)
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toContain('1 row(s), 1 cell(s) in conflict (cell 1)')
    expect(shown.stdout).toMatch(/7\s+cell\s+price\s+10\s+11\s+12/)
  })

  test('the same row in different columns: no conflict under the cell rule, one under the row rule', () => {
    const { cli, cr, merge } = setup()
    const a = cr('a.csv', 'id,price\n2,21\n')
    const b = cr('b.csv', 'id,qty\n2,22\n')
    merge(a)
    expect(cli('cr', 'conflicts', b).json()).toMatchObject({ summary: { rows: 0 }, items: [] })
    const row = cli('cr', 'conflicts', b, '--rule', 'row')
    expect(row.code, row.stderr).toBe(0)
    expect(row.json()).toMatchObject({
      rule: 'row',
      summary: { rows: 1, cells: 2, by_kind: { row: 1 } },
      items: [
        {
          key: { id: 2 },
          kind: 'row',
          cells: [
            { column: 'price', base: 20, ours: 21, theirs: 20 },
            { column: 'qty', base: 2, ours: 2, theirs: 22 },
          ],
        },
      ],
    })
    // Against main, B now changes only qty of row 2 (price stays A's).
    const diff = cli('cr', 'diff', b, '--against', 'main')
    expect(diff.code, diff.stderr).toBe(0)
    expect(diff.json()).toMatchObject({
      against: 'main',
      from_version: 1,
      summary: { rows_modified: 1, columns: { price: { modified: 0 }, qty: { modified: 1 } } },
      rows: [
        {
          key: { id: 2 },
          kind: 'modified',
          changed: ['qty'],
          before: { id: 2, price: 21, qty: 2 },
          after: { id: 2, price: 21, qty: 22 },
        },
      ],
    })
  })

  test('cr diff pages by cursor; bad flags exit 2; a stale cursor is INVALID_CURSOR', () => {
    const { cli, cr, merge, text } = setup()
    const a = cr('a.csv', 'id,price,_op\n1,,delete\n2,25,upsert\n9,90,upsert\n')
    const first = cli('cr', 'diff', a, '--limit', '2')
    expect(first.code, first.stderr).toBe(0)
    const page1 = first.json<{
      summary: Record<string, unknown>
      rows: { key: { id: number }; kind: string }[]
      page: { next_cursor: string; has_more: boolean; limit: number }
    }>()
    expect(page1.summary).toMatchObject({
      rows_added: 1,
      rows_deleted: 1,
      rows_modified: 1,
      rows_unmodified: 1,
      cells_added: 3,
      cells_deleted: 3,
      cells_modified: 1,
      old_row_count: 3,
      new_row_count: 3,
      schema_changes: [],
    })
    expect(page1.rows.map((r) => [r.key.id, r.kind])).toEqual([
      [1, 'deleted'],
      [2, 'modified'],
    ])
    expect(page1.page).toMatchObject({ limit: 2, has_more: true })
    const second = cli('cr', 'diff', a, '--limit', '2', '--cursor', page1.page.next_cursor)
    expect(second.code, second.stderr).toBe(0)
    expect(second.json()).toMatchObject({
      summary: null,
      rows: [{ key: { id: 9 }, kind: 'added', after: { id: 9, price: 90, qty: null } }],
      page: { next_cursor: null, has_more: false },
    })
    const main = cli('cr', 'diff', a, '--against', 'main', '--limit', '1')
    const cursor = main.json<{ page: { next_cursor: string } }>().page.next_cursor
    merge(cr('other.csv', 'id,price\n7,70\n'))
    const stale = cli('cr', 'diff', a, '--against', 'main', '--cursor', cursor)
    expect(stale.code).toBe(1)
    expect(stale.stderr).toContain('other inputs')
    expect(cli('cr', 'diff', a, '--against', 'theirs').code).toBe(2)
    expect(cli('cr', 'diff', a, '--kinds', 'renamed').code).toBe(2)
    expect(cli('cr', 'conflicts', a, '--rule', 'column').code).toBe(2)
    const summary = text('cr', 'diff', a, '--summary')
    expect(summary.code, summary.stderr).toBe(0)
    expect(summary.stdout).toContain(
      '1 added, 1 deleted, 1 modified, 1 unmodified rows; 1 cells modified; 3 → 3 rows',
    )
  })
})
