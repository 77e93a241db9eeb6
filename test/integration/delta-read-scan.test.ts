/**
 * scanSql / registerSnapshot on hand-built tables: partition values from the log (never from
 * directory names), inline deletion vectors, columns missing from old files, timestamps that
 * do not move with the session time zone, file info columns and pruned file lists.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { sql } from '../../src/engine/sql.js'
import {
  loadSnapshot,
  pruneFiles,
  registerSnapshot,
  scanSql,
} from '../../src/formats/delta/index.js'
import { tempDir } from '../support/temp.js'
import {
  addAction,
  field,
  inlineDv,
  metaDataAction,
  protocolAction,
  writeLog,
  writeParquet,
} from './delta-read.helpers.js'

let db: DuckDb
beforeAll(async () => {
  db = await DuckDb.open()
})
afterAll(() => db.close())

describe('scanSql', () => {
  test('partition values come from the log, typed and null-aware, paths decoded once', async () => {
    const table = join(tempDir(), 'parts')
    // Directory names deliberately disagree with the log: only the log counts.
    await writeParquet(db, table, 'p=WRONG/a b+c.parquet', 'select 1 as v')
    await writeParquet(db, table, 'p=9/b.parquet', 'select 2 as v')
    await writeParquet(db, table, 'p=9/c.parquet', 'select 3 as v')
    writeLog(table, [
      [
        protocolAction(),
        metaDataAction(
          [field('v', 'integer'), field('p', 'integer'), field('s', 'string')],
          ['p', 's'],
        ),
        addAction('p=WRONG/a%20b+c.parquet', { partitionValues: { p: '7', s: 'x y' } }),
        addAction('p=9/b.parquet', { partitionValues: { p: null, s: '' } }),
        addAction('p=9/c.parquet', { partitionValues: { p: '-3', s: 'null' } }),
      ],
    ])
    const snapshot = await loadSnapshot(table)
    await registerSnapshot(db, snapshot, 't')
    expect(await db.allJson(sql`select v, p, s from t order by v`)).toEqual([
      { v: 1, p: 7, s: 'x y' },
      { v: 2, p: null, s: null },
      { v: 3, p: -3, s: 'null' },
    ])
    expect(await db.all(sql`select column_name, column_type from (describe t)`)).toEqual([
      { column_name: 'v', column_type: 'INTEGER' },
      { column_name: 'p', column_type: 'INTEGER' },
      { column_name: 's', column_type: 'VARCHAR' },
    ])
  })

  test('inline deletion vectors are applied by row index; file info columns', async () => {
    const table = join(tempDir(), 'dv')
    await writeParquet(db, table, 'a.parquet', 'select range::INTEGER as id from range(100)')
    await writeParquet(db, table, 'b.parquet', 'select (100 + range)::INTEGER as id from range(5)')
    writeLog(table, [
      [protocolAction(3, 7, ['deletionVectors']), metaDataAction([field('id', 'integer')])],
      [
        addAction('a.parquet', { deletionVector: inlineDv([0, 1, 50, 99]) }),
        addAction('b.parquet'),
      ],
    ])
    const snapshot = await loadSnapshot(table)
    await registerSnapshot(db, snapshot, 't', { withFileInfo: true })
    const [stats] = await db.all<{ n: bigint; s: bigint }>(sql`select count(*) n, sum(id) s from t`)
    expect(Number(stats?.n)).toBe(101)
    expect(Number(stats?.s)).toBe(4950 - (0 + 1 + 50 + 99) + 510)
    expect(
      await db.allJson(
        sql`select id, __delta_file, __delta_row_index from t where id in (2, 98, 104) order by id`,
      ),
    ).toEqual([
      { id: 2, __delta_file: 'a.parquet', __delta_row_index: '2' },
      { id: 98, __delta_file: 'a.parquet', __delta_row_index: '98' },
      { id: 104, __delta_file: 'b.parquet', __delta_row_index: '4' },
    ])
  })

  test('a column added later reads NULL from older files, even when no listed file has it', async () => {
    const table = join(tempDir(), 'evolve')
    await writeParquet(db, table, 'old.parquet', 'select 1::BIGINT as id')
    await writeParquet(db, table, 'new.parquet', "select 2::BIGINT as id, 'x' as extra")
    writeLog(table, [
      [protocolAction(), metaDataAction([field('id', 'long')]), addAction('old.parquet')],
      [
        metaDataAction([field('id', 'long'), field('extra', 'string')]),
        addAction('new.parquet', {
          stats: JSON.stringify({ numRecords: 1, minValues: { id: 2 }, maxValues: { id: 2 } }),
        }),
      ],
    ])
    const snapshot = await loadSnapshot(table)
    await registerSnapshot(db, snapshot, 't')
    expect(await db.allJson(sql`select id, extra from t order by id`)).toEqual([
      { id: '1', extra: null },
      { id: '2', extra: 'x' },
    ])
    // Only the old file: `extra` exists nowhere in the scan, yet the column is there.
    const oldOnly = pruneFiles(snapshot, [{ column: 'id', op: '<', value: 2 }])
    expect(oldOnly.map((f) => f.path)).toEqual(['old.parquet'])
    expect(await db.allJson(sql`select * from (${scanSql(snapshot, { files: oldOnly })})`)).toEqual(
      [{ id: '1', extra: null }],
    )
  })

  test('timestamps are the same instant whatever the session time zone', async () => {
    const table = join(tempDir(), 'ts')
    // One file as TIMESTAMPTZ (isAdjustedToUTC), one naive (as INT96-era Spark files read).
    await writeParquet(
      db,
      table,
      'tz.parquet',
      "select 1 as id, TIMESTAMPTZ '2024-03-01 12:00:00.123456+00' as ts",
    )
    await writeParquet(
      db,
      table,
      'naive.parquet',
      "select 2 as id, TIMESTAMP '2024-03-01 12:00:00.123456' as ts",
    )
    writeLog(table, [
      [
        protocolAction(),
        metaDataAction([field('id', 'integer'), field('ts', 'timestamp')]),
        addAction('tz.parquet'),
        addAction('naive.parquet'),
      ],
    ])
    const other = await DuckDb.open()
    try {
      await other.run(sql`set TimeZone = 'America/New_York'`)
      await registerSnapshot(other, await loadSnapshot(table), 't')
      expect(
        await other.allJson(
          sql`select id, epoch_us(ts) as us, typeof(ts) as type from t order by id`,
        ),
      ).toEqual([
        { id: 1, us: '1709294400123456', type: 'TIMESTAMP WITH TIME ZONE' },
        { id: 2, us: '1709294400123456', type: 'TIMESTAMP WITH TIME ZONE' },
      ])
    } finally {
      other.close()
    }
  })

  test('column mapping (name mode) with nested structs, arrays and maps', async () => {
    const table = join(tempDir(), 'mapped')
    await writeParquet(
      db,
      table,
      'a.parquet',
      `select 1 as "col-a", {'col-b': 'x', 'col-c': [{'col-d': 5}]} as "col-s",
              MAP {'k': {'col-d': 6}} as "col-m"`,
    )
    const inner = {
      type: 'struct' as const,
      fields: [field('d', 'integer', { 'delta.columnMapping.physicalName': 'col-d' })],
    }
    writeLog(table, [
      [
        protocolAction(2, 5),
        metaDataAction(
          [
            field('a', 'integer', { 'delta.columnMapping.physicalName': 'col-a' }),
            field(
              's',
              {
                type: 'struct',
                fields: [
                  field('b', 'string', { 'delta.columnMapping.physicalName': 'col-b' }),
                  field(
                    'c',
                    { type: 'array', elementType: inner, containsNull: true },
                    {
                      'delta.columnMapping.physicalName': 'col-c',
                    },
                  ),
                ],
              },
              { 'delta.columnMapping.physicalName': 'col-s' },
            ),
            field(
              'm',
              { type: 'map', keyType: 'string', valueType: inner, valueContainsNull: true },
              {
                'delta.columnMapping.physicalName': 'col-m',
              },
            ),
          ],
          [],
          { 'delta.columnMapping.mode': 'name' },
        ),
        addAction('a.parquet'),
      ],
    ])
    await registerSnapshot(db, await loadSnapshot(table), 't')
    expect(await db.allJson(sql`select a, s, m, s.c[1].d as d from t`)).toEqual([
      { a: 1, s: { b: 'x', c: [{ d: 5 }] }, m: [{ key: 'k', value: { d: 6 } }], d: 5 },
    ])
  })

  test('type widening: older files with narrower types read as the current type', async () => {
    const table = join(tempDir(), 'widened')
    await writeParquet(
      db,
      table,
      'old.parquet',
      "select 1::INTEGER as n, 1.5::FLOAT as x, DATE '2024-01-02' as d",
    )
    await writeParquet(
      db,
      table,
      'new.parquet',
      "select 5000000000::BIGINT as n, 2.25::DOUBLE as x, TIMESTAMP '2024-01-03 04:05:06' as d",
    )
    writeLog(table, [
      [
        protocolAction(3, 7, ['typeWidening']),
        metaDataAction([field('n', 'integer'), field('x', 'float'), field('d', 'date')]),
        addAction('old.parquet'),
      ],
      [
        metaDataAction([field('n', 'long'), field('x', 'double'), field('d', 'timestamp_ntz')]),
        addAction('new.parquet'),
      ],
    ])
    const snapshot = await loadSnapshot(table)
    await registerSnapshot(db, snapshot, 't')
    expect(
      await db.allJson(sql`select n, x, d::VARCHAR as d, typeof(n) as tn from t order by n`),
    ).toEqual([
      { n: '1', x: 1.5, d: '2024-01-02 00:00:00', tn: 'BIGINT' },
      { n: '5000000000', x: 2.25, d: '2024-01-03 04:05:06', tn: 'BIGINT' },
    ])
    // Only the old file: still the widened types.
    await registerSnapshot(db, snapshot, 'old', { files: snapshot.files.slice(0, 1) })
    expect(
      await db.allJson(sql`select typeof(n) as tn, typeof(x) as tx, typeof(d) as td from old`),
    ).toEqual([{ tn: 'BIGINT', tx: 'DOUBLE', td: 'TIMESTAMP' }])
  })

  test('columns named filename and file_row_number are ordinary columns', async () => {
    const table = join(tempDir(), 'names')
    await writeParquet(db, table, 'a.parquet', "select 'x' as filename, 7 as file_row_number")
    writeLog(table, [
      [
        protocolAction(),
        metaDataAction([field('filename', 'string'), field('file_row_number', 'integer')]),
        addAction('a.parquet'),
      ],
    ])
    await registerSnapshot(db, await loadSnapshot(table), 't')
    expect(await db.allJson(sql`select * from t`)).toEqual([{ filename: 'x', file_row_number: 7 }])
  })

  test('an empty table still has its columns', async () => {
    const table = join(tempDir(), 'empty')
    writeLog(table, [
      [protocolAction(), metaDataAction([field('id', 'long'), field('d', 'decimal(38,6)')])],
    ])
    const snapshot = await loadSnapshot(table)
    await registerSnapshot(db, snapshot, 't', { withFileInfo: true })
    expect(await db.all(sql`select column_name, column_type from (describe t)`)).toEqual([
      { column_name: 'id', column_type: 'BIGINT' },
      { column_name: 'd', column_type: 'DECIMAL(38,6)' },
      { column_name: '__delta_file', column_type: 'VARCHAR' },
      { column_name: '__delta_row_index', column_type: 'BIGINT' },
    ])
    expect(scanSql(snapshot).values).toEqual([])
  })
})
