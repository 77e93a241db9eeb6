/** The shared key-range pieces run by DuckDB: range aggregates and the outside-range predicate. */
import { describe, expect, test } from 'vitest'
import { withDuckDb } from './duckdb.js'
import { outsideRange, rangeAggregates, rangeTypeOf } from './key-range.js'
import { raw, type Sql, sql } from './sql.js'

const keys = raw("select * from (values (3, 'b'), (12, 'a'), (null, 'c')) t(id, name)")

describe('key-range', () => {
  test('rangeAggregates: min and max per key cast to the given type, distinct counts when asked', async () => {
    const row = await withDuckDb({}, (db) =>
      db.allJson(
        sql`select ${rangeAggregates([
          { column: 'id', type: 'BIGINT', distinct: true },
          { column: 'name', type: 'VARCHAR', distinct: false },
        ])} from (${keys})`,
      ),
    )
    // approx_count_distinct is a BIGINT: JSON-safe as text.
    expect(row).toEqual([{ min0: '3', max0: '12', n0: '2', min1: 'a', max1: 'c', n1: 0 }])
  })

  test('outsideRange: true outside, false inside, NULL for a NULL key; one-sided bounds', async () => {
    const both = outsideRange(raw('id'), sql`${5}`, sql`${10}`) as Sql
    const below = outsideRange(raw('id'), sql`${5}`, undefined) as Sql
    expect(outsideRange(raw('id'), undefined, undefined)).toBeUndefined()
    const rows = await withDuckDb({}, (db) =>
      db.allJson(sql`select id, ${both} as b, ${below} as l from (${keys}) order by id nulls last`),
    )
    expect(rows).toEqual([
      { id: 3, b: true, l: true },
      { id: 12, b: true, l: false },
      { id: null, b: null, l: null },
    ])
  })

  test('rangeTypeOf: types whose order agrees with equality', () => {
    expect(rangeTypeOf('BIGINT')).toBe('DOUBLE')
    expect(rangeTypeOf('DECIMAL(18,3)')).toBe('DOUBLE')
    expect(rangeTypeOf('TIMESTAMP_MS')).toBe('TIMESTAMP')
    expect(rangeTypeOf('VARCHAR')).toBe('VARCHAR')
    expect(rangeTypeOf('DOUBLE')).toBeUndefined()
  })
})
