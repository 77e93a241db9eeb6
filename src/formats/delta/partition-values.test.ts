import { describe, expect, test } from 'vitest'
import { dataFilePath, partitionValueJs, partitionValueSql } from './partition-values.js'

describe('partition values', () => {
  test.each([
    ['integer', '42', "CAST('42' AS INTEGER)"],
    ['string', "it's", "CAST('it''s' AS VARCHAR)"],
    [
      'timestamp',
      '2021-09-08 11:11:11',
      "CAST('2021-09-08 11:11:11+00' AS TIMESTAMP WITH TIME ZONE)",
    ],
    [
      'timestamp',
      '2021-09-08T11:11:11.123456Z',
      "CAST('2021-09-08T11:11:11.123456Z' AS TIMESTAMP WITH TIME ZONE)",
    ],
    [
      'timestamp_ntz',
      '2021-11-18 02:30:00.123456',
      "CAST('2021-11-18 02:30:00.123456' AS TIMESTAMP)",
    ],
    ['binary', '\u0001\u00ff', "from_hex('01ff')"],
    ['decimal(12,5)', '2342222.23454', "CAST('2342222.23454' AS DECIMAL(12,5))"],
  ] as const)('%s %s', (type, value, expected) => {
    const fragment = partitionValueSql(value, type)
    expect(fragment.text).toBe(expected)
    expect(fragment.values).toEqual([])
  })

  test('JSON null and "" are both NULL', () => {
    expect(partitionValueSql(null, 'date').text).toBe('CAST(NULL AS DATE)')
    expect(partitionValueSql('', 'string').text).toBe('CAST(NULL AS VARCHAR)')
    expect(partitionValueJs(undefined, 'integer')).toBeNull()
  })

  test('comparable JS values', () => {
    expect(partitionValueJs('9007199254740993', 'long')).toBe(9007199254740993n)
    expect(partitionValueJs('7', 'long')).toBe(7)
    expect(partitionValueJs('true', 'boolean')).toBe(true)
    expect(partitionValueJs('1970-01-01 00:00:01.5', 'timestamp')).toBe(1_500_000n)
    expect(partitionValueJs('1970-01-01T01:00:00+01:00', 'timestamp')).toBe(0n)
  })
})

describe('dataFilePath', () => {
  test('decodes exactly once; + stays +', () => {
    expect(dataFilePath('/t', '_2=bar+%252521/part.parquet')).toBe('/t/_2=bar+%2521/part.parquet')
    expect(dataFilePath('/t', 'a%20b.parquet')).toBe('/t/a b.parquet')
    expect(dataFilePath('/t', 'file:///data/x%20y.parquet')).toBe('/data/x y.parquet')
  })

  test('remote paths are refused by name', () => {
    expect(() => dataFilePath('/t', 's3://bucket/x.parquet')).toThrow(
      /remote data file s3:\/\/bucket/,
    )
  })
})
