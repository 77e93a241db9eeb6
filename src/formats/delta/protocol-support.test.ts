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

  test('refusals name the version or the features', () => {
    expect(() => assertReadable({ minReaderVersion: 99, minWriterVersion: 7 }, '/x')).toThrow(
      'Cannot read Delta table /x: unsupported reader version 99',
    )
    expect(() =>
      assertReadable(
        {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['variantType', 'collations'],
        },
        '/x',
      ),
    ).toThrow(/requires reader features variantType, collations/)
    expect(() => assertWritable({ minReaderVersion: 1, minWriterVersion: 4 }, '/x')).toThrow(
      /requires writer features checkConstraints, changeDataFeed, generatedColumns/,
    )
    expect(() => assertWritable({ minReaderVersion: 1, minWriterVersion: 2 }, '/x')).not.toThrow()
  })
})
