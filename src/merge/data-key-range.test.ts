import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { type DuckDb, withDuckDb } from '../engine/duckdb.js'
import { literal, raw, sql } from '../engine/sql.js'
import { unionSchema } from '../formats/parquet/schema.js'
import { readParquetSql, resolveParquetSource } from '../formats/parquet/source.js'
import { planKeyMatch, statsType } from './data-key-range.js'
import type { Strategy } from './report.js'

/** Writes `select …` (SQL over `range(n)`) as one Parquet file per entry, into `dir`. */
async function files(db: DuckDb, dir: string, selects: readonly string[]): Promise<void> {
  mkdirSync(dir, { recursive: true })
  for (const [i, select] of selects.entries())
    await db.run(
      sql`COPY (${raw(select)}) TO ${literal(join(dir, `part-${i}.parquet`))} (FORMAT parquet)`,
    )
}

async function plan(
  strategy: Strategy,
  oursSelects: string[],
  theirsSelects: string[],
  key = ['id'],
) {
  const dir = tempDir()
  return withDuckDb({}, async (db) => {
    await files(db, join(dir, 'base'), oursSelects)
    await files(db, join(dir, 'exp'), theirsSelects)
    const ours = await resolveParquetSource(join(dir, 'base'), 'ours')
    const theirs = await resolveParquetSource(join(dir, 'exp'), 'theirs')
    const schema = await unionSchema(db, ours, theirs, 'widen')
    const rowsBefore = Number(
      (await db.one<{ n: bigint }>(sql`select count(*) as n from ${readParquetSql(ours)}`))?.n,
    )
    const theirsSql = readParquetSql(theirs)
    return planKeyMatch(db, { strategy, key, ours, theirs, theirsSql, schema, rowsBefore })
  })
}

// Base in key order over ten files (one row group each): ids 0-99, 100-199, …, 900-999.
const ordered = Array.from(
  { length: 10 },
  (_, i) => `select range as id from range(${i * 100}, ${i * 100 + 100})`,
)

describe('planKeyMatch', () => {
  test('rebase splits base when exp keys fall in the last row group only', async () => {
    const p = await plan('rebase', ordered, ['select range as id from range(950, 1020)'])
    expect(p).toEqual({ rangeColumn: 'id', splitsOurs: true, boundsTheirs: true })
  })

  test('rebase does not split when exp keys span every row group', async () => {
    const p = await plan('rebase', ordered, ['select range * 150 as id from range(0, 7)'])
    expect(p).toEqual({ rangeColumn: 'id', splitsOurs: false, boundsTheirs: true })
  })

  test('rebase does not split when row groups partly in range outweigh those wholly outside', async () => {
    // 950-1020 straddles 900-999 (100 rows) against 200 rows wholly outside.
    const p = await plan('rebase', ordered.slice(7), ['select range as id from range(950, 1020)'])
    expect(p).toEqual({ rangeColumn: 'id', splitsOurs: false, boundsTheirs: true })
  })

  test('rebase does not split when base rows are in no key order', async () => {
    const shuffled = Array.from(
      { length: 10 },
      (_, r) => `select range * 10 + ${r} as id from range(0, 100)`,
    )
    const p = await plan('rebase', shuffled, ['select range as id from range(950, 1020)'])
    expect(p).toEqual({ rangeColumn: 'id', splitsOurs: false, boundsTheirs: true })
  })

  test('rebase does not split when exp keys are all NULL (no range)', async () => {
    const p = await plan('rebase', ordered, ['select NULL::BIGINT as id'])
    expect(p).toEqual({ rangeColumn: 'id', splitsOurs: false, boundsTheirs: true })
  })

  test('merge bounds both sides by the other’s key range, with no row-group decision', async () => {
    const p = await plan('merge', ordered, ['select range as id from range(950, 1020)'])
    expect(p).toEqual({ rangeColumn: 'id', splitsOurs: false, boundsTheirs: true })
  })

  test('a floating-point or nested first key column is matched without a range', async () => {
    const floats = await plan(
      'rebase',
      ['select range::DOUBLE as id from range(10)'],
      ['select 1.0::DOUBLE as id'],
    )
    expect(floats).toEqual({ splitsOurs: false, boundsTheirs: false })
    const lists = await plan(
      'rebase',
      ['select [range] as id from range(10)'],
      ['select [1] as id'],
    )
    expect(lists).toEqual({ splitsOurs: false, boundsTheirs: false })
  })

  test('a composite key is bounded by its first column, matched case-insensitively', async () => {
    const p = await plan(
      'rebase',
      ordered.map((s) => s.replace('as id', "as RUN, 'x' as step")),
      ["select range as run, 'x' as step from range(950, 960)"],
      ['run', 'step'],
    )
    expect(p).toEqual({ rangeColumn: 'run', splitsOurs: true, boundsTheirs: true })
  })
})

describe('statsType', () => {
  test.each([
    ['BIGINT', 'DOUBLE'],
    ['UINTEGER', 'DOUBLE'],
    ['DECIMAL(18,3)', 'DOUBLE'],
    ['DATE', 'TIMESTAMP'],
    ['TIMESTAMP_NS', 'TIMESTAMP'],
    ['VARCHAR', 'VARCHAR'],
    ['DOUBLE', undefined],
    ['TIMESTAMP WITH TIME ZONE', undefined],
    ['BOOLEAN', undefined],
    ['INTEGER[]', undefined],
    ['STRUCT(a INTEGER)', undefined],
  ])('%s compares as %s', (type, expected) => {
    expect(statsType(type)).toBe(expected)
  })
})
