import { describe, expect, test } from 'vitest'
import { ident, join, literal, qualified, sql } from './sql.js'

describe('sql', () => {
  test('binds values and splices fragments in order', () => {
    const q = sql`select * from ${ident('t')} where a = ${1} and ${sql`b = ${'x'}`} and c = ${null}`
    expect(q.text).toBe('select * from "t" where a = ? and b = ? and c = ?')
    expect(q.values).toEqual([1, 'x', null])
  })

  test('quotes identifiers with embedded quotes', () => {
    expect(ident('we"ird name').text).toBe('"we""ird name"')
    expect(qualified('main', 'my table').text).toBe('"main"."my table"')
  })

  test('escapes literals and refuses NUL', () => {
    expect(literal("it's").text).toBe("'it''s'")
    expect(() => literal('a\0b')).toThrow(/NUL/)
  })

  test('join keeps values of every fragment', () => {
    const q = join([sql`a = ${1}`, sql`b = ${2}`], ' and ')
    expect(q.text).toBe('a = ? and b = ?')
    expect(q.values).toEqual([1, 2])
  })
})
