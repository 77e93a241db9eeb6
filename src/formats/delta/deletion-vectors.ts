/**
 * Deletion vectors (PROTOCOL.md, Deletion Vectors): locating the bitmap (inline, UUID-named file,
 * absolute path), Z85 decoding, and the RoaringBitmapArray format, down to the deleted row indexes.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DuckmergeError, messageOf } from '../../errors.js'
import type { DeletionVectorDescriptor } from './actions.js'

const Z85_ALPHABET =
  '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#'
const Z85_DECODE = new Map([...Z85_ALPHABET].map((c, i) => [c, i]))

/** PROTOCOL.md, Deletion Vector Format: the magic number opening a RoaringBitmapArray. */
const ROARING_ARRAY_MAGIC = 1681511377
const SERIAL_COOKIE_NO_RUNCONTAINER = 12346
const SERIAL_COOKIE = 12347
const NO_OFFSET_THRESHOLD = 4

/**
 * The identity of a deletion vector, used with the path as a file's identity in log replay
 * (PROTOCOL.md, Deletion Vector Descriptor: storageType + pathOrInlineDv + offset).
 *
 * @example dvId({ storageType: 'u', pathOrInlineDv: 'ab', offset: 1, … }) // 'uab@1'
 */
export function dvId(dv: DeletionVectorDescriptor | null | undefined): string {
  if (!dv) return ''
  return `${dv.storageType}${dv.pathOrInlineDv}${dv.offset == null ? '' : `@${dv.offset}`}`
}

/**
 * Decodes Z85 (ZeroMQ RFC 32), which Delta uses for UUIDs and inline bitmaps. The input length
 * must be a multiple of 5; every 5 characters give 4 big-endian bytes.
 *
 * @example decodeZ85('HelloWorld') // Uint8Array [0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]
 */
export function decodeZ85(text: string): Uint8Array {
  if (text.length % 5 !== 0)
    throw new RangeError(`Z85 text length ${text.length} is not a multiple of 5`)
  const out = new Uint8Array((text.length / 5) * 4)
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0
    for (let j = 0; j < 5; j++) {
      const digit = Z85_DECODE.get(text[i + j] ?? '')
      if (digit === undefined) throw new RangeError(`invalid Z85 character "${text[i + j]}"`)
      value = value * 85 + digit
    }
    if (value > 0xffffffff) throw new RangeError('Z85 block overflows 32 bits')
    out[o] = value >>> 24
    out[o + 1] = (value >>> 16) & 0xff
    out[o + 2] = (value >>> 8) & 0xff
    out[o + 3] = value & 0xff
  }
  return out
}

/**
 * Encodes bytes as Z85 (the input length must be a multiple of 4; pad with zeros first).
 *
 * @example encodeZ85(new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])) // 'HelloWorld'
 */
export function encodeZ85(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0)
    throw new RangeError(`Z85 input length ${bytes.length} is not a multiple of 4`)
  let out = ''
  for (let i = 0; i < bytes.length; i += 4) {
    let value =
      (bytes[i] ?? 0) * 2 ** 24 +
      ((bytes[i + 1] ?? 0) << 16) +
      ((bytes[i + 2] ?? 0) << 8) +
      (bytes[i + 3] ?? 0)
    let block = ''
    for (let j = 0; j < 5; j++) {
      block = (Z85_ALPHABET[value % 85] ?? '') + block
      value = Math.floor(value / 85)
    }
    out += block
  }
  return out
}

/**
 * Serialises row indexes as a RoaringBitmapArray (array and bitmap containers, no runs): what a
 * deletion vector holds. The inverse of parseRoaringBitmapArray.
 *
 * @example parseRoaringBitmapArray(serializeRoaringBitmapArray([0, 9])) // [0, 9]
 */
export function serializeRoaringBitmapArray(rows: readonly number[]): Uint8Array {
  const sorted = [...new Set(rows)].sort((a, b) => a - b)
  const byHigh = new Map<number, Map<number, number[]>>()
  for (const row of sorted) {
    const high = Math.floor(row / 2 ** 32)
    const low = row % 2 ** 32
    const containers = byHigh.get(high) ?? new Map<number, number[]>()
    const key = Math.floor(low / 65536)
    const list = containers.get(key) ?? []
    list.push(low % 65536)
    containers.set(key, list)
    byHigh.set(high, containers)
  }
  const chunks: Buffer[] = []
  const head = Buffer.alloc(12)
  head.writeInt32LE(ROARING_ARRAY_MAGIC, 0)
  head.writeBigUInt64LE(BigInt(byHigh.size), 4)
  chunks.push(head)
  for (const [high, containers] of byHigh) {
    const entries = [...containers.entries()]
    const header = Buffer.alloc(4 + 4 + 4 + entries.length * 8)
    header.writeUInt32LE(high, 0)
    header.writeUInt32LE(SERIAL_COOKIE_NO_RUNCONTAINER, 4)
    header.writeUInt32LE(entries.length, 8)
    const bodies = entries.map(([, values]) => {
      if (values.length <= 4096) {
        const body = Buffer.alloc(values.length * 2)
        values.forEach((v, i) => {
          body.writeUInt16LE(v, i * 2)
        })
        return body
      }
      const body = Buffer.alloc(8192)
      for (const v of values) body[v >>> 3] = (body[v >>> 3] ?? 0) | (1 << (v & 7))
      return body
    })
    let offset = header.length
    entries.forEach(([key, values], i) => {
      header.writeUInt16LE(key, 12 + i * 4)
      header.writeUInt16LE(values.length - 1, 14 + i * 4)
      header.writeUInt32LE(offset - 4, 12 + entries.length * 4 + i * 4)
      offset += bodies[i]?.length ?? 0
    })
    chunks.push(header, ...bodies)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

/**
 * The absolute path of an on-disk deletion vector. PROTOCOL.md: for storageType `u`, the last 20
 * characters are the Z85-encoded UUID and any characters before them a folder prefix:
 * `<table>/<prefix>/deletion_vector_<uuid>.bin`. For `p`, an absolute URI.
 */
export function deletionVectorPath(tablePath: string, dv: DeletionVectorDescriptor): string {
  if (dv.storageType === 'p') {
    const p = dv.pathOrInlineDv
    return p.startsWith('file:') ? fileURLToPath(p) : decodeURIComponent(p)
  }
  const encoded = dv.pathOrInlineDv
  const prefix = encoded.slice(0, -20)
  const bytes = decodeZ85(encoded.slice(-20))
  const hex = Buffer.from(bytes).toString('hex')
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  return join(tablePath, prefix, `deletion_vector_${uuid}.bin`)
}

/**
 * Reads a deletion vector and returns the deleted row indexes, ascending. Throws
 * DELTA_LOG_INVALID naming the file when the bitmap is missing, corrupt or its cardinality
 * disagrees with the descriptor: a wrong row count is never acceptable.
 *
 * @example
 * await readDeletionVector('/data/t', add.deletionVector) // [0, 9]
 */
export async function readDeletionVector(
  tablePath: string,
  dv: DeletionVectorDescriptor,
  dataFile = '(unknown file)',
): Promise<number[]> {
  let bitmap: Uint8Array
  let where: string
  if (dv.storageType === 'i') {
    where = `inline deletion vector of ${dataFile}`
    try {
      bitmap = decodeZ85(dv.pathOrInlineDv).subarray(0, dv.sizeInBytes)
    } catch (error) {
      throw corrupt(where, messageOf(error))
    }
  } else {
    const path = deletionVectorPath(tablePath, dv)
    where = `deletion vector ${path} (for ${dataFile})`
    let handle: fs.FileHandle
    try {
      handle = await fs.open(path, 'r')
    } catch (error) {
      throw new DuckmergeError(
        'DELTA_LOG_INVALID',
        `Cannot read ${where}: ${messageOf(error)}. The table is incomplete; restore the file.`,
        { path, dataFile },
      )
    }
    try {
      // Layout at `offset`: 4-byte big-endian size, the bitmap, a 4-byte CRC-32.
      const offset = dv.offset ?? 1
      const head = Buffer.alloc(4)
      await handle.read(head, 0, 4, offset)
      const size = head.readUInt32BE(0)
      if (size !== dv.sizeInBytes)
        throw corrupt(
          where,
          `stored size ${size} differs from the log's sizeInBytes ${dv.sizeInBytes}`,
        )
      const data = Buffer.alloc(size)
      const { bytesRead } = await handle.read(data, 0, size, offset + 4)
      if (bytesRead !== size) throw corrupt(where, 'the file is truncated')
      bitmap = data
    } finally {
      await handle.close()
    }
  }
  let rows: number[]
  try {
    rows = parseRoaringBitmapArray(bitmap)
  } catch (error) {
    if (error instanceof DuckmergeError) throw error
    throw corrupt(where, messageOf(error))
  }
  if (rows.length !== dv.cardinality)
    throw corrupt(
      where,
      `it holds ${rows.length} rows but the log says cardinality ${dv.cardinality}`,
    )
  return rows
}

/**
 * Parses a serialized RoaringBitmapArray (PROTOCOL.md, Deletion Vector Format): magic, a 64-bit
 * count of 32-bit Roaring bitmaps, each prefixed by its high 32 bits, in the portable Roaring
 * format (array, bitmap and run containers).
 */
export function parseRoaringBitmapArray(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) throw new RangeError('bitmap is truncated')
  }
  need(12)
  const magic = view.getInt32(pos, true)
  if (magic !== ROARING_ARRAY_MAGIC) throw new RangeError(`bad bitmap magic number ${magic}`)
  pos += 4
  const count = Number(view.getBigUint64(pos, true))
  pos += 8
  const rows: number[] = []
  for (let b = 0; b < count; b++) {
    need(4)
    const high = view.getUint32(pos, true) * 2 ** 32
    pos += 4
    pos = parseRoaring32(view, pos, high, rows)
  }
  return rows
}

function parseRoaring32(view: DataView, start: number, high: number, rows: number[]): number {
  let pos = start
  const need = (n: number) => {
    if (pos + n > view.byteLength) throw new RangeError('bitmap is truncated')
  }
  need(4)
  const cookie = view.getUint32(pos, true)
  pos += 4
  let containers: number
  let runFlags: Uint8Array | undefined
  if ((cookie & 0xffff) === SERIAL_COOKIE) {
    containers = (cookie >>> 16) + 1
    const flagBytes = Math.ceil(containers / 8)
    need(flagBytes)
    runFlags = new Uint8Array(view.buffer, view.byteOffset + pos, flagBytes)
    pos += flagBytes
  } else if (cookie === SERIAL_COOKIE_NO_RUNCONTAINER) {
    need(4)
    containers = view.getUint32(pos, true)
    pos += 4
  } else {
    throw new RangeError(`bad Roaring cookie ${cookie}`)
  }
  need(containers * 4)
  const keys: number[] = []
  const cards: number[] = []
  for (let i = 0; i < containers; i++) {
    keys.push(view.getUint16(pos, true))
    cards.push(view.getUint16(pos + 2, true) + 1)
    pos += 4
  }
  if (!runFlags || containers >= NO_OFFSET_THRESHOLD) pos += containers * 4 // offset header
  for (let i = 0; i < containers; i++) {
    const base = high + (keys[i] ?? 0) * 65536
    const card = cards[i] ?? 0
    const isRun = runFlags !== undefined && ((runFlags[i >>> 3] ?? 0) >>> (i & 7)) & 1
    if (isRun) {
      need(2)
      const runs = view.getUint16(pos, true)
      pos += 2
      need(runs * 4)
      for (let r = 0; r < runs; r++) {
        const from = view.getUint16(pos, true)
        const length = view.getUint16(pos + 2, true)
        pos += 4
        for (let v = from; v <= from + length; v++) rows.push(base + v)
      }
    } else if (card > 4096) {
      need(8192)
      for (let w = 0; w < 2048; w++) {
        let word = view.getUint32(pos + w * 4, true)
        while (word !== 0) {
          const bit = 31 - Math.clz32(word & -word)
          rows.push(base + w * 32 + bit)
          word &= word - 1
        }
      }
      pos += 8192
    } else {
      need(card * 2)
      for (let v = 0; v < card; v++) rows.push(base + view.getUint16(pos + v * 2, true))
      pos += card * 2
    }
  }
  return pos
}

function corrupt(where: string, why: string): DuckmergeError {
  return new DuckmergeError('DELTA_LOG_INVALID', `The ${where} is corrupt: ${why}.`, { where })
}
