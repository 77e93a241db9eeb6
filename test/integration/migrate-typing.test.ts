/**
 * SQLite's loose typing through a migration, one plainly named case per row: the type DuckDB
 * gets, the reason when it is not the declared one, and every value back exactly as stored.
 * Then keys, sequences, indexes, views, and the failure paths that must leave disk unchanged.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openSqlite } from '../../src/engine/sqlite.js'
import { isDuckmergeError, migrateSqliteToDuckDb } from '../../src/index.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { duckRows, makeSqlite } from './migrate-support.js'

interface TypingCase {
  readonly name: string
  readonly declared: string
  /** SQL literals inserted one per row, in order. */
  readonly values: readonly string[]
  readonly type: string
  /** A part of the reason, or undefined when the declared type maps plainly. */
  readonly reason?: string
  /** Values read back from DuckDB (as JSON-safe values), in row order. */
  readonly back: readonly unknown[]
}

const cases: TypingCase[] = [
  {
    name: 'INTEGER holding integers',
    declared: 'INTEGER',
    values: ['1', '-7', 'NULL'],
    type: 'BIGINT',
    back: ['1', '-7', null],
  },
  {
    name: 'INTEGER holding a text value',
    declared: 'INTEGER',
    values: ['1', "'abc'", '3'],
    type: 'VARCHAR',
    reason: "declared INTEGER but 1 value is text (e.g. 'abc'); kept as text",
    back: ['1', 'abc', '3'],
  },
  {
    name: "INTEGER holding '' and NULL, kept apart",
    declared: 'INTEGER',
    values: ["''", 'NULL', '5'],
    type: 'VARCHAR',
    reason: "1 value is text (e.g. '')",
    back: ['', null, '5'],
  },
  {
    name: 'INTEGER holding a REAL',
    declared: 'INTEGER',
    values: ['1', '2.5'],
    type: 'DOUBLE',
    reason: 'declared INTEGER but holds 1 REAL value',
    back: [1, 2.5],
  },
  {
    name: 'integer beyond 2^53 read exactly',
    declared: 'INTEGER',
    values: ['9007199254740993', '-9223372036854775808'],
    type: 'BIGINT',
    back: ['9007199254740993', '-9223372036854775808'],
  },
  {
    name: 'NULL-only column keeps its declared type',
    declared: 'REAL',
    values: ['NULL', 'NULL'],
    type: 'DOUBLE',
    back: [null, null],
  },
  {
    name: 'no declared type, mixed storage classes, reals keep their ".0"',
    declared: '',
    values: ['1', '2.0', "'x'"],
    type: 'VARCHAR',
    reason: 'no declared type and mixes 2 numbers with 1 text value',
    back: ['1', '2.0', 'x'],
  },
  {
    name: 'no declared type, integers only',
    declared: '',
    values: ['1', '2'],
    type: 'BIGINT',
    reason: 'every value is a number',
    back: ['1', '2'],
  },
  {
    name: 'TEXT of JSON objects and arrays becomes JSON, text as written',
    declared: 'TEXT',
    values: [`'{"a": 1}'`, `'[1, 2]'`, 'NULL'],
    type: 'JSON',
    reason: 'every value is a JSON object or array',
    back: ['{"a": 1}', '[1, 2]', null],
  },
  {
    name: 'TEXT with one non-JSON value stays VARCHAR',
    declared: 'TEXT',
    values: [`'{"a": 1}'`, `'not json'`],
    type: 'VARCHAR',
    back: ['{"a": 1}', 'not json'],
  },
  {
    name: 'REAL holding text',
    declared: 'REAL',
    values: ['0.25', "'n/a'"],
    type: 'VARCHAR',
    reason: "declared REAL but 1 value is text (e.g. 'n/a')",
    back: ['0.25', 'n/a'],
  },
  {
    name: 'DATE where every value parses',
    declared: 'DATE',
    values: ["'2024-02-29'", "'1999-12-31'"],
    type: 'DATE',
    back: ['2024-02-29', '1999-12-31'],
  },
  {
    name: 'DATE with a value that is not a date',
    declared: 'DATE',
    values: ["'2024-02-30'", "'2024-01-01'"],
    type: 'VARCHAR',
    reason: "1 value does not parse as one (e.g. '2024-01-01')",
    back: ['2024-02-30', '2024-01-01'],
  },
  {
    name: 'DATETIME text becomes TIMESTAMP',
    declared: 'DATETIME',
    values: ["'2024-05-01 12:30:00'", "'2024-05-01T08:00:00.250'"],
    type: 'TIMESTAMP',
    back: ['2024-05-01 12:30:00', '2024-05-01 08:00:00.25'],
  },
  {
    name: 'DATETIME with a time zone stays text (TIMESTAMP would drop the zone)',
    declared: 'DATETIME',
    values: ["'2024-05-01 12:30:00+02:00'"],
    type: 'VARCHAR',
    reason: 'does not parse as one',
    back: ['2024-05-01 12:30:00+02:00'],
  },
  {
    name: 'DATETIME with a negative offset stays text too',
    declared: 'DATETIME',
    values: ["'2024-05-01 12:30:00-05:00'"],
    type: 'VARCHAR',
    reason: 'does not parse as one',
    back: ['2024-05-01 12:30:00-05:00'],
  },
  {
    name: 'DATETIME with microseconds, before 1970 too, keeps every digit',
    declared: 'TIMESTAMP',
    values: ["'1969-12-31 23:59:59.999999'", "'2024-05-01 12:30:00.123456'", "'2024-05-01 12:30'"],
    type: 'TIMESTAMP',
    back: ['1969-12-31 23:59:59.999999', '2024-05-01 12:30:00.123456', '2024-05-01 12:30:00'],
  },
  {
    name: 'DECIMAL(10,2) holding cents',
    declared: 'DECIMAL(10,2)',
    values: ['1.25', '3', 'NULL'],
    type: 'DECIMAL(10,2)',
    back: ['1.25', '3.00', null],
  },
  {
    name: 'DECIMAL(10,2) holding a third decimal stays DOUBLE',
    declared: 'DECIMAL(10,2)',
    values: ['1.255'],
    type: 'DOUBLE',
    reason: 'does not fit it; kept as numbers',
    back: [1.255],
  },
  {
    name: 'BOOLEAN 0/1',
    declared: 'BOOLEAN',
    values: ['1', '0', 'NULL'],
    type: 'BOOLEAN',
    back: [true, false, null],
  },
  {
    name: 'BLOB among text keeps every value as bytes',
    declared: 'TEXT',
    values: ["x'00ff'", "'ab'"],
    type: 'BLOB',
    reason: 'mixes 1 BLOB value with text or numbers',
    back: ['\\x00\\xFF', 'ab'],
  },
]

describe('loose typing', () => {
  test.each(cases)('$name', async (c) => {
    const dir = tempDir()
    const source = makeSqlite(join(dir, 'in.db'), [
      `create table t (c ${c.declared})`,
      ...c.values.map((v) => `insert into t values (${v})`),
    ])
    const target = join(dir, 'out.duckdb')
    const report = await migrateSqliteToDuckDb({ source, target })
    const col = report.tables[0]?.columns[0]
    expect(col?.type).toBe(c.type)
    if (c.reason === undefined) expect(col?.reason).toBeUndefined()
    else expect(col?.reason).toContain(c.reason)
    expect(report.tables[0]?.checksum).toMatchObject({ matches: true })
    const rows = await duckRows(target, 'select c from t order by rowid')
    expect(rows.map((r) => r.c)).toEqual(c.back)
  })
})

test('a REAL with no fraction in an INTEGER column (schema edited after the insert) keeps DOUBLE', async () => {
  // SQLite's affinity turns 3.0 into 3 on insert into an INTEGER column, so only a file whose
  // schema was edited holds one; the driver reads it as the number 3, which the copy alone
  // would write as BIGINT.
  const dir = tempDir()
  const source = join(dir, 'in.db')
  makeSqlite(source, ['create table t (c, d TEXT)', "insert into t values (1, 'a'), (3.0, 'b')"])
  const db = openSqlite(source)
  db.unsafeMode(true)
  db.exec('pragma writable_schema = on')
  db.exec("update sqlite_schema set sql = 'CREATE TABLE t (c INTEGER, d TEXT)' where name = 't'")
  db.close()
  const target = join(dir, 'out.duckdb')
  const report = await migrateSqliteToDuckDb({ source, target })
  const col = report.tables[0]?.columns[0]
  expect(col?.type).toBe('DOUBLE')
  expect(col?.reason).toBe('declared INTEGER but holds 1 REAL value')
  expect(report.tables[0]?.checksum).toMatchObject({ matches: true })
  const rows = await duckRows(target, 'select c, typeof(c) as t from t order by rowid')
  expect(rows).toEqual([
    { c: 1, t: 'DOUBLE' },
    { c: 3, t: 'DOUBLE' },
  ])
})

test("'' and NULL in a TEXT column are counted apart, the same in a dry run and a written one", async () => {
  // A written run counts TEXT columns beside the copy (empty texts by the copy itself); a dry
  // run counts before: both report the same figures.
  const dir = tempDir()
  const source = makeSqlite(join(dir, 'in.db'), [
    'create table t (id INTEGER, note TEXT)',
    "insert into t values (1, ''), (2, NULL), (3, 'x'), (4, ''), (NULL, 'y')",
  ])
  const columns = async (dryRun: boolean) =>
    (await migrateSqliteToDuckDb({ source, target: join(dir, 'out.duckdb'), dryRun })).tables[0]
      ?.columns
  const expected = [
    { name: 'id', type: 'BIGINT', nulls: 1, emptyTexts: 0 },
    { name: 'note', type: 'VARCHAR', nulls: 1, emptyTexts: 2 },
  ]
  expect(await columns(true)).toMatchObject(expected)
  expect(await columns(false)).toMatchObject(expected)
  expect(await duckRows(join(dir, 'out.duckdb'), 'select note from t order by id')).toEqual([
    { note: '' },
    { note: null },
    { note: 'x' },
    { note: '' },
    { note: 'y' },
  ])
})

describe('checksums see values, not only counts', () => {
  // Two sources whose columns hold the same number of values of each storage class, one value
  // different: the source checksum (what the copy is compared with) must differ.
  test.each([
    {
      name: 'mixed storage classes',
      declared: '',
      a: ["'abc'", '1', '2.5'],
      b: ["'abd'", '1', '2.5'],
    },
    { name: 'mixed, a real against its integer', declared: '', a: ["'x'", '2.0'], b: ["'x'", '2'] },
    { name: 'DATE', declared: 'DATE', a: ["'2024-01-01'"], b: ["'2024-01-02'"] },
    {
      name: 'TIMESTAMP seconds',
      declared: 'DATETIME',
      a: ["'2024-01-01 10:00:00'"],
      b: ["'2024-01-01 10:00:01'"],
    },
    {
      name: 'TIMESTAMP microseconds',
      declared: 'DATETIME',
      a: ["'2024-01-01 10:00:00.000001'"],
      b: ["'2024-01-01 10:00:00.000002'"],
    },
    {
      name: 'bytes mixed with text',
      declared: 'BLOB',
      a: ["x'00ff'", "'ab'"],
      b: ["x'00fe'", "'ab'"],
    },
  ])('$name', async (c) => {
    const dir = tempDir()
    const checksum = async (values: readonly string[], name: string) => {
      const source = makeSqlite(join(dir, `${name}.db`), [
        `create table t (c ${c.declared})`,
        ...values.map((v) => `insert into t values (${v})`),
      ])
      const report = await migrateSqliteToDuckDb({
        source,
        target: join(dir, `${name}.duckdb`),
      })
      expect(report.tables[0]?.checksum).toMatchObject({ matches: true })
      return report.tables[0]?.checksum.source
    }
    expect(await checksum(c.a, 'a')).not.toBe(await checksum(c.b, 'b'))
  })
})

describe('keys, sequences, indexes, views', () => {
  function store(dir: string): string {
    return makeSqlite(join(dir, 'store.db'), [
      `create table runs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
        score REAL DEFAULT 0, note TEXT DEFAULT 'none', made TEXT DEFAULT (datetime('now')))`,
      `create table tags (run_id INTEGER REFERENCES runs(id), tag TEXT, PRIMARY KEY (run_id, tag))`,
      'create index tags_by_tag on tags (tag)',
      'create index runs_partial on runs (score) where score > 0',
      "insert into runs (name, score) values ('a', 1), ('b', 2), ('c', 3)",
      'delete from runs where id = 3',
      "insert into tags values (1, 'x'), (2, 'x'), (2, 'y')",
      'create view good as select name, score from runs where score >= 1',
      'create view tag_counts as select tag, count(*) as n from tags group by tag',
      'create view odd as select name, zeroblob(2) as z from runs',
      'create trigger t_after after insert on runs begin select 1; end',
    ])
  }

  test('AUTOINCREMENT becomes a sequence starting after the largest id ever used', async () => {
    const dir = tempDir()
    const target = join(dir, 'out.duckdb')
    const report = await migrateSqliteToDuckDb({ source: store(dir), target })
    const runs = report.tables.find((t) => t.name === 'runs')
    // id 3 was deleted, but AUTOINCREMENT never hands it out again: the sequence starts at 4.
    expect(runs?.sequence).toEqual({ name: 'runs_id_seq', column: 'id', start: 4 })
    const { DuckDb } = await import('../../src/engine/duckdb.js')
    const { raw } = await import('../../src/engine/sql.js')
    const db = await DuckDb.open({ path: target })
    try {
      await db.run(raw(`insert into runs (name) values ('d')`))
      expect(await db.allJson(raw('select id, name, score, note from runs order by id'))).toEqual([
        { id: '1', name: 'a', score: 1, note: 'none' },
        { id: '2', name: 'b', score: 2, note: 'none' },
        { id: '4', name: 'd', score: 0, note: 'none' },
      ])
      await expect(db.run(raw(`insert into runs (name) values ('a')`))).rejects.toThrow(
        /Duplicate key/,
      )
    } finally {
      db.close()
    }
  })

  test('indexes, views and skipped objects are reported with reasons', async () => {
    const dir = tempDir()
    const target = join(dir, 'out.duckdb')
    const report = await migrateSqliteToDuckDb({ source: store(dir), target })
    const runs = report.tables.find((t) => t.name === 'runs')
    expect(runs?.indexes).toEqual([
      { name: 'runs_name_key', columns: ['name'], unique: true },
      {
        name: 'runs_partial',
        columns: ['score'],
        unique: false,
        skipped: expect.stringContaining('partial index'),
      },
    ])
    expect(report.tables.find((t) => t.name === 'tags')?.indexes).toEqual([
      { name: 'tags_by_tag', columns: ['tag'], unique: false },
    ])
    expect(report.views).toEqual([
      { name: 'good', status: 'created', rows: { source: 2, target: 2 } },
      { name: 'tag_counts', status: 'created', rows: { source: 2, target: 2 } },
      { name: 'odd', status: 'skipped', reason: expect.stringContaining('zeroblob') },
    ])
    expect(report.skipped.map((s) => `${s.kind} ${s.name}`)).toEqual([
      'trigger t_after',
      'default runs.made',
      'foreign-key tags(run_id) → runs(id)',
    ])
    expect(await duckRows(target, 'select * from tag_counts order by tag')).toEqual([
      { tag: 'x', n: '2' },
      { tag: 'y', n: '1' },
    ])
  })
})

describe('dry run, existing target, bad sources', () => {
  test('progress is reported per table in rows, ending at every row', async () => {
    const dir = tempDir()
    const source = makeSqlite(join(dir, 'in.db'), [
      'create table a (x INTEGER)',
      'create table b (y TEXT)',
      `insert into a with recursive n(i) as (select 1 union all select i + 1 from n where i < 25000) select i from n`,
      `insert into b values ('p'), ('q')`,
    ])
    const seen: string[] = []
    await migrateSqliteToDuckDb({
      source,
      target: join(dir, 'out.duckdb'),
      onProgress: (p) => seen.push(`${p.phase} ${p.done}/${p.total} ${p.unit}`),
    })
    expect(seen).toEqual([
      'migrating a 20000/25002 rows',
      'migrating a 25000/25002 rows',
      'migrating b 25002/25002 rows',
    ])
  })

  test('--dry-run reports the plan and writes nothing', async () => {
    const dir = tempDir()
    const source = makeSqlite(join(dir, 'in.db'), [
      'create table t (a INTEGER, b TEXT)',
      "insert into t values (1, 'x'), ('y', 'z')",
    ])
    const before = hashTree(dir)
    const report = await migrateSqliteToDuckDb({
      source,
      target: join(dir, 'out.duckdb'),
      dryRun: true,
    })
    expect(hashTree(dir)).toEqual(before)
    expect(report.dryRun).toBe(true)
    expect(report.tables[0]).toMatchObject({ rowsRead: 2, rowsWritten: 0 })
    expect(report.tables[0]?.columns[0]).toMatchObject({ type: 'VARCHAR' })
    expect(report.tables[0]?.checksum).toEqual({ source: expect.stringMatching(/^[0-9a-f]{16}$/) })
  })

  test('an existing target is refused, then replaced with force', async () => {
    const dir = tempDir()
    const source = makeSqlite(join(dir, 'in.db'), [
      'create table t (a INTEGER)',
      'insert into t values (1)',
    ])
    const target = join(dir, 'out.duckdb')
    writeFileSync(target, 'keep me')
    const before = hashTree(dir)
    const error = await migrateSqliteToDuckDb({ source, target }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'OUTPUT_UNWRITABLE')).toBe(true)
    expect((error as Error).message).toContain('already exists')
    expect(hashTree(dir)).toEqual(before)
    await migrateSqliteToDuckDb({ source, target, force: true })
    expect(await duckRows(target, 'select a from t')).toEqual([{ a: '1' }])
    expect(readdirSync(dir).sort()).toEqual(['in.db', 'out.duckdb'])
  })

  test('a corrupt source fails with INPUT_UNREADABLE and no target appears', async () => {
    const dir = tempDir()
    const source = join(dir, 'bad.db')
    // A valid header followed by garbage pages.
    writeFileSync(source, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 7)]))
    const error = await migrateSqliteToDuckDb({ source, target: join(dir, 'out.duckdb') }).catch(
      (e: unknown) => e,
    )
    expect(isDuckmergeError(error, 'INPUT_UNREADABLE')).toBe(true)
    expect((error as Error).message).toContain('bad.db')
    expect(existsSync(join(dir, 'out.duckdb'))).toBe(false)
  })

  test('a source locked by a writer fails with LOCKED', async () => {
    const dir = tempDir()
    const source = makeSqlite(join(dir, 'in.db'), ['create table t (a INTEGER)'])
    const writer = openSqlite(source)
    writer.exec('begin exclusive')
    try {
      const error = await migrateSqliteToDuckDb({
        source,
        target: join(dir, 'out.duckdb'),
        busyTimeoutMs: 50,
      }).catch((e: unknown) => e)
      expect(isDuckmergeError(error, 'LOCKED')).toBe(true)
      expect((error as Error).message).toContain('in.db')
    } finally {
      writer.exec('rollback')
      writer.close()
    }
    expect(existsSync(join(dir, 'out.duckdb'))).toBe(false)
  })

  test('a named table that does not exist is TABLE_NOT_FOUND, listing the tables', async () => {
    const dir = tempDir()
    const source = makeSqlite(join(dir, 'in.db'), ['create table t (a INTEGER)'])
    const error = await migrateSqliteToDuckDb({
      source,
      target: join(dir, 'out.duckdb'),
      tables: ['nope'],
    }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'TABLE_NOT_FOUND')).toBe(true)
    expect((error as Error).message.replace(dir, 'DIR')).toMatchInlineSnapshot(
      `"DIR/in.db has no table "nope" (tables: t)."`,
    )
  })
})
