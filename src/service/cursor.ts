/** Opaque page cursors: base64url JSON the server wrote; anything else is 400 invalid_cursor. */
import { z } from 'zod'
import { DuckmergeError } from '../errors.js'

const cursorSchema = z.object({ version: z.number().int().min(0), offset: z.number().int().min(0) })

export type Cursor = z.infer<typeof cursorSchema>

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

export function decodeCursor(text: string): Cursor {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')))
  } catch {
    throw new DuckmergeError('VALIDATION_FAILED', 'The cursor is not one this server gave out.', {
      issues: [{ path: ['cursor'], code: 'invalid_cursor', message: 'unknown cursor' }],
    })
  }
}
