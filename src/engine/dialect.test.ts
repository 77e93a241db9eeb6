import { describe, expect, test } from 'vitest'
import { isDuckmergeError } from '../errors.js'
import { declaredType } from './dialect.js'
import { duckdbDialect } from './duckdb-dialect.js'
import { sqliteDialect } from './sqlite-dialect.js'

describe('sqlite affinity (datatype3.html 3.1, rules in order)', () => {
  test.each([
    ['INTEGER', 'integer'],
    ['BIGINT', 'integer'],
    ['VARCHAR(20)', 'text'],
    ['TEXT', 'text'],
    ['BLOB', 'blob'],
    ['', 'blob'],
    ['REAL', 'real'],
    ['DOUBLE PRECISION', 'real'],
    ['FLOATING POINT', 'integer'], // "INT" in POINT wins: rule 1 comes first
    ['BOOLEAN', 'numeric'],
    ['DATETIME', 'numeric'],
  ])('%s → %s', (declared, family) => {
    expect(sqliteDialect.typeFamily(declared)).toBe(family)
  })

  test('keeps the base declaration (dynamic typing)', () => {
    expect(sqliteDialect.widen('INTEGER', 'REAL')).toBe('INTEGER')
  })
})

describe('duckdb widening', () => {
  test.each([
    ['INTEGER', 'INTEGER', 'INTEGER'],
    ['INTEGER', 'BIGINT', 'BIGINT'],
    ['BIGINT', 'SMALLINT', 'BIGINT'],
    ['INTEGER', 'UINTEGER', 'BIGINT'],
    ['UTINYINT', 'TINYINT', 'SMALLINT'],
    ['UBIGINT', 'BIGINT', 'HUGEINT'],
    ['INTEGER', 'DOUBLE', 'DOUBLE'],
    ['DOUBLE', 'BIGINT', 'DOUBLE'],
    ['FLOAT', 'FLOAT', 'FLOAT'],
    ['FLOAT', 'INTEGER', 'DOUBLE'],
    ['VARCHAR', 'VARCHAR', 'VARCHAR'],
    // The rule every merge shares (type-rules.ts), as the Parquet merge always allowed.
    ['DATE', 'TIMESTAMP', 'TIMESTAMP'],
    ['DECIMAL(18,3)', 'DOUBLE', 'DOUBLE'],
  ])('%s + %s → %s', (base, exp, to) => {
    expect(duckdbDialect.widen(base, exp)).toBe(to)
  })

  test.each([
    ['VARCHAR', 'INTEGER'],
    ['DOUBLE', 'VARCHAR'],
    ['UHUGEINT', 'HUGEINT'],
    ['DATE', 'VARCHAR'],
  ])('%s + %s clash', (base, exp) => {
    expect(duckdbDialect.widen(base, exp)).toBeUndefined()
  })
})

describe('declaredType', () => {
  test.each([
    'INTEGER',
    'VARCHAR(20)',
    'DECIMAL(18,3)',
    'INTEGER[]',
    'STRUCT(a INTEGER, b VARCHAR)',
    '',
  ])('accepts %j', (type) => {
    expect(declaredType(type, 't.c').text).toBe(type)
  })

  test.each(['INT); drop table t; --', "TEXT DEFAULT 'x'", 'INT -- c', 'INT /* c */'])(
    'refuses %j',
    (type) => {
      let error: unknown
      try {
        declaredType(type, 't.c')
      } catch (e) {
        error = e
      }
      expect(isDuckmergeError(error, 'UNSUPPORTED_FEATURE')).toBe(true)
    },
  )
})
