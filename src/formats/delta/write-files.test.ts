import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import { DuckDb } from '../../engine/duckdb.js'
import { sql } from '../../engine/sql.js'
import type { StructType } from './schema.js'
import { encodePath, escapePathName, numRecordsOf, writeDataFiles } from './write-files.js'

let db: DuckDb
beforeEach(async () => {
  db = await DuckDb.open()
})
afterEach(() => db.close())

const f = (name: string, type: StructType['fields'][number]['type']) => ({
  name,
  type,
  nullable: true,
  metadata: {},
})

describe('escapePathName and encodePath', () => {
  test('match the folder and add.path Spark wrote in the golden tables', () => {
    // data-reader-escaped-chars: value bar+%21 → folder _2=bar+%2521 → add.path _2=bar+%252521
    expect(escapePathName('bar+%21')).toBe('bar+%2521')
    expect(encodePath(`_2=${escapePathName('bar+%21')}/x.parquet`)).toBe('_2=bar+%252521/x.parquet')
    // data-reader-timestamp_ntz: 2021-11-18 02:30:00.123456
    expect(encodePath(`t=${escapePathName('2021-11-18 02:30:00.123456')}/p.parquet`)).toBe(
      't=2021-11-18%2002%253A30%253A00.123456/p.parquet',
    )
    expect(escapePathName('a/b=c\nd')).toBe('a%2Fb%3Dc%0Ad')
    expect(encodePath('é/x')).toBe('%C3%A9/x')
  })
})

describe('writeDataFiles', () => {
  test('one file per partition, Delta partition values, stats, and no partition column in the file', async () => {
    const table = tempDir()
    const schema: StructType = {
      type: 'struct',
      fields: [f('id', 'long'), f('p', 'string'), f('ts', 'timestamp')],
    }
    const adds = await writeDataFiles(
      db,
      table,
      sql`select i as id, case when i % 3 = 0 then null when i % 3 = 1 then 'a/b:c' else '' end as p,
            timestamptz '2021-01-01 00:00:00+00' + to_seconds(i) as ts from range(6) t(i)`,
      { schema, partitionColumns: ['p'] },
    )
    expect(adds).toHaveLength(2) // '' is null, as PROTOCOL.md says
    const byValue = new Map(adds.map((a) => [a.partitionValues.p ?? null, a]))
    const nulls = byValue.get(null)
    const abc = byValue.get('a/b:c')
    expect(nulls?.path).toMatch(
      /^p=__HIVE_DEFAULT_PARTITION__\/part-\d{5}-[0-9a-f-]{36}-c000\.zstd\.parquet$/,
    )
    expect(abc?.path).toMatch(/^p=a%252Fb%253Ac\/part-/)
    expect(numRecordsOf(nulls ?? { stats: null })).toBe(4)
    expect(JSON.parse(abc?.stats ?? '{}')).toEqual({
      numRecords: 2,
      minValues: { id: 1, ts: '2021-01-01T00:00:01.000Z' },
      maxValues: { id: 4, ts: '2021-01-01T00:00:04.000Z' },
      nullCount: { id: 0, ts: 0 },
    })
    const file = join(table, decodeURIComponent(abc?.path ?? ''))
    expect(existsSync(file)).toBe(true)
    const rows = await db.all(
      sql`select * from read_parquet(${file}, hive_partitioning = false) order by id`,
    )
    expect(rows.map((r) => Object.keys(r))).toEqual([
      ['id', 'ts'],
      ['id', 'ts'],
    ])
    expect(rows.map((r) => r.id)).toEqual([1n, 4n])
    const meta = await db.all<{ name: string; logical_type: string }>(
      sql`select name, logical_type::varchar as logical_type from parquet_schema(${file}) where name = 'ts'`,
    )
    expect(meta[0]?.logical_type).toContain('isAdjustedToUTC=1')
    expect(meta[0]?.logical_type).toContain('MICROS')
    expect(readdirSync(table).filter((n) => n.startsWith('.'))).toEqual([]) // staging removed
  })

  test('unpartitioned: one file, columns cast to the schema, missing columns written as NULL', async () => {
    const table = tempDir()
    const schema: StructType = {
      type: 'struct',
      fields: [f('a', 'integer'), f('b', 'string')],
    }
    const adds = await writeDataFiles(db, table, sql`select 7 as a`, {
      schema,
      partitionColumns: [],
      missingColumns: ['b'],
    })
    expect(adds).toHaveLength(1)
    const add = adds[0]
    expect(add?.partitionValues).toEqual({})
    const rows = await db.all(sql`select * from read_parquet(${join(table, add?.path ?? '')})`)
    expect(rows).toEqual([{ a: 7, b: null }])
    expect(JSON.parse(add?.stats ?? '{}').nullCount).toEqual({ a: 0, b: 1 })
  })

  test('unpartitioned writes roll over to a new file at targetFileSizeBytes', async () => {
    const table = tempDir()
    const schema: StructType = { type: 'struct', fields: [f('id', 'long'), f('s', 'string')] }
    const adds = await writeDataFiles(
      db,
      table,
      sql`select range as id, md5(range::varchar) as s from range(300000)`,
      { schema, partitionColumns: [], targetFileSizeBytes: 1024 * 1024 },
    )
    expect(adds.length).toBeGreaterThan(1)
    expect(adds.reduce((n, a) => n + numRecordsOf(a), 0)).toBe(300000)
    expect(new Set(adds.map((a) => a.path)).size).toBe(adds.length)
    const mins = adds
      .map((a) => JSON.parse(a.stats ?? '{}').minValues.id as number)
      .sort((a, b) => a - b)
    expect(mins[0]).toBe(0)
  })

  test('an empty result writes no file', async () => {
    const table = tempDir()
    const schema: StructType = { type: 'struct', fields: [f('a', 'integer')] }
    const adds = await writeDataFiles(db, table, sql`select 1 as a where false`, {
      schema,
      partitionColumns: [],
    })
    expect(adds).toEqual([])
    expect(readdirSync(table)).toEqual([])
  })

  test('a binary partition column is refused, naming it, and leaves nothing behind', async () => {
    const table = tempDir()
    const schema: StructType = { type: 'struct', fields: [f('a', 'integer'), f('b', 'binary')] }
    await expect(
      writeDataFiles(db, table, sql`select 1 as a, 'x'::blob as b`, {
        schema,
        partitionColumns: ['b'],
      }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      message: expect.stringContaining('"b"'),
    })
    expect(readdirSync(table)).toEqual([])
  })
})
