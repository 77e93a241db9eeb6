import { describe, expect, test } from 'vitest'
import {
  assertReadable,
  assertWritable,
  readerFeatures,
  writerFeatures,
} from './protocol-support.js'

describe('protocol support', () => {
  test('legacy versions imply features', () => {
    expect(readerFeatures({ minReaderVersion: 2, minWriterVersion: 5 })).toEqual(['columnMapping'])
    expect(writerFeatures({ minReaderVersion: 1, minWriterVersion: 4 })).toEqual([
      'appendOnly',
      'invariants',
      'checkConstraints',
      'changeDataFeed',
      'generatedColumns',
    ])
  })

  test('readable: reader 1–3 with known features', () => {
    expect(() => assertReadable({ minReaderVersion: 1, minWriterVersion: 2 }, 't')).not.toThrow()
    expect(() => assertReadable({ minReaderVersion: 2, minWriterVersion: 5 }, 't')).not.toThrow()
    expect(() =>
      assertReadable(
        {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors', 'v2Checkpoint', 'timestampNtz'],
        },
        't',
      ),
    ).not.toThrow()
  })

  test('a reader refusal names the version and every unsupported reader feature', () => {
    expect(() => assertReadable({ minReaderVersion: 99, minWriterVersion: 7 }, '/x')).toThrow(
      'Cannot read Delta table /x: it requires reader version 99, which duckmerge does not support (it reads protocol reader versions 1–3). Read it',
    )
    expect(() =>
      assertReadable(
        {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors', 'variantType', 'collations'],
        },
        '/x',
      ),
    ).toThrow(
      /^Cannot read Delta table \/x: it requires reader version 3 and reader features variantType, collations, which duckmerge does not implement \(it reads columnMapping, /,
    )
    expect(() =>
      assertReadable(
        { minReaderVersion: 4, minWriterVersion: 7, readerFeatures: ['futureThing'] },
        '/x',
      ),
    ).toThrow(
      /reader version 4, which duckmerge does not support .* and reader feature futureThing,/,
    )
  })

  test('writer features refused only while in use, when the table use is known', () => {
    const p = { minReaderVersion: 1, minWriterVersion: 4 }
    const plain = {
      metadata: { configuration: {} },
      schema: { type: 'struct', fields: [] },
    } as const
    expect(() => assertWritable(p, '/x')).toThrow(
      /writer version 4\): it uses writer features checkConstraints, changeDataFeed, generatedColumns,/,
    )
    expect(() => assertWritable(p, '/x', plain)).not.toThrow()
    expect(() =>
      assertWritable(p, '/x', {
        ...plain,
        metadata: { configuration: { 'delta.enableChangeDataFeed': 'TRUE' } },
      }),
    ).toThrow(/uses writer feature changeDataFeed \(delta.enableChangeDataFeed=true\), which/)
    // Row tracking is never maintained, used or not.
    expect(() =>
      assertWritable(
        { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['rowTracking'] },
        '/x',
        plain,
      ),
    ).toThrow(/rowTracking/)
    expect(() => assertWritable({ minReaderVersion: 1, minWriterVersion: 2 }, '/x')).not.toThrow()
  })
})
