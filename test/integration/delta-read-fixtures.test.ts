/**
 * The 18 shared Delta fixtures (Spark, Databricks and delta-rs tables), read through
 * loadSnapshot + registerSnapshot with the versions, counts and values of fixtures/delta/MANIFEST.md.
 * Timestamp tests set the commit files' mtimes with utimes on a temp copy (git keeps no mtimes),
 * as delta-rs's own tests do; one also uses commitInfo.timestamp through timestampSource.
 */
import { cpSync, rmSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { raw, sql } from '../../src/engine/sql.js'
import {
  commitFileName,
  loadSnapshot,
  parseStats,
  pruneFiles,
  registerSnapshot,
  type Snapshot,
  type SnapshotOptions,
} from '../../src/formats/delta/index.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { tempDir } from '../support/temp.js'

let db: DuckDb
beforeAll(async () => {
  db = await DuckDb.open()
  await db.run(sql`set TimeZone = 'UTC'`)
})
afterAll(() => db.close())

const table = (name: string) => fixture('delta', name)

/** Rows of the table at `options`, through the view, with the given select list and order. */
async function rows(
  path: string,
  options: SnapshotOptions = {},
  select = '*',
  orderBy = '1',
): Promise<Record<string, unknown>[]> {
  const snapshot = await loadSnapshot(path, options)
  return viewRows(snapshot, select, orderBy)
}

async function viewRows(snapshot: Snapshot, select = '*', orderBy = '1') {
  await registerSnapshot(db, snapshot, 't')
  // Select lists written in this file, not user input.
  return db.allJson(raw(`select ${select} from t order by ${orderBy}`))
}

async function count(path: string, options: SnapshotOptions = {}): Promise<number> {
  const [row] = await rows(path, options, 'count(*)::INTEGER as n')
  return Number(row?.n)
}

function ids(list: readonly Record<string, unknown>[], column = 'id'): number[] {
  return list.map((r) => Number(r[column]))
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

function copyTable(name: string): string {
  const dir = join(tempDir(), name)
  cpSync(table(name), dir, { recursive: true })
  return dir
}

function setCommitTimes(dir: string, times: readonly number[]): void {
  times.forEach((ms, version) => {
    const file = join(dir, '_delta_log', commitFileName(version))
    utimesSync(file, ms / 1000, ms / 1000)
  })
}

describe.skipIf(!hasFixtures)(needsFixtures('delta fixtures'), () => {
  describe('time-travel-start-start20-start40', () => {
    const name = 'time-travel-start-start20-start40'
    test('versions 0, 1, 2 have 10, 20, 30 rows', async () => {
      expect(ids(await rows(table(name), { version: 0 }))).toEqual(range(0, 10))
      expect(ids(await rows(table(name), { version: 1 }))).toEqual(range(0, 20))
      const latest = await rows(table(name), {}, 'count(*)::INTEGER as n, sum(id)::INTEGER as s')
      expect(latest).toEqual([{ n: 30, s: 435 }])
    })

    test('as of a timestamp, by file mtime (set with utimes as the generator did)', async () => {
      const dir = copyTable(name)
      setCommitTimes(dir, [1540415658000, 1540416858000, 1540418058000])
      expect((await loadSnapshot(dir, { timestamp: 1540416858000 })).version).toBe(1)
      expect((await loadSnapshot(dir, { timestamp: 1540416858000 - 1 })).version).toBe(0)
      expect((await loadSnapshot(dir, { timestamp: '2030-01-01T00:00:00Z' })).version).toBe(2)
      await expect(loadSnapshot(dir, { timestamp: 1540415658000 - 1 })).rejects.toMatchObject({
        code: 'VERSION_NOT_FOUND',
        message: expect.stringMatching(/earliest available version is 0/),
      })
    })

    test('as of a timestamp, by commitInfo.timestamp', async () => {
      const at = (timestamp: number) =>
        loadSnapshot(table(name), { timestamp, timestampSource: 'commit-info' })
      expect((await at(1603724021190)).version).toBe(1)
      expect((await at(1603724021189)).version).toBe(0)
      expect((await at(1603724022561)).version).toBe(2)
    })
  })

  describe('simple_table', () => {
    const name = 'simple_table'
    test('every version after WRITE, MERGE, overwrite, UPDATE, DELETE', async () => {
      expect(ids(await rows(table(name), { version: 0 }))).toEqual([0, 1, 2, 3, 4])
      expect(ids(await rows(table(name), { version: 1 }))).toEqual(range(0, 20))
      expect(ids(await rows(table(name), { version: 2 }))).toEqual([5, 6, 7, 8, 9])
      expect(ids(await rows(table(name), { version: 3 }))).toEqual([5, 7, 9, 106, 108])
      expect(ids(await rows(table(name)))).toEqual([5, 7, 9])
    })

    test('the uncommitted _delta_log/.tmp file is ignored; 5 live files, 31 tombstones', async () => {
      const snapshot = await loadSnapshot(table(name))
      expect(snapshot.version).toBe(4)
      expect(snapshot.files).toHaveLength(5)
      expect(snapshot.tombstones).toHaveLength(31)
    })

    test('time travel by mtime, as delta-rs time_travel.rs sets them', async () => {
      const dir = copyTable(name)
      const base = Date.parse('2020-05-01T22:47:31-07:00')
      setCommitTimes(
        dir,
        [0, 1, 2, 3, 4].map((d) => base + d * 86_400_000),
      )
      expect((await loadSnapshot(dir, { timestamp: '2020-05-02T23:47:31-07:00' })).version).toBe(1)
      expect((await loadSnapshot(dir, { timestamp: '2020-05-25T22:47:31-07:00' })).version).toBe(4)
    })
  })

  describe('data-reader-partition-values', () => {
    test('12 typed partition columns, one row with every partition value null', async () => {
      const result = await rows(table('data-reader-partition-values'), {}, '*', 'value')
      expect(result).toHaveLength(3)
      for (const i of [0, 1]) {
        expect(result[i]).toEqual({
          as_int: i,
          as_long: String(i),
          as_byte: i,
          as_short: i,
          as_boolean: i % 2 === 0,
          as_float: i,
          as_double: i,
          as_string: String(i),
          as_string_lit_null: 'null',
          as_date: '2021-09-08',
          as_timestamp: '2021-09-08 11:11:11+00',
          as_big_decimal: String(i),
          as_list_of_records: [{ val: i }, { val: i }, { val: i }],
          as_nested_struct: { aa: String(i), ab: String(i), ac: { aca: i, acb: String(i) } },
          value: String(i),
        })
      }
      const nullRow = result[2] ?? {}
      for (const column of Object.keys(nullRow).filter(
        (c) => c.startsWith('as_') && c !== 'as_list_of_records' && c !== 'as_nested_struct',
      ))
        expect(nullRow[column], column).toBeNull()
      expect(nullRow.as_list_of_records).toEqual([{ val: 2 }, { val: 2 }, { val: 2 }])
      expect(nullRow.value).toBe('2')
    })

    test('pruning on a partition column keeps only the matching file', async () => {
      const snapshot = await loadSnapshot(table('data-reader-partition-values'))
      expect(pruneFiles(snapshot, [{ column: 'as_int', op: '=', value: 1 }])).toHaveLength(1)
      expect(
        pruneFiles(snapshot, [{ column: 'as_date', op: '>', value: '2021-09-08' }]),
      ).toHaveLength(0)
      expect(
        pruneFiles(snapshot, [{ column: 'as_string', op: 'in', values: ['0', '1'] }]),
      ).toHaveLength(2)
    })
  })

  describe('data-reader-escaped-chars', () => {
    test('partition values with + and % come from the log, decoded once', async () => {
      const path = table('data-reader-escaped-chars')
      expect(await rows(path, { version: 0 })).toEqual([{ _1: 'foo1', _2: 'bar+%21' }])
      expect(await count(path, { version: 1 })).toBe(2)
      expect(await rows(path)).toEqual([
        { _1: 'foo1', _2: 'bar+%21' },
        { _1: 'foo2', _2: 'bar+%22' },
        { _1: 'foo3', _2: 'bar+%23' },
      ])
    })
  })

  describe('delta-0.2.0', () => {
    const name = 'delta-0.2.0'
    const prefixes = (s: Snapshot) => s.files.map((f) => f.path.slice(0, 19)).sort()
    test('files per version, checkpoint at 3, txn and tombstones', async () => {
      expect(prefixes(await loadSnapshot(table(name), { version: 0 }))).toEqual([
        'part-00000-b44fcdb0',
        'part-00001-185eca06',
      ])
      expect(prefixes(await loadSnapshot(table(name), { version: 2 }))).toEqual([
        'part-00000-7c2deba3',
        'part-00001-c373a5bd',
      ])
      const latest = await loadSnapshot(table(name))
      expect(latest.version).toBe(3)
      expect(latest.checkpointVersion).toBe(3)
      expect(prefixes(latest)).toEqual([
        'part-00000-7c2deba3',
        'part-00000-cb6b150b',
        'part-00001-c373a5bd',
      ])
      expect(latest.tombstones).toHaveLength(4)
      expect(latest.appTransactions.get('e4a20b59-dd0e-4c50-b074-e8ae4786df30')).toMatchObject({
        version: 0,
        lastUpdated: 1564524299648,
      })
    })

    test('rows per version', async () => {
      const values = async (version?: number) =>
        ids(await rows(table(name), version === undefined ? {} : { version }), 'value')
      expect(await values(0)).toEqual([1, 2, 3])
      expect(await values(1)).toEqual([1, 1, 2, 2, 3, 3])
      expect(await values(2)).toEqual([1, 2, 3])
      expect(await values()).toEqual([1, 1, 2, 2, 3, 3])
    })
  })

  describe('multi-part-checkpoint', () => {
    const name = 'multi-part-checkpoint'
    test('a 2-part checkpoint gives 31 rows at v1; v0 has 1', async () => {
      const snapshot = await loadSnapshot(table(name))
      expect(snapshot.checkpointVersion).toBe(1)
      expect(snapshot.files).toHaveLength(10)
      expect(ids(await viewRows(snapshot))).toEqual([0, ...range(0, 30)])
      expect(await count(table(name), { version: 0 })).toBe(1)
    })

    test('the checkpoint and the JSON commits agree', async () => {
      const dir = copyTable(name)
      for (const part of [1, 2])
        rmSync(
          join(
            dir,
            '_delta_log',
            `00000000000000000001.checkpoint.000000000${part}.0000000002.parquet`,
          ),
        )
      const fromJson = await loadSnapshot(dir)
      const fromCheckpoint = await loadSnapshot(table(name))
      expect(fromJson.checkpointVersion).toBeUndefined()
      expect(fromJson.files.map((f) => f.path).sort()).toEqual(
        fromCheckpoint.files.map((f) => f.path).sort(),
      )
    })
  })

  describe('checkpoint-cdf-table', () => {
    const name = 'checkpoint-cdf-table'
    test('v5 rows (cdc files ignored, dates from the log)', async () => {
      expect(await rows(table(name), {}, 'id, name, birthday::VARCHAR as birthday')).toEqual(
        [
          [1, 'Steve', '2023-12-22'],
          [2, 'Bob', '2023-12-22'],
          [3, 'Dave', '2023-12-22'],
          [4, 'Kate', '2023-12-22'],
          [5, 'Emily', '2023-12-29'],
          [6, 'Carl', '2023-12-29'],
          [8, 'Claire', '2023-12-25'],
          [9, 'Ada', '2023-12-25'],
          [10, 'Borb', '2023-12-25'],
          [12, 'Ossama', '2024-12-30'],
          [13, 'Nick', '2023-12-29'],
          [14, 'Ryan', '2023-12-22'],
          [15, 'Zach', '2023-12-25'],
        ].map(([id, n, birthday]) => ({ id, name: n, birthday })),
      )
      expect(await count(table(name), { version: 4 })).toBe(13)
      expect(await count(table(name), { version: 3 })).toBe(9)
    })

    test('versions before the checkpoint were cleaned up: VERSION_NOT_FOUND naming 3', async () => {
      for (const version of [0, 2])
        await expect(loadSnapshot(table(name), { version })).rejects.toMatchObject({
          code: 'VERSION_NOT_FOUND',
          message: expect.stringMatching(/earliest available version is 3/),
        })
    })
  })

  describe('with_checkpoint_no_last_checkpoint (log only)', () => {
    const name = 'with_checkpoint_no_last_checkpoint'
    test('the checkpoint is found by listing', async () => {
      const snapshot = await loadSnapshot(table(name))
      expect(snapshot.version).toBe(3)
      expect(snapshot.checkpointVersion).toBe(2)
      expect(snapshot.files.map((f) => f.path)).toEqual([
        'part-00000-70b1dcdf-0236-4f63-a072-124cdbafd8a0-c000.snappy.parquet',
      ])
      expect(parseStats(snapshot.files[0] ?? { stats: null })?.numRecords).toBe(5)
      expect(snapshot.tombstones).toHaveLength(2)
      expect((await loadSnapshot(table(name), { version: 0 })).files).toHaveLength(0)
    })

    test('replaying all JSON gives the same state', async () => {
      const dir = copyTable(name)
      rmSync(join(dir, '_delta_log', '00000000000000000002.checkpoint.parquet'))
      const fromJson = await loadSnapshot(dir)
      const fromCheckpoint = await loadSnapshot(table(name))
      expect(fromJson.checkpointVersion).toBeUndefined()
      expect(fromJson.files.map((f) => f.path)).toEqual(fromCheckpoint.files.map((f) => f.path))
      expect(fromJson.tombstones.map((f) => f.path).sort()).toEqual(
        fromCheckpoint.tombstones.map((f) => f.path).sort(),
      )
    })
  })

  describe('delta-1.2.1-only-struct-stats', () => {
    const name = 'delta-1.2.1-only-struct-stats'
    test('12 rows at v12; new_column NULL in files written before v10', async () => {
      const result = await rows(
        table(name),
        {},
        '"integer", "decimal"::VARCHAR as d, new_column, "map", "array", struct_of_array_of_map',
        '"integer"',
      )
      expect(ids(result, 'integer')).toEqual(range(0, 12))
      expect(new Set(result.map((r) => r.d))).toEqual(new Set(['-5.67800']))
      expect(result.filter((r) => r.new_column !== null).map((r) => r.new_column)).toEqual([0])
      expect(result[0]?.array).toEqual(['array_value'])
    })

    test('vN has N rows; v0 has none', async () => {
      for (const version of [0, 1, 9, 10])
        expect(await count(table(name), { version })).toBe(version)
    })

    test('stats come from stats_parsed in the checkpoint', async () => {
      const latest = await loadSnapshot(table(name))
      expect(latest.checkpointVersion).toBe(10)
      expect(latest.files.every((f) => parseStats(f)?.numRecords === 1)).toBe(true)
      const v1 = await loadSnapshot(table(name), { version: 1 })
      expect(v1.files.map((f) => [f.path, f.size])).toEqual([
        ['part-00000-7a509247-4f58-4453-9202-51d75dee59af-c000.snappy.parquet', 5489],
      ])
      expect(parseStats(v1.files[0] ?? { stats: null })?.nullCount).toMatchObject({ null: 1 })
      // Pruning by a stats_parsed range keeps exactly the files that hold integer 3..5.
      const kept = pruneFiles(latest, [{ column: 'integer', op: 'between', values: [3, 5] }])
      expect(kept).toHaveLength(3)
    })
  })

  describe('table-with-dv-small', () => {
    const name = 'table-with-dv-small'
    test('the deletion vector removes row indexes 0 and 9', async () => {
      expect(ids(await rows(table(name), { version: 0 }), 'value')).toEqual(range(0, 10))
      const snapshot = await loadSnapshot(table(name))
      expect([...(snapshot.deletionVectors?.values() ?? [])]).toEqual([[0, 9]])
      expect(ids(await viewRows(snapshot), 'value')).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    })
  })

  describe('table-with-columnmapping-mode-name', () => {
    test('physical names resolved at every nesting level', async () => {
      const result = await rows(
        table('table-with-columnmapping-mode-name'),
        {},
        '*, epoch_us("TimestampType") as ts_us',
        'IntegerType NULLS LAST',
      )
      expect(result).toHaveLength(6)
      for (const i of range(0, 5)) {
        expect(result[i]).toMatchObject({
          ByteType: i,
          ShortType: i,
          IntegerType: i,
          LongType: String(i),
          FloatType: i,
          DoubleType: i,
          decimal: `${i}.00`,
          BooleanType: i % 2 === 0,
          StringType: String(i),
          DateType: '2021-11-18',
          nested_struct: { aa: String(i), ac: { aca: i } },
          array_of_prims: [i, i + 1],
          map_of_prims: [
            { key: i, value: String(i + 1) },
            { key: i + 2, value: String(i + 3) },
          ],
          map_of_arrays: [
            { key: String(i), value: [i, null, i + 1] },
            { key: String(i + 1), value: [] },
          ],
        })
        expect(result[i]?.ts_us).toBe(String(i * 1000))
      }
      expect(Object.values(result[5] ?? {}).every((v) => v === null)).toBe(true)
    })
  })

  describe('data-reader-timestamp_ntz', () => {
    test('timestamp_ntz data and partition columns, with nulls', async () => {
      const name = table('data-reader-timestamp_ntz')
      expect(await count(name, { version: 0 })).toBe(0)
      const a = '2021-11-18 02:30:00.123456'
      const b = '2013-07-05 17:01:00.123456'
      expect(await rows(name, {}, 'id, tsNtz::VARCHAR as x, tsNtzPartition::VARCHAR as p')).toEqual(
        [
          { id: 0, x: a, p: a },
          { id: 1, x: b, p: a },
          { id: 2, x: null, p: a },
          { id: 3, x: a, p: b },
          { id: 4, x: b, p: b },
          { id: 5, x: null, p: b },
          { id: 6, x: a, p: null },
          { id: 7, x: b, p: null },
          { id: 8, x: null, p: null },
        ],
      )
      const [micros] = await rows(name, {}, 'epoch_us(max(tsNtz)) as m')
      expect(micros?.m).toBe('1637202600123456')
    })
  })

  describe('delta-0.8-empty', () => {
    test('every row deleted: 0 rows, schema kept', async () => {
      const snapshot = await loadSnapshot(table('delta-0.8-empty'))
      expect(snapshot.files).toHaveLength(0)
      expect(snapshot.tombstones).toHaveLength(2)
      await registerSnapshot(db, snapshot, 't')
      expect(await db.allJson(sql`select * from t`)).toEqual([])
      expect(await db.all(sql`select column_name, column_type from (describe t)`)).toEqual([
        { column_name: 'column', column_type: 'BIGINT' },
      ])
      expect(await rows(table('delta-0.8-empty'), { version: 0 })).toEqual([{ column: '1' }])
    })
  })

  describe('data-reader-primitives', () => {
    test('every primitive type, plus an all-NULL row', async () => {
      const result = await rows(
        table('data-reader-primitives'),
        {},
        '*, hex(as_binary) as hex',
        'as_int NULLS LAST',
      )
      expect(result).toHaveLength(11)
      for (const i of range(0, 10))
        expect(result[i]).toMatchObject({
          as_int: i,
          as_long: String(i),
          as_byte: i,
          as_short: i,
          as_boolean: i % 2 === 0,
          as_float: i,
          as_double: i,
          as_string: String(i),
          hex: `0${i}0${i}`,
          as_big_decimal: String(i),
        })
      expect(Object.values(result[10] ?? {}).every((v) => v === null)).toBe(true)
    })
  })

  describe('basic-decimal-table', () => {
    const name = 'basic-decimal-table'
    test('decimals of precision 5, 10, 12 and 20 are exact', async () => {
      expect(
        await rows(
          table(name),
          {},
          'part::VARCHAR p, col1::VARCHAR a, col2::VARCHAR b, col3::VARCHAR c',
          'part',
        ),
      ).toEqual([
        { p: '-2342342.23423', a: '-999.99', b: '-99999.99999', c: '-9999999999.9999999999' },
        { p: '0.00004', a: '0.00', b: '0.00000', c: '0.0000000000' },
        { p: '234.00000', a: '1.00', b: '2.00000', c: '3.0000000000' },
        { p: '2342222.23454', a: '111.11', b: '22222.22222', c: '3333333333.3333333333' },
      ])
    })

    test('part = 2342222.23454 prunes to one file with one row', async () => {
      const snapshot = await loadSnapshot(table(name))
      const files = pruneFiles(snapshot, [{ column: 'part', op: '=', value: '2342222.23454' }])
      expect(files).toHaveLength(1)
      await registerSnapshot(db, snapshot, 't', { files })
      expect(await db.allJson(sql`select col1::VARCHAR as a from t`)).toEqual([{ a: '111.11' }])
    })
  })

  describe('deltalog-invalid-protocol-version (log only)', () => {
    test('reader version 99 is refused before any data file is touched', async () => {
      // The table's only add names a file `abc` that does not exist: reaching it would be
      // INPUT_NOT_FOUND, so UNSUPPORTED_FEATURE proves the protocol was checked first.
      await expect(loadSnapshot(table('deltalog-invalid-protocol-version'))).rejects.toMatchObject({
        code: 'UNSUPPORTED_FEATURE',
        message: expect.stringMatching(/reader version 99, which duckmerge does not support/),
      })
    })
  })

  describe('v2-checkpoint-parquet', () => {
    test('a UUID-named v2 checkpoint with two sidecars', async () => {
      const name = table('v2-checkpoint-parquet')
      const snapshot = await loadSnapshot(name)
      expect(snapshot.checkpointVersion).toBe(2)
      expect(snapshot.files).toHaveLength(4)
      expect(snapshot.protocol.readerFeatures).toEqual(['v2Checkpoint'])
      expect(ids(await viewRows(snapshot))).toEqual(range(0, 10))
      expect(await count(name, { version: 0 })).toBe(0)
      expect(await count(name, { version: 1 })).toBe(0)
    })
  })

  describe('basic-with-inserts-merge', () => {
    test('the state after Spark MERGE', async () => {
      const name = table('basic-with-inserts-merge')
      expect(ids(await rows(name, { version: 0 }))).toEqual(range(0, 100))
      const result = await rows(name)
      expect(result).toEqual([
        ...range(10, 50).map((id) => ({ id, str: `val=${id}` })),
        ...range(50, 100).map((id) => ({ id, str: 'N/A' })),
        ...range(100, 150).map((id) => ({ id, str: 'EXT' })),
      ])
    })
  })
})
