import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import { type DuckmergeError, isDuckmergeError } from '../../errors.js'
import { datasetName, isInside, matchesGlob, resolveParquetSource } from './source.js'

/** Not a readable table, but with the magic bytes at both ends: enough for path resolution. */
function fakeParquet(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, Buffer.from('PAR1\0\0\0\0PAR1', 'latin1'))
}

describe('resolveParquetSource', () => {
  test('a directory lists its .parquet files, skipping hidden and _ entries, and spots hive folders', async () => {
    const dir = tempDir()
    fakeParquet(join(dir, 'year=2024', 'b.parquet'))
    fakeParquet(join(dir, 'year=2023', 'a.parquet'))
    fakeParquet(join(dir, '_delta_log', 'x.parquet'))
    fakeParquet(join(dir, '.hidden.parquet'))
    writeFileSync(join(dir, '_SUCCESS'), '')
    const source = await resolveParquetSource(dir, 'ours')
    expect(source).toMatchObject({ kind: 'directory', root: dir, isHivePartitioned: true })
    expect(source.files).toEqual([
      join(dir, 'year=2023', 'a.parquet'),
      join(dir, 'year=2024', 'b.parquet'),
    ])
  })

  test('a glob expands per segment, with ** across folders', async () => {
    const dir = tempDir()
    fakeParquet(join(dir, 'a', 'x-1.parquet'))
    fakeParquet(join(dir, 'a', 'b', 'x-2.parquet'))
    fakeParquet(join(dir, 'a', 'y-3.parquet'))
    const flat = await resolveParquetSource(join(dir, 'a', 'x-*.parquet'), 'theirs')
    expect(flat.files).toEqual([join(dir, 'a', 'x-1.parquet')])
    const deep = await resolveParquetSource(join(dir, '**', 'x-?.parquet'), 'theirs')
    expect(deep).toMatchObject({ kind: 'glob', root: dir, isHivePartitioned: false })
    expect(deep.files).toEqual([join(dir, 'a', 'b', 'x-2.parquet'), join(dir, 'a', 'x-1.parquet')])
  })

  test('a file that is not Parquet is INPUT_UNREADABLE naming it', async () => {
    const dir = tempDir()
    const path = join(dir, 'x.parquet')
    writeFileSync(path, 'hello')
    const error = await resolveParquetSource(path, 'theirs').catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'INPUT_UNREADABLE')).toBe(true)
    expect((error as Error).message).toContain(`${path} is not a Parquet file`)
    expect((error as DuckmergeError).details).toMatchObject({ side: 'theirs', path })
  })
})

describe('path helpers', () => {
  test.each([
    ['/d/*.parquet', '/d/out.parquet', true],
    ['/d/*.parquet', '/d/out.csv', false],
    ['/d/part-*.parquet', '/d/merged.parquet', false],
    ['/d/**/*.parquet', '/d/a/b/out.parquet', true],
    ['/d/**/*.parquet', '/e/out.parquet', false],
    ['/d/[ab].parquet', '/d/a.parquet', true],
  ])('matchesGlob(%s, %s) is %s', (pattern, path, expected) => {
    expect(matchesGlob(pattern, path)).toBe(expected)
  })

  test('isInside', () => {
    expect(isInside('/a/b/c', '/a/b')).toBe(true)
    expect(isInside('/a/b', '/a/b')).toBe(true)
    expect(isInside('/a/bc', '/a/b')).toBe(false)
    expect(isInside('/a', '/a/b')).toBe(false)
  })

  test('datasetName is the file or folder name without .parquet', () => {
    const source = (path: string, kind: 'file' | 'directory' | 'glob', root = '/x') =>
      ({ side: 'ours', path, kind, files: [], root, isHivePartitioned: false }) as const
    expect(datasetName(source('data/runs.parquet', 'file'))).toBe('runs')
    expect(datasetName(source('data/events/', 'directory'))).toBe('events')
    expect(datasetName(source('/lake/t/*.parquet', 'glob', '/lake/t'))).toBe('t')
  })
})
