import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import { withDuckDb } from '../../engine/duckdb.js'
import { literal, raw, sql } from '../../engine/sql.js'
import { rowGroupSpread } from './row-groups.js'
import { resolveParquetSource } from './source.js'

/** Four files, one row group each: ids 0-9, 10-19, 20-29, and one file without an id column. */
async function spread(lo: string, hi: string, as: 'DOUBLE' | 'VARCHAR' = 'DOUBLE') {
  const dir = tempDir()
  return withDuckDb({}, async (db) => {
    for (const from of [0, 10, 20])
      await db.run(
        sql`COPY (select range as id, 'x' || range as s from range(${from}, ${from + 10})) TO ${literal(join(dir, `p${from}.parquet`))} (FORMAT parquet)`,
      )
    await db.run(
      sql`COPY (select 1 as other from range(5)) TO ${literal(join(dir, 'q.parquet'))} (FORMAT parquet)`,
    )
    const source = await resolveParquetSource(dir, 'ours')
    return rowGroupSpread(db, source, 'ID', { lo: raw(lo), hi: raw(hi), as })
  })
}

describe('rowGroupSpread', () => {
  test('sums rows of row groups wholly outside, wholly inside, and all it has statistics for', async () => {
    expect(await spread('12', '25')).toEqual({ outside: 10, inside: 0, covered: 30 })
    expect(await spread('10', '19')).toEqual({ outside: 20, inside: 10, covered: 30 })
    expect(await spread('100', '200')).toEqual({ outside: 30, inside: 0, covered: 30 })
  })

  test('NULL bounds put nothing outside or inside', async () => {
    expect(await spread('NULL', 'NULL')).toEqual({ outside: 0, inside: 0, covered: 30 })
  })

  test('statistics that do not parse in the comparison type count as neither', async () => {
    // 'x…' strings compared as DOUBLE: try_cast gives NULL.
    const dir = tempDir()
    const result = await withDuckDb({}, async (db) => {
      await db.run(
        sql`COPY (select 'x' || range as id from range(10)) TO ${literal(join(dir, 'p.parquet'))} (FORMAT parquet)`,
      )
      const source = await resolveParquetSource(dir, 'ours')
      return rowGroupSpread(db, source, 'id', { lo: raw('1'), hi: raw('2'), as: 'DOUBLE' })
    })
    expect(result).toEqual({ outside: 0, inside: 0, covered: 10 })
  })
})
