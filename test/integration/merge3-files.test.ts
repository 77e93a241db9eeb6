import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/temp.js'

async function duckdbFile(path: string, statements: string): Promise<void> {
  const db = await DuckDb.open({ path })
  try {
    for (const s of statements.split(';').filter((x) => x.trim() !== ''))
      await db.run(sql`${raw(s)}`)
    await db.run(sql`checkpoint`)
  } finally {
    db.close()
  }
}

async function query(path: string, text: string): Promise<unknown[]> {
  const db = await DuckDb.open({ path, readOnly: true })
  try {
    return await db.all(sql`${raw(text)}`)
  } finally {
    db.close()
  }
}

/** base: runs r0..r2 (primary key) and tags (no key: all columns); ours and theirs diverge. */
async function duckdbBranches(dir: string) {
  const files = {
    base: join(dir, 'base.duckdb'),
    ours: join(dir, 'ours.duckdb'),
    theirs: join(dir, 'theirs.duckdb'),
  }
  await duckdbFile(
    files.base,
    `create table runs (run_id varchar primary key, lr double, score double);
     insert into runs values ('r0', 0.1, 1), ('r1', 0.1, 1), ('r2', 0.1, 1);
     create table tags (run_id varchar, tag varchar);
     insert into tags values ('r0', 'baseline')`,
  )
  copyFileSync(files.base, files.ours)
  copyFileSync(files.base, files.theirs)
  await duckdbFile(
    files.ours,
    `update runs set score = 2 where run_id = 'r1';
     insert into runs values ('r3', 0.3, 3);
     insert into tags values ('r3', 'ours')`,
  )
  await duckdbFile(
    files.theirs,
    `update runs set lr = 0.2 where run_id = 'r1';
     update runs set score = 5 where run_id = 'r2';
     delete from runs where run_id = 'r0';
     create table notes (run_id varchar, note varchar);
     insert into notes values ('r2', 'rescored')`,
  )
  return files
}

describe('merge3 on DuckDB results files (CLI)', { timeout: 180_000 }, () => {
  test('every table merges by its key; a table only theirs has is added', async () => {
    const dir = tempDir()
    const files = await duckdbBranches(dir)
    const output = join(dir, 'merged.duckdb')
    const run = runCli([
      'merge3',
      '--base',
      files.base,
      '--ours',
      files.ours,
      '--theirs',
      files.theirs,
      '--output',
      output,
      '--json',
    ])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const report = run.json<{ format: string; tables: { table: string; action: string }[] }>()
    expect(report.format).toBe('duckdb')
    expect(report.tables.map((t) => [t.table, t.action])).toEqual([
      ['runs', 'merged'],
      ['tags', 'merged'],
      ['notes', 'added from theirs'],
    ])
    expect(await query(output, 'select * from runs order by run_id')).toEqual([
      { run_id: 'r1', lr: 0.2, score: 2 },
      { run_id: 'r2', lr: 0.1, score: 5 },
      { run_id: 'r3', lr: 0.3, score: 3 },
    ])
    expect(await query(output, 'select * from tags order by run_id')).toEqual([
      { run_id: 'r0', tag: 'baseline' },
      { run_id: 'r3', tag: 'ours' },
    ])
    expect(await query(output, 'select * from notes')).toEqual([{ run_id: 'r2', note: 'rescored' }])
  })

  test('--rule row makes different cells of one row a conflict; --resolutions FILE settles it per key; a bad file names each bad entry', async () => {
    const dir = tempDir()
    const files = await duckdbBranches(dir)
    const args = ['merge3', '--base', files.base, '--ours', files.ours, '--theirs', files.theirs]
    const before = readFileSync(files.ours)
    const row = runCli([...args, '--rule', 'row', '--json'])
    expect(row.code).toBe(1)
    const error = row.json<{ error: { code: string; details: { conflicts: unknown[] } } }>().error
    expect(error.code).toBe('MERGE_CONFLICT')
    expect(error.details.conflicts).toMatchObject([
      { kind: 'row', table: 'runs', key: { run_id: 'r1' } },
    ])
    expect(readFileSync(files.ours).equals(before)).toBe(true)

    const resolutions = join(dir, 'resolutions.json')
    writeFileSync(
      resolutions,
      JSON.stringify([{ table: 'runs', key: { run_id: 'r1' }, take: 'theirs' }]),
    )
    const settled = runCli([...args, '--rule', 'row', '--resolutions', resolutions])
    expect(settled.code).toBe(0)
    expect(await query(files.ours, "select lr, score from runs where run_id = 'r1'")).toEqual([
      { lr: 0.2, score: 1 },
    ])

    writeFileSync(
      resolutions,
      JSON.stringify([{ key: { run_id: 'r1' }, take: 'mine' }, { take: 'ours' }]),
    )
    const bad = runCli([...args, '--resolutions', resolutions])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain(
      `Resolutions file ${resolutions} has 2 invalid entries: resolution 0 needs take "ours" or "theirs", or a value; resolution 1 has no key object.`,
    )
  })
})

describe('merge3 on Parquet datasets (hive-partitioned folders)', { timeout: 180_000 }, () => {
  test('without --output ours stays a folder with the same partitions', async () => {
    const dir = tempDir()
    const db = await DuckDb.open()
    try {
      for (const [side, rows] of [
        ['base', "(1, 1.0, 'x'), (2, 2.0, 'y')"],
        ['ours', "(1, 1.5, 'x'), (2, 2.0, 'y'), (3, 3.0, 'x')"],
        ['theirs', "(1, 1.0, 'x'), (4, 4.0, 'y')"],
      ] as const)
        await db.run(
          sql`copy (select * from (values ${raw(rows)}) t(id, score, part)) to ${literal(join(dir, side))} (format parquet, partition_by (part))`,
        )
      const folder = (side: string) => join(dir, side)
      const run = runCli([
        'merge3',
        '--base',
        folder('base'),
        '--ours',
        folder('ours'),
        '--theirs',
        folder('theirs'),
        '--key',
        'id',
      ])
      expect(run.stderr).toBe('')
      expect(run.code).toBe(0)
      expect(statSync(folder('ours')).isDirectory()).toBe(true)
      expect(readdirSync(folder('ours')).sort()).toEqual(['part=x', 'part=y'])
      expect(
        await db.all(
          sql`select id, score, part from read_parquet(${literal(join(folder('ours'), '**', '*.parquet'))}, hive_partitioning = true) order by id`,
        ),
      ).toEqual([
        { id: 1, score: 1.5, part: 'x' },
        { id: 3, score: 3, part: 'x' },
        { id: 4, score: 4, part: 'y' },
      ])
    } finally {
      db.close()
    }
  })
})
