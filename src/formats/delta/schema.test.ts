import { describe, expect, test } from 'vitest'
import { isDuckmergeError } from '../../errors.js'
import {
  type DataType,
  deltaToDuckDbType,
  duckDbToDeltaType,
  parseSchema,
  schemaToJson,
  typeToString,
} from './schema.js'

const nested =
  '{"type":"struct","fields":[' +
  '{"name":"id","type":"long","nullable":false,"metadata":{}},' +
  '{"name":"price","type":"decimal(10,2)","nullable":true,"metadata":{"comment":"eur"}},' +
  '{"name":"ts","type":"timestamp_ntz","nullable":true,"metadata":{}},' +
  '{"name":"tags","type":{"type":"array","elementType":"string","containsNull":false},"nullable":true,"metadata":{}},' +
  '{"name":"m","type":{"type":"map","keyType":"integer","valueType":{"type":"struct","fields":[{"name":"a b","type":"double","nullable":true,"metadata":{}}]},"valueContainsNull":true},"nullable":true,"metadata":{}}' +
  ']}'

describe('parseSchema / schemaToJson', () => {
  test('round-trips Spark JSON byte for byte', () => {
    expect(schemaToJson(parseSchema(nested))).toBe(nested)
  })

  test('parses nested types and nullability', () => {
    const s = parseSchema(nested)
    expect(s.fields.map((f) => [f.name, typeToString(f.type), f.nullable])).toEqual([
      ['id', 'long', false],
      ['price', 'decimal(10,2)', true],
      ['ts', 'timestamp_ntz', true],
      ['tags', 'array<string>', true],
      ['m', 'map<integer,struct<a b:double>>', true],
    ])
  })

  test('malformed JSON is DELTA_LOG_INVALID', () => {
    expect(() => parseSchema('{"type":"struct"')).toThrow(/not valid JSON/)
    try {
      parseSchema('{"type":"struct"')
    } catch (e) {
      expect(isDuckmergeError(e, 'DELTA_LOG_INVALID')).toBe(true)
    }
  })

  test('an unknown type names the column', () => {
    const s =
      '{"type":"struct","fields":[{"name":"v","type":"variant","nullable":true,"metadata":{}}]}'
    expect(() => parseSchema(s)).toThrow(/column v has type "variant"/)
  })
})

describe('type mappings', () => {
  test.each<[DataType, string]>([
    ['string', 'VARCHAR'],
    ['long', 'BIGINT'],
    ['integer', 'INTEGER'],
    ['short', 'SMALLINT'],
    ['byte', 'TINYINT'],
    ['float', 'FLOAT'],
    ['double', 'DOUBLE'],
    ['boolean', 'BOOLEAN'],
    ['binary', 'BLOB'],
    ['date', 'DATE'],
    ['timestamp', 'TIMESTAMP WITH TIME ZONE'],
    ['timestamp_ntz', 'TIMESTAMP'],
    ['decimal(38,10)', 'DECIMAL(38,10)'],
  ])('%s <-> %s', (delta, duck) => {
    expect(deltaToDuckDbType(delta)).toBe(duck)
    expect(duckDbToDeltaType(duck)).toEqual(delta)
  })

  test('nested types round-trip through DuckDB type strings', () => {
    const s = parseSchema(nested)
    for (const f of s.fields) {
      const back = duckDbToDeltaType(deltaToDuckDbType(f.type))
      expect(typeToString(back)).toBe(typeToString(f.type))
    }
    expect(deltaToDuckDbType(s)).toBe(
      'STRUCT("id" BIGINT, "price" DECIMAL(10,2), "ts" TIMESTAMP, "tags" VARCHAR[], "m" MAP(INTEGER, STRUCT("a b" DOUBLE)))',
    )
  })

  test('DuckDB-only types widen or are refused', () => {
    expect(duckDbToDeltaType('UBIGINT')).toBe('decimal(20,0)')
    expect(duckDbToDeltaType('TIMESTAMPTZ')).toBe('timestamp')
    expect(duckDbToDeltaType('INTEGER[3]')).toEqual({
      type: 'array',
      elementType: 'integer',
      containsNull: true,
    })
    expect(duckDbToDeltaType("ENUM('a', 'b')")).toBe('string')
    expect(() => duckDbToDeltaType('TIME')).toThrow(/TIME cannot be stored/)
    expect(() => duckDbToDeltaType('INTERVAL')).toThrow(/UNSUPPORTED|cannot be stored/)
  })
})
