/** Results databases: merge and rebase through the library on real xetrack files and built DBs. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { ident, raw, sql } from '../../src/engine/sql.js'
import { allSync, openSqlite } from '../../src/engine/sqlite.js'
import {
  type DuckmergeError,
  isDuckmergeError,
  mergeResults,
  rebaseResults,
} from '../../src/index.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

const A = 'a_base_e0.1.0.db'
const B = 'b_sweep_e0.2.0.db'
const C = 'c_extra_param_e0.3.0.db'
const D = 'd_rebase_e0.1.0_corrected.db'
const E = 'e_quirks_default_table.db'

/** Copies a fixture into `dir` (fixtures are never written) and returns the copy's path. */
function copyFixture(dir: string, name: string, as = name): string {
  const target = join(dir, as)
  copyFileSync(fixture('xetrack', name), target)
  return target
}

/** SQLite file built from DDL and inserts (plain SQL of the test itself). */
function makeSqlite(path: string, statements: readonly string[]): string {
  const db = openSqlite(path, { fileMustExist: false })
  for (const s of statements) db.exec(s)
  db.close()
  return path
}

async function makeDuckDb(path: string, statements: readonly string[]): Promise<string> {
  const db = await DuckDb.open({ path })
  for (const s of statements) await db.run(raw(s))
  db.close()
  return path
}

function sqliteRows(path: string, query: string): Record<string, unknown>[] {
  const db = openSqlite(path, { readonly: true })
  try {
    return allSync(db, raw(query))
  } finally {
    db.close()
  }
}

async function duckRows(path: string, query: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDb.open({ path, readOnly: true })
  try {
    return await db.all(raw(query))
  } finally {
    db.close()
  }
}

/** Every value of a table with its SQLite storage class, in key order: exactness checks. */
function exactRows(path: string, table: string): unknown[] {
  const db = openSqlite(path, { readonly: true })
  try {
    const cols = allSync<{ name: string }>(db, sql`select name from pragma_table_info(${table})`)
    const parts = cols.map((c) => `${ident(c.name).text}, typeof(${ident(c.name).text})`).join(', ')
    return allSync(db, raw(`select ${parts} from ${ident(table).text} order by 1, 3`)).map((r) =>
      Object.values(r).map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)),
    )
  } finally {
    db.close()
  }
}

interface Expected {
  rows: number
  columns: string[]
  rows_per_experiment_version: Record<string, number>
  rows_per_track_id: Record<string, number>
  sum_accuracy: number
}

/** The figures expected.json records for one table of a result. */
function summarize(path: string, table: string): Expected {
  const count = (col: string) =>
    Object.fromEntries(
      sqliteRows(path, `select ${col} as k, count(*) as n from "${table}" group by 1`).map((r) => [
        r.k,
        r.n,
      ]),
    )
  return {
    rows: Number(sqliteRows(path, `select count(*) as n from "${table}"`)[0]?.n),
    columns: sqliteRows(path, `select name, type from pragma_table_info('${table}')`).map(
      (c) => `${c.name} ${c.type}`,
    ),
    rows_per_experiment_version: count('experiment_version'),
    rows_per_track_id: count('track_id'),
    sum_accuracy:
      Math.round(
        Number(sqliteRows(path, `select sum(accuracy) as s from "${table}"`)[0]?.s) * 1e6,
      ) / 1e6,
  }
}

describe.skipIf(!hasFixtures)(needsFixtures('xetrack fixtures'), () => {
  const expected = hasFixtures
    ? (JSON.parse(readFileSync(fixture('xetrack', 'expected.json'), 'utf8')).expected as Record<
        string,
        Record<string, Record<string, Expected & { rows_inserted?: Record<string, number> }>>
      >)
    : {}
  const pick = (e: Expected) => ({
    rows: e.rows,
    columns: e.columns,
    rows_per_experiment_version: e.rows_per_experiment_version,
    rows_per_track_id: e.rows_per_track_id,
    sum_accuracy: e.sum_accuracy,
  })

  test('merge b into a matches xt copy, and merging b again changes nothing', async () => {
    const dir = tempDir()
    const ours = copyFixture(dir, A)
    const want = expected.merge_b_into_a?.xt_copy
    const report = await mergeResults({ ours, theirs: fixture('xetrack', B) })
    expect(report.tables?.map((t) => [t.table, t.rowsInserted])).toEqual([
      ['predictions', 60],
      ['metrics', 3],
    ])
    expect(report).toMatchObject({
      strategy: 'merge',
      rowsBefore: 41,
      rowsInserted: 63,
      rowsSkipped: 0,
      rowsAfter: 104,
    })
    for (const table of ['predictions', 'metrics'])
      expect(summarize(ours, table)).toEqual(pick(want?.[table] as Expected))
    const before = hashTree(ours)
    const again = await mergeResults({ ours, theirs: fixture('xetrack', B) })
    expect(again).toMatchObject({ rowsInserted: 0, rowsSkipped: 63, rowsAfter: 104 })
    expect(summarize(ours, 'predictions').rows).toBe(100)
    expect(hashTree(ours)).toEqual(before)
  })

  test('merge c into a keeps the extra column, appended at the end, NULL for a rows', async () => {
    const dir = tempDir()
    const out = join(dir, 'out.db')
    const report = await mergeResults({
      ours: fixture('xetrack', A),
      theirs: fixture('xetrack', C),
      output: out,
    })
    expect(report.columnsAdded).toEqual(['predictions.batch_size', 'metrics.batch_size'])
    const want = expected.merge_c_into_a?.xt_copy
    for (const table of ['predictions', 'metrics'])
      expect(summarize(out, table)).toEqual(pick(want?.[table] as Expected))
    expect(
      sqliteRows(
        out,
        'select experiment_version v, batch_size b, count(*) n from predictions group by 1, 2',
      ),
    ).toEqual([
      { v: 'e0.1.0', b: null, n: 40 },
      { v: 'e0.3.0', b: 32, n: 30 },
    ])
    // xetrack's primary key survives the schema change.
    expect(
      sqliteRows(out, "select name from pragma_table_info('predictions') where pk > 0"),
    ).toEqual([{ name: 'track_id' }, { name: 'timestamp' }])
  })

  test('rebase d onto a, keyed on experiment_version, matches the by-name rebase', async () => {
    const dir = tempDir()
    const out = join(dir, 'out.db')
    const report = await rebaseResults({
      ours: fixture('xetrack', A),
      theirs: fixture('xetrack', D),
      key: ['experiment_version'],
      output: out,
    })
    expect(report).toMatchObject({ rowsReplaced: 41, rowsInserted: 41, rowsAfter: 41 })
    const want = expected.rebase_d_onto_a?.by_name
    for (const table of ['predictions', 'metrics'])
      expect(summarize(out, table)).toEqual(pick(want?.[table] as Expected))
  })

  test('rebase d onto merge(a, b) replaces only e0.1.0', async () => {
    const dir = tempDir()
    const ours = copyFixture(dir, A)
    await mergeResults({ ours, theirs: fixture('xetrack', B) })
    const report = await rebaseResults({
      ours,
      theirs: fixture('xetrack', D),
      key: ['experiment_version'],
    })
    expect(report.tables?.map((t) => [t.table, t.rowsReplaced, t.rowsInserted])).toEqual([
      ['predictions', 40, 40],
      ['metrics', 1, 1],
    ])
    const want = expected.rebase_d_onto_merge_a_b?.by_name
    for (const table of ['predictions', 'metrics'])
      expect(summarize(ours, table)).toEqual(pick(want?.[table] as Expected))
  })

  test('rebase c onto a (no key overlap, extra column) inserts by name', async () => {
    const dir = tempDir()
    const out = join(dir, 'out.db')
    const report = await rebaseResults({
      ours: fixture('xetrack', A),
      theirs: fixture('xetrack', C),
      key: ['experiment_version'],
      output: out,
    })
    expect(report).toMatchObject({ rowsReplaced: 0, rowsInserted: 31 })
    const want = expected.rebase_c_onto_a?.by_name
    for (const table of ['predictions', 'metrics'])
      expect(summarize(out, table)).toEqual(pick(want?.[table] as Expected))
  })

  test('quirks DB e merged into a fresh copy of itself changes nothing', async () => {
    const dir = tempDir()
    const ours = copyFixture(dir, E, 'copy.db')
    const report = await mergeResults({ ours, theirs: fixture('xetrack', E) })
    expect(report).toMatchObject({ rowsInserted: 0, rowsSkipped: 9, rowsAfter: 9 })
    for (const table of ['default', 'assets', 'keys', 'counts'])
      expect(exactRows(ours, table)).toEqual(exactRows(fixture('xetrack', E), table))
  })

  test('quirks DB e restores deleted rows exactly (TEXT floats, column "7", BLOBs, non-ASCII)', async () => {
    const dir = tempDir()
    const ours = copyFixture(dir, E, 'partial.db')
    const db = openSqlite(ours)
    db.exec(`delete from "default" where track_id = 'ingenious-iguana-7701'; delete from assets`)
    db.close()
    const report = await mergeResults({ ours, theirs: fixture('xetrack', E) })
    expect(report.tables?.map((t) => [t.table, t.rowsInserted, t.rowsSkipped])).toEqual([
      ['assets', 1, 0],
      ['keys', 0, 1],
      ['counts', 0, 1],
      ['default', 4, 2],
    ])
    for (const table of ['default', 'assets', 'keys', 'counts'])
      expect(exactRows(ours, table)).toEqual(exactRows(fixture('xetrack', E), table))
    expect(
      sqliteRows(
        ours,
        `select note, typeof(note) t from "default" where note is not null order by 1`,
      ),
    ).toEqual([
      { note: '0.25', t: 'text' },
      { note: 'naïve ✓', t: 'text' },
    ])
  })

  test('quirks DB e merged into a creates its tables with their keys and exact values', async () => {
    const dir = tempDir()
    const out = join(dir, 'out.db')
    const report = await mergeResults({
      ours: fixture('xetrack', A),
      theirs: fixture('xetrack', E),
      output: out,
    })
    expect(report.tables?.every((t) => t.created)).toBe(true)
    expect(report.rowsInserted).toBe(9)
    for (const table of ['default', 'assets', 'keys', 'counts'])
      expect(exactRows(out, table)).toEqual(exactRows(fixture('xetrack', E), table))
    expect(summarize(out, 'predictions').rows).toBe(40)
    expect(sqliteRows(out, "select name from pragma_table_info('assets') where pk > 0")).toEqual([
      { name: 'key' },
    ])
    // Merging again is idempotent thanks to the primary keys that came along.
    const again = await mergeResults({ ours: out, theirs: fixture('xetrack', E) })
    expect(again.rowsInserted).toBe(0)
  })

  test('dry run reports the figures of the real run and writes nothing', async () => {
    const dir = tempDir()
    const ours = copyFixture(dir, A)
    const before = hashTree(dir)
    const dry = await rebaseResults({
      ours,
      theirs: fixture('xetrack', D),
      key: ['experiment_version'],
      dryRun: true,
    })
    expect(hashTree(dir)).toEqual(before)
    const real = await rebaseResults({
      ours,
      theirs: fixture('xetrack', D),
      key: ['experiment_version'],
    })
    const figures = (r: typeof dry) => ({ ...r, durationMs: 0, dryRun: false })
    expect(figures(dry)).toEqual(figures(real))
  })
})

describe('SQLite semantics', () => {
  test.each([
    { name: 'no index on the key', index: [] },
    {
      name: 'an index on the key (driven by exp keys)',
      index: ['create index runs_version on runs (version)'],
    },
  ])('rebase matches NULL keys with NULL keys (IS NOT DISTINCT FROM), $name', async ({ index }) => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table runs (id integer primary key, version text, score real)',
      ...index,
      "insert into runs values (1, null, 0.1), (2, 'v1', 0.2), (3, null, 0.3), (5, 'v2', 0.5)",
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table runs (id integer primary key, version text, score real)',
      "insert into runs values (4, null, 0.9), (6, 'v2', 0.6)",
    ])
    const dry = await rebaseResults({ ours, theirs, key: ['version'], dryRun: true })
    expect(dry).toMatchObject({ rowsReplaced: 3, rowsInserted: 2, rowsAfter: 3 })
    const report = await rebaseResults({ ours, theirs, key: ['version'] })
    expect(report).toMatchObject({ rowsReplaced: 3, rowsInserted: 2, rowsAfter: 3 })
    expect(sqliteRows(ours, 'select * from runs order by id')).toEqual([
      { id: 2, version: 'v1', score: 0.2 },
      { id: 4, version: null, score: 0.9 },
      { id: 6, version: 'v2', score: 0.6 },
    ])
  })

  test('rebase keeps every exp row when exp holds a key twice', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (k text, v int)',
      "insert into t values ('a', 1), ('b', 2)",
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (k text, v int)',
      "insert into t values ('a', 10), ('a', 11)",
    ])
    const report = await rebaseResults({ ours, theirs, key: ['k'] })
    expect(report).toMatchObject({ rowsReplaced: 1, rowsInserted: 2, rowsAfter: 3 })
    expect(sqliteRows(ours, 'select * from t order by k, v')).toEqual([
      { k: 'a', v: 10 },
      { k: 'a', v: 11 },
      { k: 'b', v: 2 },
    ])
  })

  test('without a primary key, merge skips exact duplicates only (NULL equals NULL)', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (a int, b text)',
      "insert into t values (1, null), (2, 'x')",
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (a int, b text)',
      "insert into t values (1, null), (2, 'y'), (3, null)",
    ])
    const report = await mergeResults({ ours, theirs })
    expect(report).toMatchObject({ rowsInserted: 2, rowsSkipped: 1, rowsAfter: 4 })
    expect(sqliteRows(ours, 'select * from t order by a, b')).toEqual([
      { a: 1, b: null },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 3, b: null },
    ])
  })

  test('a nullable unique key still matches NULL with NULL (no duplicate on a second merge)', async () => {
    const dir = tempDir()
    const ddl = 'create table t (run text, step int, v int, primary key (run, step))'
    const ours = makeSqlite(join(dir, 'base.db'), [
      ddl,
      "insert into t values (null, 1, 1), ('r', 1, 1)",
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      ddl,
      "insert into t values (null, 1, 9), (null, 2, 2), ('r', 1, 9), ('r', 2, 2)",
    ])
    const report = await mergeResults({ ours, theirs })
    expect(report).toMatchObject({ rowsInserted: 2, rowsSkipped: 2, rowsAfter: 4 })
    expect(sqliteRows(ours, 'select * from t order by run, step')).toEqual([
      { run: null, step: 1, v: 1 },
      { run: null, step: 2, v: 2 },
      { run: 'r', step: 1, v: 1 },
      { run: 'r', step: 2, v: 2 },
    ])
    expect((await mergeResults({ ours, theirs })).rowsInserted).toBe(0)
  })

  test('--key overrides the primary key, with a scratch index that leaves base clean', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (id integer primary key, name text, v int)',
      "insert into t values (1, 'a', 1), (2, 'b', 2)",
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id integer primary key, name text, v int)',
      "insert into t values (7, 'a', 100), (8, 'c', 3)",
    ])
    const report = await mergeResults({ ours, theirs, key: ['name'] })
    expect(report).toMatchObject({ rowsInserted: 1, rowsSkipped: 1 })
    expect(sqliteRows(ours, 'select name from t order by id')).toEqual([
      { name: 'a' },
      { name: 'b' },
      { name: 'c' },
    ])
    expect(sqliteRows(ours, "select name from sqlite_schema where type = 'index'")).toEqual([])
  })

  test.each([
    ['SQLite', 'db'],
    ['DuckDB', 'duckdb'],
  ])(
    '%s: column names differing only in case are one column, base spelling kept (issue 14)',
    async (_, ext) => {
      const dir = tempDir()
      const make = (name: string, statements: string[]) =>
        ext === 'db'
          ? Promise.resolve(makeSqlite(join(dir, name), statements))
          : makeDuckDb(join(dir, name), statements)
      const ours = await make(`base.${ext}`, [
        'create table t (id integer primary key, Acc double)',
        'insert into t values (1, 0.5)',
      ])
      const theirs = await make(`exp.${ext}`, [
        'create table t (ID integer primary key, acc double, Lr double)',
        'insert into t values (1, 0.9, 0.1), (2, 0.7, 0.2)',
      ])
      expect(await mergeResults({ ours, theirs })).toMatchObject({
        rowsInserted: 1,
        rowsSkipped: 1,
        columnsAdded: ['Lr'],
      })
      const query = 'select * from t order by 1'
      const rows = ext === 'db' ? sqliteRows(ours, query) : await duckRows(ours, query)
      expect(rows).toEqual([
        { id: 1, Acc: 0.5, Lr: null },
        { id: 2, Acc: 0.7, Lr: 0.2 },
      ])
      const rebased = await rebaseResults({ ours, theirs, key: ['ID'] })
      expect(rebased).toMatchObject({ rowsReplaced: 2, rowsAfter: 2 })
    },
  )

  test('columns match by name, never by position', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (id int primary key, a text, b text)',
      "insert into t values (1, 'a1', 'b1')",
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (b text, id int primary key, a text)',
      "insert into t values ('b2', 2, 'a2')",
    ])
    await mergeResults({ ours, theirs })
    expect(sqliteRows(ours, 'select * from t order by id')).toEqual([
      { id: 1, a: 'a1', b: 'b1' },
      { id: 2, a: 'a2', b: 'b2' },
    ])
  })

  test('INTEGER and REAL widen: values keep their value under dynamic typing', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (id int primary key, n integer, r real)',
      'insert into t values (1, 5, 0.5)',
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id int primary key, n real, r integer)',
      'insert into t values (2, 0.25, 7)',
    ])
    await mergeResults({ ours, theirs })
    expect(
      sqliteRows(ours, 'select id, n, typeof(n) tn, r, typeof(r) tr from t order by id'),
    ).toEqual([
      { id: 1, n: 5, tn: 'integer', r: 0.5, tr: 'real' },
      { id: 2, n: 0.25, tn: 'real', r: 7, tr: 'real' },
    ])
  })

  test('text that SQLite would turn into a number stops with SCHEMA_MISMATCH; base unchanged', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table "default" (id int primary key, note real)',
      'insert into "default" values (1, 0.5)',
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table "default" (id int primary key, note text)',
      'insert into "default" values (2, \'0.25\')',
    ])
    const before = hashTree(dir)
    const error = await mergeResults({ ours, theirs }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'SCHEMA_MISMATCH')).toBe(true)
    expect((error as Error).message).toMatchInlineSnapshot(
      `"Column "note" of table "default" is REAL in ${ours} but TEXT in ${theirs}: ${theirs} holds 1 text value(s) that SQLite would convert to numbers."`,
    )
    expect(hashTree(dir)).toEqual(before)
  })

  test('a declared-type difference with only NULLs stored is fine (dynamic typing)', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (id int primary key, x text)',
      "insert into t values (1, 'a')",
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id int primary key, x real)',
      'insert into t values (2, null)',
    ])
    const report = await mergeResults({ ours, theirs })
    expect(report.rowsInserted).toBe(1)
  })

  test('a failed write rolls back every table: base is byte-for-byte unchanged', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table a (grp text, v int)',
      "insert into a values ('g1', 1)",
      'create table b (id int primary key, grp text)',
      "insert into b values (1, 'g1'), (2, 'g2')",
    ])
    // b's theirs row 2 is in group g1 but ours' row 2 (group g2) is not replaced: primary key clash.
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table a (grp text, v int)',
      "insert into a values ('g1', 10)",
      'create table b (id int primary key, grp text)',
      "insert into b values (2, 'g1')",
    ])
    const before = hashTree(dir)
    const error = await rebaseResults({ ours, theirs, key: ['grp'] }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'DUPLICATE_KEY')).toBe(true)
    expect((error as Error).message).toContain('table "b"')
    expect(hashTree(dir)).toEqual(before)
  })

  test('--output leaves base untouched; output equal to exp reads exp fully first', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (id int primary key)',
      'insert into t values (1), (2)',
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id int primary key)',
      'insert into t values (2), (3)',
    ])
    const oursHash = hashTree(ours)
    const out = join(dir, 'out.db')
    await mergeResults({ ours, theirs, output: out })
    expect(hashTree(ours)).toEqual(oursHash)
    expect(sqliteRows(out, 'select id from t order by id').map((r) => r.id)).toEqual([1, 2, 3])
    const report = await mergeResults({ ours, theirs, output: theirs })
    expect(report.rowsInserted).toBe(1)
    expect(sqliteRows(theirs, 'select id from t order by id').map((r) => r.id)).toEqual([1, 2, 3])
    expect(hashTree(ours)).toEqual(oursHash)
  })

  test("--output copies rows still in base's write-ahead log", async () => {
    const dir = tempDir()
    const ours = join(dir, 'base.db')
    const writer = openSqlite(ours, { fileMustExist: false })
    try {
      writer.exec('pragma journal_mode = wal; pragma wal_autocheckpoint = 0')
      writer.exec('create table t (id int primary key); insert into t values (1), (2)')
      expect(existsSync(`${ours}-wal`)).toBe(true)
      const theirs = makeSqlite(join(dir, 'exp.db'), [
        'create table t (id int primary key)',
        'insert into t values (3)',
      ])
      const out = join(dir, 'out.db')
      await mergeResults({ ours, theirs, output: out })
      expect(sqliteRows(out, 'select id from t order by id').map((r) => r.id)).toEqual([1, 2, 3])
    } finally {
      writer.close()
    }
  })

  test('--output naming a folder, or a file with a journal beside it, is refused; nothing changes', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), ['create table t (id int primary key)'])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id int primary key)',
      'insert into t values (1)',
    ])
    const folder = join(dir, 'results')
    mkdirSync(folder)
    writeFileSync(join(folder, 'keep.txt'), 'mine')
    const stale = makeSqlite(join(dir, 'stale.db'), ['create table t (id int primary key)'])
    writeFileSync(`${stale}-journal`, 'x')
    const before = hashTree(dir)
    // Issue 14: a path under a plain file was an internal error (ENOTDIR from the engine).
    for (const output of [folder, stale, join(ours, 'out.db')]) {
      const error = await mergeResults({ ours, theirs, output }).catch((e: unknown) => e)
      expect(isDuckmergeError(error, 'OUTPUT_UNWRITABLE')).toBe(true)
      expect((error as Error).message).toContain(output)
    }
    expect(hashTree(dir)).toEqual(before)
  })

  test('--output equal to base merges in place', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), [
      'create table t (id int primary key)',
      'insert into t values (1)',
    ])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id int primary key)',
      'insert into t values (2)',
    ])
    const report = await mergeResults({ ours, theirs, output: join(dir, '.', 'base.db') })
    expect(report.rowsAfter).toBe(2)
    expect(sqliteRows(ours, 'select count(*) n from t')).toEqual([{ n: 2 }])
  })

  test('--table limits the merge; an unknown table is TABLE_NOT_FOUND', async () => {
    const dir = tempDir()
    const schema = ['create table x (id int primary key)', 'create table y (id int primary key)']
    const ours = makeSqlite(join(dir, 'base.db'), schema)
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      ...schema,
      'insert into x values (1)',
      'insert into y values (1)',
    ])
    const report = await mergeResults({ ours, theirs, tables: ['y'] })
    expect(report.tables?.map((t) => t.table)).toEqual(['y'])
    expect(
      sqliteRows(ours, 'select (select count(*) from x) x, (select count(*) from y) y'),
    ).toEqual([{ x: 0, y: 1 }])
    const error = await mergeResults({ ours, theirs, tables: ['z'] }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'TABLE_NOT_FOUND')).toBe(true)
  })

  test('a key column missing on one side is KEY_COLUMN_MISSING naming file, side and table', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), ['create table t (id int, v int)'])
    const theirs = makeSqlite(join(dir, 'exp.db'), ['create table t (id int, w int)'])
    const error = await rebaseResults({ ours, theirs, key: ['v'] }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'KEY_COLUMN_MISSING')).toBe(true)
    expect((error as Error).message).toContain(`missing in table "t" of ${theirs} (columns: id, w)`)
    expect((error as DuckmergeError).details).toMatchObject({ side: 'theirs', file: theirs })
  })

  test('a SQLite column holding text and numbers cannot go into DuckDB: SCHEMA_MISMATCH', async () => {
    const dir = tempDir()
    const ours = await makeDuckDb(join(dir, 'base.duckdb'), ['create table t (id integer)'])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      // No declared type: SQLite keeps each value's own class (TEXT would turn 0.5 into '0.5').
      'create table t (id int, note)',
      "insert into t values (1, 'x'), (2, 0.5)",
    ])
    const before = hashTree(dir)
    const error = await mergeResults({ ours, theirs }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'SCHEMA_MISMATCH')).toBe(true)
    expect((error as Error).message).toContain(`Column "note" of table "t" in ${theirs}`)
    expect((error as Error).message).toContain('holds real and text values together')
    expect(hashTree(dir)).toEqual(before)
  })

  test('a base another process is writing is LOCKED (after the busy timeout), unchanged', async () => {
    const dir = tempDir()
    const ours = makeSqlite(join(dir, 'base.db'), ['create table t (id int primary key)'])
    const theirs = makeSqlite(join(dir, 'exp.db'), [
      'create table t (id int primary key)',
      'insert into t values (1)',
    ])
    const writer = openSqlite(ours)
    writer.exec('begin immediate; insert into t values (2)')
    try {
      const error = await mergeResults({ ours, theirs }).catch((e: unknown) => e)
      expect(isDuckmergeError(error, 'LOCKED')).toBe(true)
      expect((error as Error).message).toContain(`Another process is writing ${ours}`)
    } finally {
      writer.exec('rollback')
      writer.close()
    }
    expect(sqliteRows(ours, 'select count(*) n from t')).toEqual([{ n: 0 }])
  })

  test.each([
    ['SQLite', 'db'],
    ['DuckDB', 'duckdb'],
  ])(
    '%s: aborting mid-merge rolls back every table (INTERRUPTED), base unchanged',
    async (_, ext) => {
      const dir = tempDir()
      const schema = ['create table x (id int primary key)', 'create table y (id int primary key)']
      const rows = ['insert into x values (1)', 'insert into y values (1)']
      const make = (name: string, statements: string[]) =>
        ext === 'db'
          ? Promise.resolve(makeSqlite(join(dir, name), statements))
          : makeDuckDb(join(dir, name), statements)
      const ours = await make(`base.${ext}`, schema)
      const theirs = await make(`exp.${ext}`, [...schema, ...rows])
      const before = hashTree(dir)
      const controller = new AbortController()
      const error = await mergeResults({
        ours,
        theirs,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.done === 1) controller.abort()
        },
      }).catch((e: unknown) => e)
      expect(isDuckmergeError(error, 'INTERRUPTED')).toBe(true)
      expect(hashTree(dir)).toEqual(before)
    },
  )

  test('reports progress per table', async () => {
    const dir = tempDir()
    const schema = ['create table x (id int primary key)', 'create table y (id int primary key)']
    const ours = makeSqlite(join(dir, 'base.db'), schema)
    const theirs = makeSqlite(join(dir, 'exp.db'), schema)
    const seen: string[] = []
    await mergeResults({
      ours,
      theirs,
      onProgress: (p) => seen.push(`${p.phase} ${p.done}/${p.total}`),
    })
    expect(seen).toEqual(['merge x 0/2', 'merge y 1/2', 'merge 2/2'])
  })
})

describe('DuckDB files', () => {
  const schema = [
    'create table runs (track_id varchar, ts varchar, version varchar, score integer, primary key (track_id, ts))',
  ]

  test('merge appends new rows and columns, widens INTEGER to DOUBLE, creates new tables; twice equals once', async () => {
    const dir = tempDir()
    const ours = await makeDuckDb(join(dir, 'base.duckdb'), [
      ...schema,
      "insert into runs values ('r1', 't1', 'v1', 1), ('r1', 't2', 'v1', 2)",
    ])
    const theirs = await makeDuckDb(join(dir, 'exp.duckdb'), [
      'create table runs (track_id varchar, ts varchar, version varchar, score double, lr double, primary key (track_id, ts))',
      "insert into runs values ('r1', 't2', 'v1', 2, null), ('r2', 't3', 'v2', 0.5, 0.01)",
      'create table metrics (track_id varchar, acc double)',
      "insert into metrics values ('r2', 0.9)",
    ])
    const report = await mergeResults({ ours, theirs })
    expect(report).toMatchObject({
      rowsBefore: 2,
      rowsInserted: 2,
      rowsSkipped: 1,
      rowsAfter: 4,
      columnsAdded: ['runs.lr'],
    })
    expect(report.tables?.[0]).toMatchObject({ table: 'metrics', created: true, rowsInserted: 1 })
    expect(existsSync(`${ours}.wal`)).toBe(false)
    expect(await duckRows(ours, 'select track_id, ts, score, lr from runs order by all')).toEqual([
      { track_id: 'r1', ts: 't1', score: 1, lr: null },
      { track_id: 'r1', ts: 't2', score: 2, lr: null },
      { track_id: 'r2', ts: 't3', score: 0.5, lr: 0.01 },
    ])
    expect(
      await duckRows(ours, "select data_type from duckdb_columns() where column_name = 'score'"),
    ).toEqual([{ data_type: 'DOUBLE' }])
    const again = await mergeResults({ ours, theirs })
    expect(again).toMatchObject({ rowsInserted: 0, rowsAfter: 4 })
  })

  test.each([
    { name: 'same columns (one INSERT OR REPLACE)', extra: '', oursOnly: [] as string[] },
    {
      name: 'a base-only column (delete + insert: NULL there)',
      extra: ', note varchar',
      oursOnly: ['note'],
    },
  ])(
    'rebase on the primary key, $name: rows and figures as the dry run says',
    async ({ extra, oursOnly }) => {
      const dir = tempDir()
      const ours = await makeDuckDb(join(dir, 'base.duckdb'), [
        `create table runs (track_id varchar, ts varchar, version varchar, score integer${extra}, primary key (track_id, ts))`,
        `insert into runs values ('r1', 't1', 'v1', 1${extra ? ", 'a'" : ''}), ('r2', 't2', 'v1', 2${extra ? ", 'b'" : ''})`,
      ])
      const theirs = await makeDuckDb(join(dir, 'exp.duckdb'), [
        ...schema,
        "insert into runs values ('r2', 't2', 'v2', 20), ('r3', 't3', 'v2', 30)",
      ])
      const key = ['track_id', 'ts']
      const dry = await rebaseResults({ ours, theirs, key, dryRun: true })
      const report = await rebaseResults({ ours, theirs, key })
      const figures = { rowsBefore: 2, rowsReplaced: 1, rowsInserted: 2, rowsAfter: 3 }
      expect(dry).toMatchObject(figures)
      expect(report).toMatchObject(figures)
      const cols = ['track_id', 'score', ...oursOnly].join(', ')
      expect(await duckRows(ours, `select ${cols} from runs order by track_id`)).toEqual([
        { track_id: 'r1', score: 1, ...(extra ? { note: 'a' } : {}) },
        { track_id: 'r2', score: 20, ...(extra ? { note: null } : {}) },
        { track_id: 'r3', score: 30, ...(extra ? { note: null } : {}) },
      ])
    },
  )

  test('rebase replaces matching keys, NULL matching NULL, in place', async () => {
    const dir = tempDir()
    const ours = await makeDuckDb(join(dir, 'base.duckdb'), [
      ...schema,
      "insert into runs values ('r1', 't1', null, 1), ('r2', 't2', 'v1', 2), ('r3', 't3', 'v2', 3)",
    ])
    const theirs = await makeDuckDb(join(dir, 'exp.duckdb'), [
      ...schema,
      "insert into runs values ('r1', 't1', null, 10), ('r4', 't4', 'v1', 40)",
    ])
    const report = await rebaseResults({ ours, theirs, key: ['version'] })
    expect(report).toMatchObject({ rowsReplaced: 2, rowsInserted: 2, rowsAfter: 3 })
    expect(await duckRows(ours, 'select track_id, score from runs order by track_id')).toEqual([
      { track_id: 'r1', score: 10 },
      { track_id: 'r3', score: 3 },
      { track_id: 'r4', score: 40 },
    ])
  })

  test('without a primary key, exact duplicates (NULL equal to NULL) are skipped; dry run writes nothing', async () => {
    const dir = tempDir()
    const ours = await makeDuckDb(join(dir, 'base.duckdb'), [
      'create table t (a integer, b varchar)',
      "insert into t values (1, null), (2, 'x')",
    ])
    const theirs = await makeDuckDb(join(dir, 'exp.duckdb'), [
      'create table t (a integer, b varchar)',
      "insert into t values (1, null), (2, 'y'), (3, null)",
    ])
    const before = hashTree(dir)
    const dry = await mergeResults({ ours, theirs, dryRun: true })
    expect(hashTree(dir)).toEqual(before)
    const real = await mergeResults({ ours, theirs })
    expect(real).toMatchObject({ rowsInserted: 2, rowsSkipped: 1, rowsAfter: 4 })
    expect({ ...dry, durationMs: 0, dryRun: false }).toEqual({ ...real, durationMs: 0 })
    expect(await duckRows(ours, 'select a, b from t order by a, b')).toEqual([
      { a: 1, b: null },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 3, b: null },
    ])
  })

  test('DATE widens to TIMESTAMP, as in the Parquet data merge (one rule: engine/type-rules.ts)', async () => {
    const dir = tempDir()
    const ours = await makeDuckDb(join(dir, 'base.duckdb'), [
      'create table t (id integer primary key, d date)',
      "insert into t values (1, '2024-01-02')",
    ])
    const theirs = await makeDuckDb(join(dir, 'exp.duckdb'), [
      'create table t (id integer primary key, d timestamp)',
      "insert into t values (2, '2024-01-03 04:05:06')",
    ])
    expect(await mergeResults({ ours, theirs })).toMatchObject({ rowsInserted: 1, rowsAfter: 2 })
    expect(await duckRows(ours, 'select id, d::varchar as d from t order by id')).toEqual([
      { id: 1, d: '2024-01-02 00:00:00' },
      { id: 2, d: '2024-01-03 04:05:06' },
    ])
    expect(
      await duckRows(ours, "select data_type from duckdb_columns() where column_name = 'd'"),
    ).toEqual([{ data_type: 'TIMESTAMP' }])
  })

  test('incompatible types stop with SCHEMA_MISMATCH naming table, column and both types', async () => {
    const dir = tempDir()
    const ours = await makeDuckDb(join(dir, 'base.duckdb'), [
      'create table t (id integer, v varchar)',
    ])
    const theirs = await makeDuckDb(join(dir, 'exp.duckdb'), [
      'create table t (id integer, v integer)',
      'insert into t values (1, 2)',
    ])
    const out = join(dir, 'out.duckdb')
    const before = hashTree(dir)
    const error = await mergeResults({ ours, theirs, output: out }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'SCHEMA_MISMATCH')).toBe(true)
    expect((error as Error).message).toContain(
      `Column "v" of table "t" is VARCHAR in ${ours} but INTEGER in ${theirs}`,
    )
    expect(hashTree(dir)).toEqual(before)
  })

  test('--output writes a complete copy; base unchanged', async () => {
    const dir = tempDir()
    const ours = await makeDuckDb(join(dir, 'base.duckdb'), [
      ...schema,
      "insert into runs values ('r1', 't1', 'v1', 1)",
    ])
    const theirs = await makeDuckDb(join(dir, 'exp.duckdb'), [
      ...schema,
      "insert into runs values ('r2', 't1', 'v1', 1)",
    ])
    const before = hashTree(ours)
    const out = join(dir, 'out.duckdb')
    const report = await mergeResults({ ours, theirs, output: out })
    expect(report.rowsAfter).toBe(2)
    expect(hashTree(ours)).toEqual(before)
    expect(await duckRows(out, 'select count(*)::int n from runs')).toEqual([{ n: 2 }])
    expect(existsSync(`${out}.wal`)).toBe(false)
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('mixing SQLite and DuckDB'), () => {
  test('xetrack SQLite files into a DuckDB base, then that DuckDB file into a SQLite base', async () => {
    const dir = tempDir()
    const duck = await makeDuckDb(join(dir, 'results.duckdb'), ['create table notes (id integer)'])
    const seen: string[] = []
    const first = await mergeResults({
      ours: duck,
      theirs: fixture('xetrack', C),
      onProgress: (p) => seen.push(`${p.phase} ${p.done}/${p.total}`),
    })
    expect(first.tables?.map((t) => [t.table, t.created, t.rowsInserted])).toEqual([
      ['metrics', true, 1],
      ['predictions', true, 30],
    ])
    expect(seen).toContain(`copying predictions from ${fixture('xetrack', C)} 30/30`)
    const second = await mergeResults({ ours: duck, theirs: fixture('xetrack', A) })
    expect(second).toMatchObject({ rowsInserted: 41, rowsSkipped: 0 })
    const again = await mergeResults({ ours: duck, theirs: fixture('xetrack', A) })
    expect(again).toMatchObject({ rowsInserted: 0, rowsSkipped: 41 })
    expect(
      await duckRows(
        duck,
        'select count(*)::int n, round(sum(accuracy), 6) acc, count(batch_size)::int b from predictions',
      ),
    ).toEqual([{ n: 70, acc: 59, b: 30 }])
    expect(
      await duckRows(
        duck,
        "select column_name c, data_type t from duckdb_columns() where table_name = 'predictions' and column_name in ('lr', 'input_id', 'track_id') order by 1",
      ),
    ).toEqual([
      { c: 'input_id', t: 'BIGINT' },
      { c: 'lr', t: 'DOUBLE' },
      { c: 'track_id', t: 'VARCHAR' },
    ])

    const sqlite = copyFixture(dir, B)
    const back = await mergeResults({ ours: sqlite, theirs: duck })
    expect(back.tables?.map((t) => [t.table, t.rowsInserted, t.columnsAdded])).toEqual([
      ['metrics', 2, ['batch_size']],
      ['notes', 0, []],
      ['predictions', 70, ['batch_size']],
    ])
    expect(summarize(sqlite, 'predictions')).toMatchObject({
      rows: 130,
      rows_per_experiment_version: { 'e0.1.0': 40, 'e0.2.0': 60, 'e0.3.0': 30 },
      sum_accuracy: 111,
    })
    expect(
      sqliteRows(
        sqlite,
        "select typeof(lr) l, typeof(input_id) i from predictions where experiment_version = 'e0.3.0' limit 1",
      ),
    ).toEqual([{ l: 'real', i: 'integer' }])
    expect(
      sqliteRows(
        sqlite,
        "select type from pragma_table_info('predictions') where name = 'batch_size'",
      ),
    ).toEqual([{ type: 'INTEGER' }])
  })

  test('quirks DB e through DuckDB and back keeps every value exactly', async () => {
    const dir = tempDir()
    const duck = await makeDuckDb(join(dir, 'e.duckdb'), ['create table placeholder (id integer)'])
    await mergeResults({ ours: duck, theirs: fixture('xetrack', E) })
    expect(
      await duckRows(
        duck,
        'select note, "7" from "default" where note is not null or "7" is not null order by all',
      ),
    ).toEqual([
      { note: '0.25', '7': null },
      { note: 'naïve ✓', '7': null },
      { note: null, '7': 'seven' },
    ])
    const sqlite = makeSqlite(join(dir, 'e-again.db'), ['create table placeholder (id integer)'])
    await mergeResults({
      ours: sqlite,
      theirs: duck,
      tables: ['default', 'assets', 'keys', 'counts'],
    })
    for (const table of ['default', 'assets', 'keys', 'counts'])
      expect(exactRows(sqlite, table)).toEqual(exactRows(fixture('xetrack', E), table))
    // Rebasing the DuckDB copy onto the original SQLite file replaces rows one for one.
    const copy = copyFixture(dir, E, 'copy.db')
    const rebased = await rebaseResults({
      ours: copy,
      theirs: duck,
      key: ['track_id'],
      tables: ['default'],
    })
    expect(rebased).toMatchObject({ rowsReplaced: 6, rowsInserted: 6 })
    expect(exactRows(copy, 'default')).toEqual(exactRows(fixture('xetrack', E), 'default'))
  })
})

describe('invariants (fast-check)', () => {
  const row = fc.record({
    k: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }),
    v: fc.option(fc.constantFrom('a', 'b', 'é'), { nil: null }),
  })
  const table = fc.array(row, { maxLength: 6 })

  type Mode = 'all columns' | 'key k' | 'unique k'
  const build = (
    path: string,
    rows: readonly { k: number | null; v: string | null }[],
    mode: Mode,
  ) => {
    const db = openSqlite(path, { fileMustExist: false })
    db.exec(
      mode === 'unique k'
        ? 'create table t (k integer unique, v text)'
        : 'create table t (k integer, v text)',
    )
    const insert = db.prepare(
      `insert ${mode === 'unique k' ? 'or ignore' : ''} into t values (?, ?)`,
    )
    for (const r of rows) insert.run(r.k, r.v)
    db.close()
  }
  const rowsOf = (path: string) => sqliteRows(path, 'select k, v from t order by k, v')

  test('merge keeps every base row, and merging twice equals merging once', async () => {
    await fc.assert(
      fc.asyncProperty(
        table,
        table,
        fc.constantFrom<Mode>('all columns', 'key k', 'unique k'),
        async (oursRows, theirsRows, mode) => {
          const dir = tempDir()
          const ours = join(dir, 'base.db')
          const theirs = join(dir, 'exp.db')
          build(ours, oursRows, mode)
          build(theirs, theirsRows, mode)
          const before = rowsOf(ours)
          const key = mode === 'key k' ? { key: ['k'] } : {}
          await mergeResults({ ours, theirs, ...key })
          const once = rowsOf(ours)
          for (const r of before) expect(once).toContainEqual(r)
          expect(once.length - before.length).toBeLessThanOrEqual(theirsRows.length)
          await mergeResults({ ours, theirs, ...key })
          expect(rowsOf(ours)).toEqual(once)
        },
      ),
      { numRuns: 40 },
    )
  })
})
