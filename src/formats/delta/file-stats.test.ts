import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { type DuckDbColumnStats, parseDuckDbColumnStats, statsJson } from './file-stats.js'
import type { StructType } from './schema.js'

const field = (name: string, type: StructType['fields'][number]['type']) => ({
  name,
  type,
  nullable: true,
  metadata: {},
})
const stats = (entries: Record<string, Record<string, string>>): DuckDbColumnStats =>
  new Map(Object.entries(entries))

describe('statsJson', () => {
  test('numbers keep their exact text; decimals and longs never pass through a double', () => {
    const schema: StructType = {
      type: 'struct',
      fields: [field('id', 'long'), field('d', 'decimal(38,10)')],
    }
    const json = statsJson(
      schema,
      2,
      stats({
        '"id"': { min: '-9007199254740993', max: '9007199254740993', null_count: '0' },
        '"d"': { min: '0.0000000000', max: '12345678901234567890.1234567890', null_count: '1' },
      }),
    )
    expect(json).toBe(
      '{"numRecords":2,"minValues":{"id":-9007199254740993,"d":0.0000000000},"maxValues":{"id":9007199254740993,"d":12345678901234567890.1234567890},"nullCount":{"id":0,"d":1}}',
    )
  })

  test('timestamps: ms precision, min truncated, max rounded up; ntz without zone', () => {
    const schema: StructType = {
      type: 'struct',
      fields: [field('ts', 'timestamp'), field('ntz', 'timestamp_ntz')],
    }
    const parsed = JSON.parse(
      statsJson(
        schema,
        1,
        stats({
          '"ts"': {
            min: '2021-01-01 00:00:00.123456+00',
            max: '2021-12-31 23:59:59.999001+02:00',
            null_count: '0',
          },
          '"ntz"': { min: '2021-11-18 02:30:00', max: '2021-11-18 02:30:00.1234', null_count: '0' },
        }),
      ),
    )
    expect(parsed.minValues).toEqual({
      ts: '2021-01-01T00:00:00.123Z',
      ntz: '2021-11-18T02:30:00.000',
    })
    expect(parsed.maxValues).toEqual({
      ts: '2021-12-31T22:00:00.000Z',
      ntz: '2021-11-18T02:30:00.124',
    })
  })

  test('strings over 32 characters: min is a prefix, max a prefix plus a tie-breaker', () => {
    const schema: StructType = { type: 'struct', fields: [field('s', 'string')] }
    const long = `${'a'.repeat(32)}b`
    const wide = `${'é'.repeat(32)}é`
    const parsed = JSON.parse(
      statsJson(schema, 1, stats({ '"s"': { min: long, max: wide, null_count: '0' } })),
    )
    expect(parsed.minValues.s).toBe('a'.repeat(32))
    expect(parsed.maxValues.s).toBe(`${'é'.repeat(32)}\u{10ffff}`)
    expect(Buffer.from(parsed.maxValues.s).compare(Buffer.from(wide))).toBe(1)
    const ascii = JSON.parse(
      statsJson(schema, 1, stats({ '"s"': { min: 'a', max: long, null_count: '0' } })),
    )
    expect(ascii.maxValues.s).toBe(`${'a'.repeat(32)}\u007f`)
  })

  test('nested structs mirror the schema; booleans and binaries get only nullCount; NaN drops min/max', () => {
    const schema: StructType = {
      type: 'struct',
      fields: [
        field('st', {
          type: 'struct',
          fields: [
            field('x', 'integer'),
            field('y', { type: 'struct', fields: [field('z', 'string')] }),
          ],
        }),
        field('flag', 'boolean'),
        field('bin', 'binary'),
        field('f', 'double'),
        field('arr', { type: 'array', elementType: 'integer', containsNull: true }),
      ],
    }
    const parsed = JSON.parse(
      statsJson(
        schema,
        3,
        stats({
          '"st"."x"': { min: '1', max: '3', null_count: '0' },
          '"st"."y"."z"': { min: 'q1', max: 'q3', null_count: '1' },
          '"flag"': { min: '0', max: '1', null_count: '2' },
          '"bin"': { min: '78', max: '78', null_count: '0' },
          '"f"': { has_nan: 'true', null_count: '0' },
          '"arr"."element"': { min: '1', max: '3', null_count: '0' },
        }),
      ),
    )
    expect(parsed).toEqual({
      numRecords: 3,
      minValues: { st: { x: 1, y: { z: 'q1' } } },
      maxValues: { st: { x: 3, y: { z: 'q3' } } },
      nullCount: { st: { x: 0, y: { z: 1 } }, flag: 2, bin: 0, f: 0 },
    })
  })

  test('only the first numIndexedCols leaf columns get stats', () => {
    const schema: StructType = {
      type: 'struct',
      fields: [field('a', 'integer'), field('b', 'integer'), field('c', 'integer')],
    }
    const all = { min: '1', max: '2', null_count: '0' }
    const parsed = JSON.parse(
      statsJson(schema, 1, stats({ '"a"': all, '"b"': all, '"c"': all }), { numIndexedCols: 2 }),
    )
    expect(Object.keys(parsed.minValues)).toEqual(['a', 'b'])
    expect(Object.keys(parsed.nullCount)).toEqual(['a', 'b'])
  })
})

describe('parseDuckDbColumnStats', () => {
  test('reads the MAP as DuckDB renders it to JSON', () => {
    const parsed = parseDuckDbColumnStats([
      {
        key: '"a"',
        value: [
          { key: 'min', value: '1' },
          { key: 'null_count', value: '0' },
        ],
      },
    ])
    expect(parsed.get('"a"')).toEqual({ min: '1', null_count: '0' })
  })
})

describe('statsJson bounds (property)', () => {
  const schema: StructType = { type: 'struct', fields: [field('s', 'string')] }
  const utf8 = (s: string) => Buffer.from(s, 'utf8')

  test('truncated string min/max still bound every value in UTF-8 byte order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 60 }), { minLength: 1 }),
        (values) => {
          const sorted = [...values].sort((a, b) => utf8(a).compare(utf8(b)))
          const min = sorted[0] ?? ''
          const max = sorted.at(-1) ?? ''
          const parsed = JSON.parse(
            statsJson(schema, values.length, stats({ '"s"': { min, max, null_count: '0' } })),
          )
          for (const v of values) {
            expect(utf8(parsed.minValues.s).compare(utf8(v))).toBeLessThanOrEqual(0)
            if (parsed.maxValues.s !== undefined)
              expect(utf8(parsed.maxValues.s).compare(utf8(v))).toBeGreaterThanOrEqual(0)
          }
        },
      ),
    )
  })

  test('timestamp min/max in ms still bound the microsecond values', () => {
    const ts: StructType = { type: 'struct', fields: [field('t', 'timestamp_ntz')] }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000_000 }), (micros) => {
        const text = new Date(Math.floor(micros / 1000))
          .toISOString()
          .replace('T', ' ')
          .slice(0, 19)
        const duck = `${text}.${String(micros % 1_000_000).padStart(6, '0')}`
        const parsed = JSON.parse(
          statsJson(ts, 1, stats({ '"t"': { min: duck, max: duck, null_count: '0' } })),
        )
        const ms = (iso: string) => Date.parse(`${iso}Z`) * 1000
        expect(ms(parsed.minValues.t)).toBeLessThanOrEqual(micros)
        expect(ms(parsed.maxValues.t)).toBeGreaterThanOrEqual(micros)
        expect(ms(parsed.maxValues.t) - micros).toBeLessThan(1000)
      }),
    )
  })
})
