import { describe, expect, test } from 'vitest'
import type { DataType, StructType } from '../schema.js'
import { reconcileSchema } from './reconcile-schema.js'

const struct = (fields: Record<string, StructType['fields'][number]['type']>): StructType => ({
  type: 'struct',
  fields: Object.entries(fields).map(([name, type]) => ({
    name,
    type,
    nullable: true,
    metadata: {},
  })),
})
const reconcile = (table: StructType, source: StructType) =>
  reconcileSchema(table, source, { tablePath: '/t', what: 'src.parquet' })

describe('reconcileSchema uses the shared type rules (engine/type-rules.ts)', () => {
  test.each<[DataType, DataType]>([
    ['integer', 'long'],
    ['byte', 'short'],
    ['float', 'double'],
    ['long', 'double'],
    ['decimal(10,2)', 'decimal(12,3)'],
    ['integer', 'decimal(10,0)'],
    ['date', 'timestamp_ntz'],
  ])('%s fits a %s column', (from, to) => {
    expect(reconcile(struct({ v: to }), struct({ v: from })).changed).toBe(false)
  })

  test.each<[DataType, DataType]>([
    ['long', 'integer'],
    ['string', 'integer'],
    ['integer', 'string'],
    ['decimal(12,3)', 'decimal(10,2)'],
    ['long', 'decimal(19,0)'],
    ['timestamp_ntz', 'date'],
  ])('%s does not fit a %s column', (from, to) => {
    expect(() => reconcile(struct({ v: to }), struct({ v: from }))).toThrow(
      `"v" is ${from} in src.parquet but ${to} in the table`,
    )
  })

  test('a struct with fewer fields fits one with more, field by field', () => {
    const table = struct({
      s: { type: 'struct', fields: struct({ a: 'long', b: 'string' }).fields },
    })
    const source = struct({ s: { type: 'struct', fields: struct({ a: 'integer' }).fields } })
    expect(reconcile(table, source).changed).toBe(false)
  })
})
