import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { AddFile } from './actions.js'
import { parseSchema } from './schema.js'
import type { Snapshot } from './snapshot-types.js'
import { type PrunePredicate, parseStats, pruneFiles } from './stats.js'

const schemaString = JSON.stringify({
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: true, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: 'day', type: 'date', nullable: true, metadata: {} },
    {
      name: 's',
      type: {
        type: 'struct',
        fields: [{ name: 'x', type: 'double', nullable: true, metadata: {} }],
      },
      nullable: true,
      metadata: {},
    },
  ],
})

function snapshotOf(files: AddFile[], partitionColumns: string[] = []): Snapshot {
  return {
    tablePath: '/t',
    version: 0,
    timestamp: 0,
    protocol: { minReaderVersion: 1, minWriterVersion: 2 },
    metadata: {
      id: 't',
      format: { provider: 'parquet' },
      schemaString,
      partitionColumns,
      configuration: {},
    },
    schema: parseSchema(schemaString),
    partitionColumns,
    files,
    tombstones: [],
    appTransactions: new Map(),
    domainMetadata: new Map(),
  }
}

const file = (
  path: string,
  stats?: object,
  partitionValues: Record<string, string | null> = {},
): AddFile => ({
  path,
  partitionValues,
  size: 1,
  modificationTime: 0,
  dataChange: true,
  ...(stats ? { stats: JSON.stringify(stats) } : {}),
})

const paths = (files: readonly AddFile[]) => files.map((f) => f.path)

describe('parseStats', () => {
  test('parses JSON stats and tolerates garbage', () => {
    expect(parseStats({ stats: '{"numRecords":3}' })).toEqual({ numRecords: 3 })
    expect(parseStats({ stats: '{"numRec' })).toBeUndefined()
    expect(parseStats({ stats: null })).toBeUndefined()
  })
})

describe('pruneFiles', () => {
  const files = [
    file('a', {
      numRecords: 10,
      minValues: {
        id: 1,
        name: 'apple',
        ts: '2024-01-01T00:00:00.000Z',
        day: '2024-01-01',
        s: { x: 0.5 },
      },
      maxValues: {
        id: 10,
        name: 'kiwi',
        ts: '2024-01-01T10:00:00.123Z',
        day: '2024-01-05',
        s: { x: 1.5 },
      },
      nullCount: { id: 0 },
    }),
    file('b', {
      numRecords: 10,
      minValues: { id: 11, name: 'lemon' },
      maxValues: { id: 20, name: 'zucchini' },
      nullCount: { id: 0 },
    }),
    file('c', { numRecords: 5, nullCount: { id: 5 } }),
    file('d'),
  ]
  const snap = snapshotOf(files)

  test.each<[string, PrunePredicate, string[]]>([
    ['= inside one range', { column: 'id', op: '=', value: 5 }, ['a', 'd']],
    ['= outside every range', { column: 'id', op: '=', value: 99 }, ['d']],
    ['< on the min', { column: 'id', op: '<', value: 11 }, ['a', 'd']],
    ['<= on the min', { column: 'id', op: '<=', value: 11 }, ['a', 'b', 'd']],
    ['> on the max', { column: 'id', op: '>', value: 10 }, ['b', 'd']],
    ['>= on the max', { column: 'id', op: '>=', value: 10 }, ['a', 'b', 'd']],
    ['in', { column: 'id', op: 'in', values: [3, 15, null] }, ['a', 'b', 'd']],
    ['between', { column: 'id', op: 'between', values: [9, 11] }, ['a', 'b', 'd']],
    ['= NULL matches nothing', { column: 'id', op: '=', value: null }, []],
    ['strings', { column: 'name', op: '=', value: 'banana' }, ['a', 'c', 'd']],
    [
      'timestamps (max widened to the microsecond)',
      { column: 'ts', op: '=', value: '2024-01-01T10:00:00.123456Z' },
      ['a', 'b', 'c', 'd'],
    ],
    [
      'timestamps past the max',
      { column: 'ts', op: '>', value: '2024-01-01T10:00:01Z' },
      ['b', 'c', 'd'],
    ],
    ['dates', { column: 'day', op: '>=', value: '2024-01-06' }, ['b', 'c', 'd']],
    ['nested struct field', { column: 's.x', op: '>', value: 2 }, ['b', 'c', 'd']],
    [
      'unknown column keeps everything',
      { column: 'nope', op: '=', value: 1 },
      ['a', 'b', 'c', 'd'],
    ],
  ])('%s', (_name, predicate, expected) => {
    expect(paths(pruneFiles(snap, [predicate]))).toEqual(expected)
  })

  test('predicates combine with AND', () => {
    expect(
      paths(
        pruneFiles(snap, [
          { column: 'id', op: '>', value: 5 },
          { column: 'name', op: '=', value: 'zebra' },
        ]),
      ),
    ).toEqual(['b', 'd'])
  })

  test('truncated string maxima and unsafe longs never exclude', () => {
    const long = 'k'.repeat(32)
    const snap2 = snapshotOf([
      file('s', { numRecords: 1, minValues: { name: 'a' }, maxValues: { name: long } }),
      file('l', { numRecords: 1, minValues: { id: 2 ** 60 }, maxValues: { id: 2 ** 60 } }),
    ])
    expect(paths(pruneFiles(snap2, [{ column: 'name', op: '=', value: 'kz' }]))).toEqual(['s', 'l'])
    expect(paths(pruneFiles(snap2, [{ column: 'id', op: '=', value: 5 }]))).toEqual(['s', 'l'])
  })

  test('partition values: typed, null never matches', () => {
    const snap3 = snapshotOf(
      [
        file('p1', undefined, { day: '2024-01-01' }),
        file('p2', undefined, { day: null }),
        file('p3', undefined, { day: '' }),
      ],
      ['day'],
    )
    expect(
      paths(pruneFiles(snap3, [{ column: 'day', op: '<', value: new Date('2024-02-01') }])),
    ).toEqual(['p1'])
    expect(paths(pruneFiles(snap3, [{ column: 'day', op: '>', value: '2024-01-01' }]))).toEqual([])
  })

  test('a file holding a matching value is never pruned (property)', () => {
    const op = fc.constantFrom('=', '<', '<=', '>', '>=') as fc.Arbitrary<
      '=' | '<' | '<=' | '>' | '>='
    >
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 5 }), {
          minLength: 1,
          maxLength: 6,
        }),
        op,
        fc.integer({ min: -60, max: 60 }),
        (contents, operator, value) => {
          const all = contents.map((values, i) =>
            file(`f${i}`, {
              numRecords: values.length,
              minValues: { id: Math.min(...values) },
              maxValues: { id: Math.max(...values) },
              nullCount: { id: 0 },
            }),
          )
          const kept = new Set(
            paths(pruneFiles(snapshotOf(all), [{ column: 'id', op: operator, value }])),
          )
          const test = {
            '=': (v: number) => v === value,
            '<': (v: number) => v < value,
            '<=': (v: number) => v <= value,
            '>': (v: number) => v > value,
            '>=': (v: number) => v >= value,
          }[operator]
          contents.forEach((values, i) => {
            if (values.some(test)) expect(kept.has(`f${i}`)).toBe(true)
          })
        },
      ),
    )
  })
})
