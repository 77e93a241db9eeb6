import { copyFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { mergeResults, rebaseResults } from '../../src/index.js'
import { merge3 } from '../../src/merge/merge3.js'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { tempDir } from '../support/temp.js'

const count = (path: string, sql: string) => {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare(sql).pluck().get()
  } finally {
    db.close()
  }
}

describe.skipIf(!hasFixtures)(needsFixtures('merge3 on xetrack databases'), () => {
  /** base = run a; ours = a + the sweep b; theirs = a + the extra-param run c. */
  async function branches(dir: string) {
    const base = join(dir, 'base.db')
    const ours = join(dir, 'ours.db')
    const theirs = join(dir, 'theirs.db')
    copyFileSync(fixture('xetrack', 'a_base_e0.1.0.db'), base)
    await mergeResults({
      ours: base,
      theirs: fixture('xetrack', 'b_sweep_e0.2.0.db'),
      output: ours,
    })
    await mergeResults({
      ours: base,
      theirs: fixture('xetrack', 'c_extra_param_e0.3.0.db'),
      output: theirs,
    })
    return { base, ours, theirs }
  }

  test('branches running different experiments merge with every run and no conflict', async () => {
    const dir = tempDir()
    const { base, ours, theirs } = await branches(dir)
    const output = join(dir, 'merged.db')
    const report = await merge3({ base, ours, theirs, output })
    expect(report.hasConflicts).toBe(false)
    expect(report.tables.find((t) => t.table === 'predictions')).toMatchObject({
      key: ['track_id', 'timestamp'],
      ours: { added: 60, deleted: 0, changed: 0 },
      theirs: { added: 30, deleted: 0, changed: 0 },
      upserts: 30,
      deletes: 0,
    })
    expect(count(output, 'select count(*) from predictions')).toBe(40 + 60 + 30)
    expect(count(output, 'select count(*) from metrics')).toBe(1 + 3 + 1)
    expect(count(output, 'select count(*) from predictions where batch_size = 32')).toBe(30)
  })

  test('a corrected re-run rebased on one branch replaces the ancestor run', async () => {
    const dir = tempDir()
    const { base, ours } = await branches(dir)
    const theirs = join(dir, 'rerun.db')
    await rebaseResults({
      ours: base,
      theirs: fixture('xetrack', 'd_rebase_e0.1.0_corrected.db'),
      output: theirs,
      key: ['experiment_version'],
    })
    const output = join(dir, 'merged.db')
    const report = await merge3({ base, ours, theirs, output })
    expect(report.hasConflicts).toBe(false)
    expect(report.tables.find((t) => t.table === 'predictions')?.theirs).toEqual({
      added: 40,
      deleted: 40,
      changed: 0,
    })
    expect(
      count(output, "select count(*) from predictions where track_id = 'messy-tuna-4687'"),
    ).toBe(0)
    expect(
      count(output, "select count(*) from predictions where track_id = 'attractive-swine-6553'"),
    ).toBe(40)
    expect(count(output, 'select count(*) from predictions')).toBe(40 + 60)
  })

  test('the same cell changed on both sides: conflict, nothing written; --take theirs settles it', async () => {
    const dir = tempDir()
    const { base, ours, theirs } = await branches(dir)
    for (const [path, value] of [
      [ours, 0.5],
      [theirs, 0.25],
    ] as const) {
      const db = new Database(path)
      db.prepare("update metrics set accuracy = ? where track_id = 'messy-tuna-4687'").run(value)
      db.close()
    }
    const before = readFileSync(ours)
    const failed = runCli(['merge3', '--base', base, '--ours', ours, '--theirs', theirs, '--json'])
    expect(failed.code).toBe(1)
    const error = failed.json<{ error: { code: string; details: { conflicts: unknown[] } } }>()
      .error
    expect(error.code).toBe('MERGE_CONFLICT')
    expect(error.details.conflicts).toEqual([
      {
        kind: 'cell',
        table: 'metrics',
        key: { track_id: 'messy-tuna-4687', timestamp: expect.any(String) },
        column: 'accuracy',
        base: 0.75,
        ours: 0.5,
        theirs: 0.25,
      },
    ])
    expect(readFileSync(ours).equals(before)).toBe(true)
    const settled = runCli([
      'merge3',
      '--base',
      base,
      '--ours',
      ours,
      '--theirs',
      theirs,
      '--take',
      'theirs',
      '--json',
    ])
    expect(settled.code).toBe(0)
    expect(count(ours, "select accuracy from metrics where track_id = 'messy-tuna-4687'")).toBe(
      0.25,
    )
    expect(count(ours, 'select count(*) from predictions')).toBe(130)
  })
})

describe('merge3 on Parquet files', () => {
  test('rows keyed by --key merge; a missing key is refused', async () => {
    const dir = tempDir()
    const { DuckDb } = await import('../../src/engine/duckdb.js')
    const { sql, literal } = await import('../../src/engine/sql.js')
    const db = await DuckDb.open()
    const write = (name: string, rows: string) =>
      db.run(
        sql`copy (select * from (values ${sql([rows] as unknown as TemplateStringsArray)}) t(id, score)) to ${literal(join(dir, name))} (format parquet)`,
      )
    await write('base.parquet', '(1, 1.0), (2, 2.0)')
    await write('ours.parquet', '(1, 1.5), (2, 2.0), (3, 3.0)')
    await write('theirs.parquet', '(1, 1.0), (4, 4.0)')
    const files = {
      base: join(dir, 'base.parquet'),
      ours: join(dir, 'ours.parquet'),
      theirs: join(dir, 'theirs.parquet'),
    }
    const output = join(dir, 'out.parquet')
    const report = await merge3({ ...files, output, key: ['id'] })
    expect(report.hasConflicts).toBe(false)
    const rows = await db.all(
      sql`select id, score from read_parquet(${literal(output)}) order by id`,
    )
    expect(rows).toEqual([
      { id: 1, score: 1.5 },
      { id: 3, score: 3 },
      { id: 4, score: 4 },
    ])
    db.close()
    const noKey = runCli([
      'merge3',
      '--base',
      files.base,
      '--ours',
      files.ours,
      '--theirs',
      files.theirs,
      '--output',
      join(dir, 'x.parquet'),
      '--json',
    ])
    expect(noKey.code).toBe(1)
    expect(noKey.json<{ error: { code: string } }>().error.code).toBe('KEY_COLUMN_MISSING')
    expect(existsSync(join(dir, 'x.parquet'))).toBe(false)
  })
})
