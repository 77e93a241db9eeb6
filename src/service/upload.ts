/**
 * Receiving an uploaded file without holding it in memory: a multipart/form-data body is parsed
 * as it streams (small fields kept, the `file` part written to disk), a raw body is written as
 * it arrives. Bytes are counted on the stream, so a body over the limit stops with
 * PAYLOAD_TOO_LARGE whatever Content-Length said, and its temp file is removed. The format is
 * sniffed from the bytes (Parquet's PAR1 magic, else CSV), never taken from a file name. Rows and
 * columns are limited too (upload-limits.ts): a CSV's are counted on the stream, a Parquet
 * file's read from its checked footer.
 *
 *   --boundary CRLF headers CRLF CRLF data CRLF --boundary … --boundary--
 */
import { randomBytes } from 'node:crypto'
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Context } from 'hono'
import { type DataRoot, tmpDir } from '../changes/data-root.js'
import { DuckmergeError } from '../errors.js'
import type { ServiceEnv, ServiceLimits } from './context.js'
import { CsvCounter, checkParquetShape } from './upload-limits.js'
import { tooLarge } from './validate.js'

export type UploadFormat = 'parquet' | 'csv'

export interface ReceivedFile {
  /** Under `<root>/tmp/uploads/`, named `<random>.<format>`; the caller removes it. */
  readonly path: string
  readonly bytes: number
  readonly format: UploadFormat
}

export interface Received {
  /** Multipart fields, or the query parameters of a raw body. */
  readonly fields: Readonly<Record<string, string>>
  readonly file: ReceivedFile | undefined
}

/** Content types a raw (not multipart) upload may have. */
const RAW_TYPES = /^(application\/(vnd\.apache\.parquet|octet-stream|x-parquet)|text\/csv)\b/i
const FIELD_LIMIT = 1024 * 1024
const HEADER_LIMIT = 16 * 1024

/** Whether the request carries an upload (multipart or a raw file body) rather than JSON. */
export function isUpload(c: Context<ServiceEnv>): boolean {
  const type = c.req.header('content-type') ?? ''
  return /^multipart\/form-data\b/i.test(type) || RAW_TYPES.test(type)
}

/**
 * Receives the body of an upload request into a temp file under the root.
 *
 * @example
 * const { fields, file } = await receiveUpload(c, root, deps.limits)
 * try { … file.path … } finally { await removeUpload(file) }
 */
export async function receiveUpload(
  c: Context<ServiceEnv>,
  root: DataRoot,
  limits: Pick<ServiceLimits, 'uploadBytes' | 'uploadRows' | 'uploadColumns'>,
): Promise<Received> {
  const type = c.req.header('content-type') ?? ''
  const body = c.req.raw.body
  const boundary = /^multipart\/form-data\b.*;\s*boundary="?([^";]+)"?/i.exec(type)?.[1]
  if (!boundary && !RAW_TYPES.test(type))
    throw new DuckmergeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Send the file as multipart/form-data, or as a raw body with Content-Type application/vnd.apache.parquet or text/csv (got ${JSON.stringify(type || 'none')}).`,
      { content_type: type },
    )
  if (!body) throw missingFile()
  const dir = join(tmpDir(root), 'uploads')
  await mkdir(dir, { recursive: true })
  const partial = join(dir, `${randomBytes(12).toString('hex')}.part`)
  const sink = new FileSink(partial, limits)
  try {
    let fields: Record<string, string>
    if (boundary) fields = await parseMultipart(body, boundary, sink)
    else {
      fields = { ...c.req.query() }
      await sink.start()
      for await (const chunk of iterate(body)) await sink.write(chunk)
    }
    const written = await sink.finish()
    if (written === undefined) return { fields, file: undefined }
    const format: UploadFormat = written.head.toString('latin1') === 'PAR1' ? 'parquet' : 'csv'
    if (format === 'parquet') await checkParquetShape(partial, limits)
    const path = partial.replace(/\.part$/, `.${format}`)
    await rename(partial, path)
    return { fields, file: { path, bytes: written.bytes, format } }
  } catch (error) {
    await sink.abort()
    await rm(partial, { force: true })
    throw error
  }
}

/** Removes a received file (call in `finally`). */
export async function removeUpload(file: ReceivedFile | undefined): Promise<void> {
  if (file) await rm(file.path, { force: true })
}

export function missingFile(): DuckmergeError {
  return new DuckmergeError(
    'VALIDATION_FAILED',
    'The request has no file: send a multipart "file" part or the file as the body.',
    { issues: [{ path: ['file'], code: 'required', message: 'a file is required' }] },
  )
}

/**
 * Writes the file part, counting bytes against the limit and keeping its first 4 bytes; once
 * they say CSV, its rows and columns are counted too.
 */
class FileSink {
  #handle: FileHandle | undefined
  #bytes = 0
  #head = Buffer.alloc(0)
  #started = false
  /** undefined until the format is known, null for Parquet. */
  #csv: CsvCounter | null | undefined
  constructor(
    readonly path: string,
    readonly limits: Pick<ServiceLimits, 'uploadBytes' | 'uploadRows' | 'uploadColumns'>,
  ) {}

  async start(): Promise<void> {
    if (this.#started)
      throw new DuckmergeError('VALIDATION_FAILED', 'The request has more than one file part.', {
        issues: [{ path: ['file'], code: 'duplicate', message: 'one file only' }],
      })
    this.#started = true
    this.#handle = await open(this.path, 'wx')
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return
    this.#bytes += chunk.byteLength
    if (this.#bytes > this.limits.uploadBytes) throw tooLarge(this.limits.uploadBytes)
    const early = this.#head
    if (this.#head.length < 4)
      this.#head = Buffer.concat([this.#head, Buffer.from(chunk.subarray(0, 4))]).subarray(0, 4)
    if (this.#csv !== undefined) this.#csv?.push(chunk)
    else if (this.#head.length === 4) {
      this.#csv = this.#head.toString('latin1') === 'PAR1' ? null : new CsvCounter(this.limits)
      // The bytes before the format was known are at most 3: the head so far.
      this.#csv?.push(Buffer.concat([early, chunk]))
    }
    await this.#handle?.write(chunk)
  }

  /** The size and head of what was written, or undefined when there was no file. */
  async finish(): Promise<{ bytes: number; head: Buffer } | undefined> {
    if (!this.#started) return undefined
    await this.#handle?.close()
    this.#handle = undefined
    if (this.#bytes === 0) throw missingFile()
    if (this.#csv === undefined) {
      // Fewer than 4 bytes: CSV, counted now.
      this.#csv = new CsvCounter(this.limits)
      this.#csv.push(this.#head)
    }
    this.#csv?.finish()
    return { bytes: this.#bytes, head: this.#head }
  }

  async abort(): Promise<void> {
    await this.#handle?.close().catch(() => undefined)
    this.#handle = undefined
  }
}

async function* iterate(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
}

/**
 * RFC 7578 multipart, streamed: fields other than `file` are kept as text (≤ 1 MiB each), the
 * `file` part goes to `sink`. The body is read as if it began with CRLF, so every boundary,
 * the first included, is the same CRLF--boundary delimiter.
 */
async function parseMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  sink: FileSink,
): Promise<Record<string, string>> {
  const delimiter = Buffer.from(`\r\n--${boundary}`)
  const fields: Record<string, string> = {}
  let buf: Buffer = Buffer.from('\r\n')
  let state = 'preamble' as 'preamble' | 'after' | 'headers' | 'body' | 'done'
  let part: { name: string; isFile: boolean; chunks: Buffer[]; size: number } | undefined
  const bad = (message: string) =>
    new DuckmergeError('VALIDATION_FAILED', `The multipart body is malformed: ${message}.`, {
      issues: [{ path: [], code: 'malformed_multipart', message }],
    })
  const emit = async (data: Buffer) => {
    if (!part || data.length === 0) return
    if (part.isFile) await sink.write(data)
    else {
      part.size += data.length
      if (part.size > FIELD_LIMIT) throw tooLarge(FIELD_LIMIT)
      part.chunks.push(data)
    }
  }
  const step = async (): Promise<boolean> => {
    if (state === 'preamble' || state === 'body') {
      const at = buf.indexOf(delimiter)
      if (at < 0) {
        const keep = Math.min(buf.length, delimiter.length - 1)
        if (state === 'body') await emit(buf.subarray(0, buf.length - keep))
        buf = buf.subarray(buf.length - keep)
        return false
      }
      if (state === 'body') {
        await emit(buf.subarray(0, at))
        if (part && !part.isFile) fields[part.name] = Buffer.concat(part.chunks).toString('utf8')
        part = undefined
      }
      buf = buf.subarray(at + delimiter.length)
      state = 'after'
      return true
    }
    if (state === 'after') {
      if (buf.length < 2) return false
      const two = buf.subarray(0, 2).toString('latin1')
      if (two === '--') {
        state = 'done'
        return false
      }
      // Transport padding (spaces, tabs) may precede the CRLF after a delimiter.
      const eol = buf.indexOf('\r\n')
      if (eol < 0) return false
      buf = buf.subarray(eol + 2)
      state = 'headers'
      return true
    }
    if (state === 'headers') {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (buf.length > HEADER_LIMIT) throw bad('part headers over 16 KiB')
        return false
      }
      const headers = buf.subarray(0, end).toString('utf8')
      buf = buf.subarray(end + 4)
      const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(headers)?.[1] ?? ''
      const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1]
      if (name === undefined) throw bad('a part has no Content-Disposition name')
      const isFile = name === 'file'
      if (isFile) await sink.start()
      part = { name, isFile, chunks: [], size: 0 }
      state = 'body'
      return true
    }
    return false
  }
  for await (const chunk of iterate(body)) {
    if (state === 'done') continue
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, chunk])
    while (await step()) {}
  }
  if (state !== 'done') throw bad('the closing boundary is missing')
  return fields
}
