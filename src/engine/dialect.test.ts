import { describe, expect, test } from 'vitest'
import { isDuckmergeError } from '../errors.js'
import { declaredType } from './dialect.js'
import { duckdbDialect } from './duckdb-dialect.js'
import { sqliteDialect } from './sqlite-dialect.js'
import { widenType } from './type-rules.js'

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

test('DuckDB widens by the rules every merge shares (cases in type-rules.test.ts)', () => {
  expect(duckdbDialect.widen).toBe(widenType)
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
