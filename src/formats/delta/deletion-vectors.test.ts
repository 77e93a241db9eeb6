import { describe, expect, test } from 'vitest'
import { fixture, hasFixtures, needsFixtures } from '../../../test/support/fixtures.js'
import {
  decodeZ85,
  deletionVectorPath,
  encodeZ85,
  parseRoaringBitmapArray,
  readDeletionVector,
  serializeRoaringBitmapArray,
} from './deletion-vectors.js'

describe('Z85', () => {
  test('the ZeroMQ RFC 32 test vector', () => {
    const bytes = new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])
    expect(encodeZ85(bytes)).toBe('HelloWorld')
    expect([...decodeZ85('HelloWorld')]).toEqual([...bytes])
    expect(() => decodeZ85('Hell')).toThrow(/multiple of 5/)
    expect(() => decodeZ85('Hell~')).toThrow(/invalid Z85 character/)
  })

  test('a storageType u descriptor names deletion_vector_<uuid>.bin under its prefix', () => {
    const base = { storageType: 'u' as const, offset: 1, sizeInBytes: 36, cardinality: 2 }
    expect(deletionVectorPath('/t', { ...base, pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA' })).toBe(
      '/t/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin',
    )
    expect(deletionVectorPath('/t', { ...base, pathOrInlineDv: 'abvBn[lx{q8@P<9BNH/isA' })).toBe(
      '/t/ab/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin',
    )
  })
})

describe('RoaringBitmapArray', () => {
  test.each([
    ['empty', []],
    ['array container', [0, 9, 65_535]],
    ['several containers', [1, 65_536, 131_073]],
    ['a bitmap container (> 4096 values)', Array.from({ length: 5000 }, (_, i) => i * 3)],
    ['rows past 2^32 (a second bitmap)', [5, 2 ** 32 + 7, 2 ** 33]],
  ])('%s round-trips', (_name, rows) => {
    expect(parseRoaringBitmapArray(serializeRoaringBitmapArray(rows))).toEqual(rows)
  })

  test('run containers (cookie 12347), as Spark writes after runOptimize', () => {
    // magic, 1 bitmap, high key 0, cookie 12347 with 1 container, run flag byte 0b1,
    // key 0 / cardinality-1 = 5, one run: start 10, length-1 = 5 → rows 10..15.
    const bytes = Buffer.alloc(4 + 8 + 4 + 4 + 1 + 4 + 2 + 4)
    let o = 0
    o = bytes.writeInt32LE(1681511377, o)
    o = bytes.writeBigUInt64LE(1n, o)
    o = bytes.writeUInt32LE(0, o)
    o = bytes.writeUInt32LE(12347, o)
    o = bytes.writeUInt8(1, o)
    o = bytes.writeUInt16LE(0, o)
    o = bytes.writeUInt16LE(5, o)
    o = bytes.writeUInt16LE(1, o)
    o = bytes.writeUInt16LE(10, o)
    bytes.writeUInt16LE(5, o)
    expect(parseRoaringBitmapArray(bytes)).toEqual([10, 11, 12, 13, 14, 15])
  })

  test('bad magic and truncation are errors', () => {
    const good = serializeRoaringBitmapArray([1, 2])
    expect(() => parseRoaringBitmapArray(good.subarray(0, good.length - 1))).toThrow(/truncated/)
    const bad = new Uint8Array(good)
    bad[0] = 0
    expect(() => parseRoaringBitmapArray(bad)).toThrow(/magic/)
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('on-disk deletion vector'), () => {
  test('table-with-dv-small deletes rows 0 and 9', async () => {
    const rows = await readDeletionVector(fixture('delta', 'table-with-dv-small'), {
      storageType: 'u',
      pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA',
      offset: 1,
      sizeInBytes: 36,
      cardinality: 2,
    })
    expect(rows).toEqual([0, 9])
  })
})
