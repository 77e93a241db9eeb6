/**
 * Layout compatibility with xetrack: our Tracker appends to databases the real xetrack wrote
 * (shared fixtures, copied to a temp dir first) and leaves them in the layout xetrack expects.
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openSqlite } from '../../src/engine/sqlite.js'
import { Tracker } from '../../src/index.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { tempDir } from '../support/temp.js'

interface Column {
  name: string
  type: string
  pk: number
}

function inspect(db: string, table: string) {
  const conn = openSqlite(db, { readonly: true })
  try {
    const quoted = `"${table}"`
    return {
      columns: conn
        .prepare(`select name, type, pk from pragma_table_info('${table}')`)
        .all() as Column[],
      rows: conn.prepare(`select * from ${quoted} order by rowid`).all() as Record<
        string,
        unknown
      >[],
      tables: (
        conn.prepare(`select name from sqlite_master where type = 'table' order by name`).all() as {
          name: string
        }[]
      ).map((t) => t.name),
    }
  } finally {
    conn.close()
  }
}

const cases = [
  { file: 'a_base_e0.1.0.db', table: 'predictions', version: 'e0.1.0', rows: 40 },
  { file: 'a_base_e0.1.0.db', table: 'metrics', version: 'e0.1.0', rows: 1 },
  { file: 'b_sweep_e0.2.0.db', table: 'predictions', version: 'e0.2.0', rows: 60 },
  { file: 'c_extra_param_e0.3.0.db', table: 'predictions', version: 'e0.3.0', rows: 30 },
  { file: 'd_rebase_e0.1.0_corrected.db', table: 'metrics', version: 'e0.1.0', rows: 1 },
  { file: 'e_quirks_default_table.db', table: 'default', version: 'e0.4.0', rows: 6 },
] as const

describe.skipIf(!hasFixtures)(needsFixtures('xetrack fixtures'), () => {
  test.each(cases)('$file · $table: rows appended, layout kept, old rows unchanged', async (c) => {
    const db = join(tempDir(), c.file)
    copyFileSync(fixture('xetrack', c.file), db)
    const before = inspect(db, c.table)
    expect(before.rows).toHaveLength(c.rows)

    const tracker = new Tracker({
      db,
      table: c.table,
      params: { experiment_version: c.version, model: 'tiny-mlp', lr: 0.02 },
      trackId: 'quick-heron-4242',
    })
    const predict = (item: { id: number }) => ({ input_id: item.id, prediction: 1, accuracy: 1 })
    for (let id = 0; id < 5; id++) tracker.track(predict, [{ id }])
    tracker.log({ accuracy: 0.8, 'new metric': 3.5 })
    await tracker.close()

    const after = inspect(db, c.table)
    // Same table, same key, the old columns first in their old order with their old types.
    expect(after.columns.slice(0, before.columns.length)).toEqual(before.columns)
    expect(after.columns.filter((col) => col.pk > 0).map((col) => col.name)).toEqual([
      'track_id',
      'timestamp',
    ])
    const added = after.columns.slice(before.columns.length).map((col) => `${col.name} ${col.type}`)
    const had = new Set(before.columns.map((col) => col.name))
    const expectedNew = [
      ['lr', 'REAL'],
      ['function_name', 'TEXT'],
      ['args', 'TEXT'],
      ['kwargs', 'TEXT'],
      ['error', 'TEXT'],
      ['function_time', 'REAL'],
      ['input_id', 'INTEGER'],
      ['prediction', 'INTEGER'],
      ['accuracy', 'INTEGER'],
      ['new_metric', 'REAL'],
    ]
      .filter(([name]) => !had.has(name as string))
      .map(([name, type]) => `${name} ${type}`)
    expect(added).toEqual(expectedNew)
    expect(after.tables).toEqual(before.tables)

    // Old rows byte-for-byte the same (new columns NULL), new rows after them.
    const newColumns = after.columns.slice(before.columns.length).map((col) => col.name)
    expect(
      after.rows.slice(0, c.rows).map((row) => {
        const old = { ...row }
        for (const name of newColumns) {
          expect(old[name]).toBeNull()
          delete old[name]
        }
        return old
      }),
    ).toEqual(before.rows)
    const appended = after.rows.slice(c.rows)
    expect(appended).toHaveLength(6)
    expect(appended.map((r) => [r.track_id, r.experiment_version, r.input_id, r.accuracy])).toEqual(
      [
        ['quick-heron-4242', c.version, 0, 1],
        ['quick-heron-4242', c.version, 1, 1],
        ['quick-heron-4242', c.version, 2, 1],
        ['quick-heron-4242', c.version, 3, 1],
        ['quick-heron-4242', c.version, 4, 1],
        ['quick-heron-4242', c.version, null, 0.8],
      ],
    )
    expect(appended[5]?.new_metric).toBe(3.5)
    for (const row of appended) {
      expect(row.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/)
    }
  })

  test('the quirks table keeps xetrack’s sanitised names: my-metric x lands in my_metric_x', async () => {
    const db = join(tempDir(), 'e.db')
    copyFileSync(fixture('xetrack', 'e_quirks_default_table.db'), db)
    const before = inspect(db, 'default')
    const tracker = new Tracker({
      db,
      params: { experiment_version: 'e0.4.0' },
      trackId: 'manual-run-0002',
    })
    tracker.log({ 'my-metric x': 2, 7: 'eight', ok: false, tags: ['c'], reviewed: 'no' })
    await tracker.close()
    const after = inspect(db, 'default')
    expect(after.columns).toEqual(before.columns)
    const row = after.rows.at(-1)
    expect(row).toMatchObject({
      track_id: 'manual-run-0002',
      experiment_version: 'e0.4.0',
      my_metric_x: 2,
      '7': 'eight',
      ok: 0,
      tags: '["c"]',
      reviewed: 'no',
      model: null,
    })
  })
})
