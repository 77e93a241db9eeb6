/** `duckmerge results merge|rebase` as a subprocess: --json figures, exit codes, bad input. */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { raw } from '../../src/engine/sql.js'
import { openSqlite } from '../../src/engine/sqlite.js'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

function makeSqlite(path: string, statements: readonly string[]): string {
  const db = openSqlite(path, { fileMustExist: false })
  for (const s of statements) db.exec(s)
  db.close()
  return path
}

/** A failed run: exit 1, one error line on stderr naming `mentions`, nothing written. */
function expectFailure(
  args: readonly string[],
  dir: string,
  code: string,
  mentions: readonly string[],
): void {
  const before = hashTree(dir)
  const r = runCli(args)
  expect(r.code).toBe(1)
  const lines = r.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toContain(`[${code}]`)
  for (const m of mentions) expect(lines[0]).toContain(m)
  expect(hashTree(dir)).toEqual(before)
}

describe.skipIf(!hasFixtures)(needsFixtures('results CLI on xetrack fixtures'), () => {
  test('merge --json prints one object with the figures; --dry-run the same and writes nothing', () => {
    const dir = tempDir()
    const base = join(dir, 'a.db')
    copyFileSync(fixture('xetrack', 'a_base_e0.1.0.db'), base)
    const exp = fixture('xetrack', 'c_extra_param_e0.3.0.db')
    const before = hashTree(dir)
    const dry = runCli(['results', 'merge', '--base', base, '--exp', exp, '--dry-run', '--json'])
    expect(dry.code).toBe(0)
    expect(hashTree(dir)).toEqual(before)
    const r = runCli(['results', 'merge', '--base', base, '--exp', exp, '--json'])
    expect(r.code).toBe(0)
    const report = r.json<Record<string, unknown>>()
    expect(report).toMatchObject({
      strategy: 'merge',
      rowsBefore: 41,
      rowsInserted: 31,
      rowsReplaced: 0,
      rowsSkipped: 0,
      rowsAfter: 72,
      columnsAdded: ['predictions.batch_size', 'metrics.batch_size'],
    })
    expect(typeof report.durationMs).toBe('number')
    expect(report.tables).toHaveLength(2)
    const { durationMs: _a, dryRun: _b, ...figures } = report
    const { durationMs: _c, dryRun: _d, ...dryFigures } = dry.json<Record<string, unknown>>()
    expect(dryFigures).toEqual(figures)
  })

  test('a DuckDB exp merges into a SQLite base (rows copied across engines)', async () => {
    const dir = tempDir()
    const duck = join(dir, 'exp.duckdb')
    const db = await DuckDb.open({ path: duck })
    await db.run(
      raw(`create table predictions as select 'duck-run' as track_id, 't' || i as timestamp,
        'e0.9.0' as experiment_version, i::bigint as input_id, 0.5::double as accuracy,
        date '2026-01-01' + i::int as day from range(5) r(i)`),
    )
    db.close()
    const base = join(dir, 'a.db')
    copyFileSync(fixture('xetrack', 'a_base_e0.1.0.db'), base)
    const r = runCli(['results', 'merge', '--base', base, '--exp', duck, '--json'])
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({ rowsInserted: 5, rowsAfter: 45, columnsAdded: ['day'] })
    const check = openSqlite(base, { readonly: true })
    try {
      expect(
        check
          .prepare(
            "select input_id, typeof(input_id) t, day from predictions where track_id = 'duck-run' order by input_id limit 2",
          )
          .all(),
      ).toEqual([
        { input_id: 0, t: 'integer', day: '2026-01-01' },
        { input_id: 1, t: 'integer', day: '2026-01-02' },
      ])
    } finally {
      check.close()
    }
  })

  test('rebase --key prints the text summary', () => {
    const dir = tempDir()
    const out = join(dir, 'out.db')
    const r = runCli([
      'results',
      'rebase',
      '--base',
      fixture('xetrack', 'a_base_e0.1.0.db'),
      '--exp',
      fixture('xetrack', 'd_rebase_e0.1.0_corrected.db'),
      '--key',
      'experiment_version',
      '--output',
      out,
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('rows: 41 before, +41 inserted, 41 replaced, 0 skipped, 41 after')
    expect(existsSync(out)).toBe(true)
  })
})

describe('results CLI bad input', () => {
  const setup = () => {
    const dir = tempDir()
    const base = makeSqlite(join(dir, 'base.db'), [
      'create table t (id int primary key, v int)',
      'insert into t values (1, 1)',
    ])
    const exp = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id int primary key, v text)',
      "insert into t values (2, 'x')",
    ])
    return { dir, base, exp, out: join(dir, 'out.db') }
  }

  test('missing file', () => {
    const { dir, base, out } = setup()
    const missing = join(dir, 'nope.db')
    expectFailure(
      ['results', 'merge', '--base', base, '--exp', missing, '--output', out],
      dir,
      'INPUT_NOT_FOUND',
      [missing],
    )
  })

  test('a file that is not SQLite or DuckDB', () => {
    const { dir, base, out } = setup()
    const text = join(dir, 'notes.txt')
    writeFileSync(text, 'track_id,score\nr1,0.5\n')
    expectFailure(
      ['results', 'merge', '--base', base, '--exp', text, '--output', out],
      dir,
      'INPUT_UNREADABLE',
      [text, 'not a SQLite or DuckDB file'],
    )
  })

  test('a key column missing on one side', () => {
    const { dir, base, exp } = setup()
    expectFailure(
      ['results', 'rebase', '--base', base, '--exp', exp, '--key', 'run'],
      dir,
      'KEY_COLUMN_MISSING',
      ['"run"', 'table "t"', base],
    )
  })

  test('incompatible column types', () => {
    const { dir, base, exp } = setup()
    expectFailure(['results', 'merge', '--base', base, '--exp', exp], dir, 'SCHEMA_MISMATCH', [
      '"v"',
      'table "t"',
      `INT in ${base} but TEXT in ${exp}`,
    ])
  })

  test('an unknown --table', () => {
    const { dir, base } = setup()
    const exp = makeSqlite(join(dir, 'exp2.db'), ['create table t (id int primary key, v int)'])
    expectFailure(
      ['results', 'merge', '--base', base, '--exp', exp, '--table', 'nope'],
      dir,
      'TABLE_NOT_FOUND',
      ['"nope"', exp, 'its tables: t', 'Choose --table among them.'],
    )
  })

  test('an output folder that cannot be written', () => {
    const { dir, base } = setup()
    const exp = makeSqlite(join(dir, 'exp2.db'), ['create table t (id int primary key, v int)'])
    const locked = join(dir, 'locked')
    mkdirSync(locked)
    chmodSync(locked, 0o500)
    try {
      const missingFolder = join(dir, 'no', 'such', 'out.db')
      expectFailure(
        ['results', 'merge', '--base', base, '--exp', exp, '--output', missingFolder],
        dir,
        'OUTPUT_UNWRITABLE',
        [missingFolder],
      )
      // root ignores folder permissions: only check the read-only folder as another user.
      if (process.getuid?.() !== 0) {
        const out = join(locked, 'out.db')
        expectFailure(
          ['results', 'merge', '--base', base, '--exp', exp, '--output', out],
          dir,
          'OUTPUT_UNWRITABLE',
          [out],
        )
      }
      expect(readdirSync(locked)).toEqual([])
    } finally {
      chmodSync(locked, 0o700)
    }
  })

  test('base and exp naming the same file is a usage error (exit 2)', () => {
    const { dir, base } = setup()
    const before = hashTree(dir)
    const r = runCli(['results', 'merge', '--base', base, '--exp', join(dir, '.', 'base.db')])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('same file')
    expect(hashTree(dir)).toEqual(before)
  })

  test('rebase without --key is a usage error (exit 2)', () => {
    const { base, exp } = setup()
    const r = runCli(['results', 'rebase', '--base', base, '--exp', exp])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--key')
  })
})
