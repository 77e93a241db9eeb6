/**
 * Input at the edge: JSON bodies read with a byte limit, then parsed with zod; every issue is
 * reported at once as VALIDATION_FAILED (400 invalid_request) with zod's issues in
 * `details.issues`.
 */
import type { Context } from 'hono'
import type { z } from 'zod'
import { DuckmergeError, type Issue } from '../errors.js'
import type { ServiceEnv } from './context.js'

/** Parses `value` with `schema`; `where` names the part of the request in the message. */
export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'body' | 'query' | 'path' | 'form',
): z.infer<T> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issues: Issue[] = result.error.issues.map((i) => ({
    path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    code: i.code,
    message: i.message,
  }))
  throw new DuckmergeError(
    'VALIDATION_FAILED',
    `The request ${where} is not valid: ${issues.map((i) => `${i.path.join('.') || where}: ${i.message}`).join('; ')}.`,
    { issues },
  )
}

/** Reads a JSON body of at most `limit` bytes (counted as it arrives) and parses it. */
export async function readJson<T extends z.ZodType>(
  c: Context<ServiceEnv>,
  schema: T,
  limit: number,
): Promise<z.infer<T>> {
  const type = c.req.header('content-type') ?? ''
  const body = c.req.raw.body
  if (!body) return parseWith(schema, {}, 'body')
  if (!/^application\/json\b/i.test(type))
    throw new DuckmergeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `This endpoint takes application/json, not ${JSON.stringify(type || 'no Content-Type')}.`,
      { content_type: type },
    )
  const text = await readText(body, limit)
  if (text.trim() === '') return parseWith(schema, {}, 'body')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `The request body is not JSON: ${String(error)}`,
      {
        issues: [{ path: [], code: 'invalid_json', message: 'not JSON' }],
      },
    )
  }
  return parseWith(schema, value, 'body')
}

/** The body as text, PAYLOAD_TOO_LARGE once more than `limit` bytes have arrived. */
export async function readText(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export function tooLarge(limit: number): DuckmergeError {
  return new DuckmergeError(
    'PAYLOAD_TOO_LARGE',
    `The request body is larger than the limit of ${limit} bytes.`,
    { limit_bytes: limit },
  )
}
