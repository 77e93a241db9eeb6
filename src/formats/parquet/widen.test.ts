import { describe, expect, test } from 'vitest'
import { isSafeWidening } from './widen.js'

describe('isSafeWidening', () => {
  test.each([
    ['INTEGER', 'BIGINT', 'BIGINT', true],
    ['UINTEGER', 'INTEGER', 'BIGINT', true],
    ['FLOAT', 'DOUBLE', 'DOUBLE', true],
    ['BIGINT', 'DOUBLE', 'DOUBLE', true],
    ['DECIMAL(10,2)', 'DECIMAL(12,4)', 'DECIMAL(12,4)', true],
    ['DATE', 'TIMESTAMP', 'TIMESTAMP', true],
    ['INTEGER[]', 'BIGINT[]', 'BIGINT[]', true],
    ['STRUCT(a INTEGER)', 'STRUCT(a INTEGER, b INTEGER)', 'STRUCT(a INTEGER, b INTEGER)', true],
    ['VARCHAR', 'VARCHAR', 'VARCHAR', true],
    ['INTEGER', 'VARCHAR', 'VARCHAR', false],
    ['DATE', 'VARCHAR', 'VARCHAR', false],
    ['BOOLEAN', 'INTEGER', 'INTEGER', false],
    ['VARCHAR', 'BLOB', 'BLOB', false],
    ['TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP WITH TIME ZONE', false],
    ['INTEGER[]', 'INTEGER', 'INTEGER[]', false],
    ['STRUCT(a INTEGER)', 'STRUCT(b VARCHAR)', 'STRUCT(a INTEGER, b VARCHAR)', false],
  ] as const)('%s with %s as %s: %s', (base, exp, union, expected) => {
    expect(isSafeWidening(base, exp, union)).toBe(expected)
  })
})
