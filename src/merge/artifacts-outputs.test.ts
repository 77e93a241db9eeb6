import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { DuckmergeError } from '../errors.js'
import { commitOutputs, tempOutputPath } from './artifacts-outputs.js'

describe('commitOutputs', () => {
  test('renames every temp onto its target, replacing existing ones', async () => {
    const dir = tempDir()
    const a = join(dir, 'a.db')
    const b = join(dir, 'b.parquet')
    writeFileSync(a, 'old a')
    const ta = tempOutputPath(a)
    const tb = tempOutputPath(b)
    writeFileSync(ta, 'new a')
    writeFileSync(tb, 'new b')
    await commitOutputs([
      { temp: ta, target: a },
      { temp: tb, target: b },
    ])
    expect(readFileSync(a, 'utf8')).toBe('new a')
    expect(readFileSync(b, 'utf8')).toBe('new b')
    expect(readdirSync(dir).sort()).toEqual(['a.db', 'b.parquet'])
  })

  test('a failing rename puts back the outputs already replaced', async () => {
    const dir = tempDir()
    const a = join(dir, 'a.db')
    const b = join(dir, 'b.parquet')
    writeFileSync(a, 'old a')
    writeFileSync(b, 'old b')
    const ta = tempOutputPath(a)
    writeFileSync(ta, 'new a')
    const missing = tempOutputPath(b) // never written: its rename fails
    const error = await commitOutputs([
      { temp: ta, target: a },
      { temp: missing, target: b },
    ]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DuckmergeError)
    expect((error as DuckmergeError).code).toBe('OUTPUT_UNWRITABLE')
    expect((error as DuckmergeError).message).toContain(`Cannot move the new ${b} into place`)
    expect(readFileSync(a, 'utf8')).toBe('old a')
    expect(readFileSync(b, 'utf8')).toBe('old b')
    expect(readdirSync(dir).sort()).toEqual(['a.db', 'b.parquet'])
  })

  test('temp names are hidden, beside the target, and keep its extension', () => {
    const temp = tempOutputPath('/data/train.parquet')
    expect(temp).toMatch(/^\/data\/\.train\.tmp-\d+-[0-9a-f]{8}\.parquet$/)
    expect(existsSync(temp)).toBe(false)
  })
})
