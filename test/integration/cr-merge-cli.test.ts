import { describe, expect, test } from 'vitest'
import { productsRoot } from '../support/cr-root.js'

describe('duckmerge cr merge (CLI)', { timeout: 300_000 }, () => {
  test('--dry-run, --resolutions FILE, a failed rule (EXPECTATIONS_FAILED, exit 1, no new log file) and cr audit', () => {
    const { cli, file, log, ...root } = productsRoot('id,price,qty\n1,10,1\n7,10,7\n')
    const cr = (name: string, content: string) => root.cr(name, content).id
    const rules = cli(
      'dataset',
      'rules',
      'products',
      '--set',
      file(
        'rules.json',
        JSON.stringify([{ name: 'price present', type: 'not_null', column: 'price' }]),
      ),
    )
    expect(rules.code, rules.stderr).toBe(0)
    const a = cr('a.csv', 'id,price\n7,11\n')
    const b = cr('b.csv', 'id,price,qty\n7,12,70\n')
    expect(cli('cr', 'merge', a).code).toBe(0)

    const conflict = cli('cr', 'merge', b)
    expect(conflict.code).toBe(1)
    expect(conflict.json()).toMatchObject({ error: { code: 'MERGE_CONFLICT' } })

    const dry = cli('cr', 'merge', b, '--take', 'theirs', '--dry-run')
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.json()).toMatchObject({
      status: 'dry_run',
      merged_version: null,
      diff: { version_before: 1, version_after: 1, rows_updated: 1 },
    })
    expect(log()).toHaveLength(2)
    expect(cli('cr', 'show', b).json()).toMatchObject({ status: 'conflict' })

    const resolutions = file(
      'res.json',
      JSON.stringify([{ key: { id: 7 }, column: 'price', value: 15 }]),
    )
    const merged = cli('cr', 'merge', b, '--resolutions', resolutions, '--requested-by', 'bob')
    expect(merged.code, merged.stderr).toBe(0)
    const body = merged.json<Record<string, unknown>>()
    expect(body).toMatchObject({
      status: 'merged',
      merged_version: 2,
      commit_id: 'v2',
      rows_affected: 1,
      diff: {
        version_before: 1,
        version_after: 2,
        rows_added: 0,
        rows_updated: 1,
        rows_deleted: 0,
      },
      idempotent_replay: false,
    })
    expect(
      cli('dataset', 'rows', 'products').json<{ rows: Record<string, unknown>[] }>().rows[1],
    ).toEqual({ id: '7', price: '15', qty: '70' })

    const c = cr('c.csv', 'id,price\n1,\n')
    const failed = cli('cr', 'merge', c)
    expect(failed.code).toBe(1)
    expect(failed.json()).toMatchObject({
      error: {
        code: 'EXPECTATIONS_FAILED',
        details: {
          main_version: 2,
          results: [
            {
              name: 'price present',
              success: false,
              unexpected_count: 1,
              unexpected_percent: 50,
              sample: [{ key: { id: 1 }, value: null }],
            },
          ],
        },
      },
    })
    expect(log()).toHaveLength(3)
    expect(cli('cr', 'show', c).json()).toMatchObject({
      status: 'failed',
      failure: { code: 'validation_failed' },
    })
    const audit = cli('cr', 'audit', b).json<{
      files: Record<string, Record<string, unknown>>
      history: number[]
    }>()
    expect(Object.keys(audit.files).sort()).toEqual([
      'conflicts',
      'diff',
      'merge_result',
      'validation',
    ])
    expect(audit.history).toEqual([1])
    expect(audit.files.merge_result).toMatchObject({ status: 'merged', requested_by: 'bob' })
    expect(cli('cr', 'audit', b, '--file', 'merge_result', '--history', '1').json()).toMatchObject({
      status: 'conflict',
    })
  })

  test('--skip-conflict-check writes the change’s cells over the head with no check; a plain merge refuses, --force takes theirs’ whole row under --rule row', () => {
    const { cli, file, log, ...root } = productsRoot('id,price,qty\n7,10,7\n8,10,8\n9,10,9\n')
    const rows = () => cli('dataset', 'rows', 'products').json<{ rows: unknown[] }>().rows
    // From base 0: A changes price and qty of every row; B7, B8, B9 change only the price.
    const a = root.cr('a.csv', 'id,price,qty\n7,11,5\n8,11,5\n9,11,5\n').id
    const b7 = root.cr('b7.csv', 'id,price\n7,12\n', '--base-version', '0').id
    const b8 = root.cr('b8.csv', 'id,price\n8,12\n', '--base-version', '0').id
    const b9 = root.cr('b9.csv', 'id,price\n9,12\n', '--base-version', '0').id
    expect(cli('cr', 'merge', a).code).toBe(0)
    const afterA = [
      { id: '7', price: '11', qty: '5' },
      { id: '8', price: '11', qty: '5' },
      { id: '9', price: '11', qty: '5' },
    ]

    // A plain merge finds the price cell both changed (10 → 11 and 10 → 12) and writes nothing.
    const refused = cli('cr', 'merge', b8)
    expect(refused.code).toBe(1)
    expect(refused.json()).toMatchObject({
      error: {
        code: 'MERGE_CONFLICT',
        details: {
          conflicts: [
            { key: { id: 8 }, cells: [{ column: 'price', base: 10, ours: 11, theirs: 12 }] },
          ],
        },
      },
    })
    expect(rows()).toEqual(afterA)
    expect(log()).toHaveLength(2)

    // Skipping is not forcing: neither --force nor a resolution goes with it.
    const both = cli('cr', 'merge', b8, '--skip-conflict-check', '--force', '--rule', 'row')
    expect(both.code).toBe(2)
    expect(both.json()).toMatchObject({
      error: {
        code: 'USAGE',
        message:
          "--skip-conflict-check takes the change's cells whatever the head holds, so --force, --rule cannot apply; pass one or the other",
      },
    })
    expect(log()).toHaveLength(2)

    // --force under the row rule: the conflict is recorded, then theirs' whole row wins (qty 7).
    const forced = cli('cr', 'merge', b7, '--force', '--rule', 'row')
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.json()).toMatchObject({
      merged_version: 2,
      conflicts: { total: 1, rule: 'row', resolution: 'forced' },
      diff: { rows_updated: 1, cells_modified: 2 },
    })
    // --skip-conflict-check: B8's price goes over the head, A's qty 5 stays; the cell it
    // overwrote is counted, not listed.
    const skipped = cli('cr', 'merge', b8, '--skip-conflict-check')
    expect(skipped.code, skipped.stderr).toBe(0)
    expect(skipped.json()).toMatchObject({
      merged_version: 3,
      conflicts: { total: 1, rule: 'cell', resolution: 'skipped' },
      diff: { rows_updated: 1, cells_modified: 1 },
    })
    expect(cli('cr', 'audit', b8, '--file', 'conflicts').json()).toMatchObject({
      total: 1,
      resolution: 'skipped',
      items: [],
    })
    // --force under the cell rule gives the same row as skipping, but checked and recorded.
    const forcedCell = cli('cr', 'merge', b9, '--force')
    expect(forcedCell.json()).toMatchObject({
      merged_version: 4,
      conflicts: { total: 1, rule: 'cell', resolution: 'forced' },
      diff: { rows_updated: 1, cells_modified: 1 },
    })
    expect(rows()).toEqual([
      { id: '7', price: '12', qty: '7' },
      { id: '8', price: '12', qty: '5' },
      { id: '9', price: '12', qty: '5' },
    ])
  })
})
