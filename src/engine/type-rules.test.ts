import { describe, expect, test } from 'vitest'
import {
  castsLosslessly,
  formatDuckType,
  integerWidth,
  parseDuckType,
  widenType,
} from './type-rules.js'

describe('castsLosslessly', () => {
  test.each([
    ['INTEGER', 'BIGINT', true],
    ['UINTEGER', 'BIGINT', true],
    ['UINTEGER', 'INTEGER', false],
    ['BIGINT', 'INTEGER', false],
    ['FLOAT', 'DOUBLE', true],
    ['BIGINT', 'DOUBLE', true],
    ['SMALLINT', 'FLOAT', true],
    ['INTEGER', 'FLOAT', false],
    ['DECIMAL(10,2)', 'DECIMAL(12,4)', true],
    ['DECIMAL(12,4)', 'DECIMAL(10,2)', false],
    ['INTEGER', 'DECIMAL(12,2)', true],
    ['BIGINT', 'DECIMAL(12,2)', false],
    ['DECIMAL(18,3)', 'DOUBLE', true],
    ['DATE', 'TIMESTAMP', true],
    ['TIMESTAMP', 'DATE', false],
    ['TIMESTAMP_MS', 'TIMESTAMP', true],
    ['TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', false],
    ['INTEGER[]', 'BIGINT[]', true],
    ['INTEGER', 'INTEGER[]', false],
    ['STRUCT(a INTEGER)', 'STRUCT(a BIGINT, b VARCHAR)', true],
    ['STRUCT(a INTEGER, b VARCHAR)', 'STRUCT(a INTEGER)', false],
    ['MAP(VARCHAR, INTEGER)', 'MAP(VARCHAR, DOUBLE)', true],
    ['VARCHAR', 'VARCHAR', true],
    ['INT', 'INTEGER', true],
    ['INTEGER', 'VARCHAR', false],
    ['DATE', 'VARCHAR', false],
    ['BOOLEAN', 'INTEGER', false],
    ['VARCHAR', 'BLOB', false],
  ] as const)('%s → %s: %s', (from, to, expected) => {
    expect(castsLosslessly(from, to)).toBe(expected)
  })
})

describe('widenType', () => {
  test.each([
    ['INTEGER', 'BIGINT', 'BIGINT'],
    ['BIGINT', 'SMALLINT', 'BIGINT'],
    ['INTEGER', 'UINTEGER', 'BIGINT'],
    ['UTINYINT', 'TINYINT', 'SMALLINT'],
    ['UBIGINT', 'BIGINT', 'HUGEINT'],
    ['FLOAT', 'INTEGER', 'DOUBLE'],
    ['DECIMAL(18,3)', 'DOUBLE', 'DOUBLE'],
    ['DATE', 'TIMESTAMP', 'TIMESTAMP'],
    ['TIMESTAMP', 'DATE', 'TIMESTAMP'],
    ['integer', 'INTEGER', 'integer'],
  ])('%s + %s → %s', (ours, theirs, to) => {
    expect(widenType(ours, theirs)).toBe(to)
  })

  test.each([
    ['VARCHAR', 'INTEGER'],
    ['UHUGEINT', 'HUGEINT'],
    ['TIMESTAMP', 'TIMESTAMP WITH TIME ZONE'],
    ['DATE', 'INTEGER'],
  ])('%s + %s clash', (ours, theirs) => {
    expect(widenType(ours, theirs)).toBeUndefined()
  })
})

describe('parseDuckType', () => {
  test('nested types, aliases and quoted names', () => {
    const type = parseDuckType('STRUCT(a INT, "b ""c""" VARCHAR(20)[], m MAP(TEXT, DECIMAL(10,2)))')
    expect(formatDuckType(type)).toBe(
      'STRUCT("a" INTEGER, "b ""c""" VARCHAR[], "m" MAP(VARCHAR, DECIMAL(10,2)))',
    )
    expect(parseDuckType('TIMESTAMP WITH TIME ZONE')).toEqual({
      kind: 'named',
      name: 'TIMESTAMP WITH TIME ZONE',
    })
    expect(parseDuckType("ENUM('a', 'b')")).toEqual({ kind: 'named', name: 'ENUM' })
  })

  test('refuses text that is not a type', () => {
    expect(() => parseDuckType('INTEGER; drop')).toThrow(/Cannot parse DuckDB type/)
  })

  test('integer widths', () => {
    expect(integerWidth('ubigint')).toEqual({ bits: 64, signed: false })
    expect(integerWidth('INT8')).toEqual({ bits: 64, signed: true })
    expect(integerWidth('DOUBLE')).toBeUndefined()
  })
})
