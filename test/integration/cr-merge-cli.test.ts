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
})
