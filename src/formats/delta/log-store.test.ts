import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import {
  commitFileName,
  latestVersion,
  listLog,
  readCommit,
  readLastCheckpoint,
} from './log-store.js'

function table(files: Record<string, string>): string {
  const dir = tempDir()
  mkdirSync(join(dir, '_delta_log', '.tmp'), { recursive: true })
  for (const [name, text] of Object.entries(files))
    writeFileSync(join(dir, '_delta_log', name), text)
  return dir
}

describe('log-store', () => {
  test('commitFileName pads to 20 digits', () => {
    expect(commitFileName(7)).toBe('00000000000000000007.json')
    expect(() => commitFileName(-1)).toThrow(/>= 0/)
  })

  test('lists commits and every checkpoint kind, ignoring other files', async () => {
    const dir = table({
      [commitFileName(0)]: '{"commitInfo":{}}\n',
      [commitFileName(1)]: '{"commitInfo":{}}\n',
      [commitFileName(2)]: '{"commitInfo":{}}\n',
      '00000000000000000001.checkpoint.parquet': '',
      '00000000000000000002.checkpoint.0000000002.0000000002.parquet': '',
      '00000000000000000002.checkpoint.0000000001.0000000002.parquet': '',
      '00000000000000000002.checkpoint.e8fa2696-9728-4e9c-b285-634743fdd4fb.json': '',
      '00000000000000000002.crc': '{}',
      '.tmp/00000000000000000003.json': '{}',
      '00000000000000000003.json.tmp': '{}',
      _last_checkpoint: '{"version":1,"size":3}',
    })
    const { commits, checkpoints } = await listLog(dir)
    expect(commits.map((c) => c.version)).toEqual([0, 1, 2])
    expect(checkpoints.map((c) => [c.version, c.kind, c.part ?? null, c.format])).toEqual([
      [1, 'classic', null, 'parquet'],
      [2, 'v2', null, 'json'],
      [2, 'multi-part', 1, 'parquet'],
      [2, 'multi-part', 2, 'parquet'],
    ])
    expect(await latestVersion(dir)).toBe(2)
    expect(await readLastCheckpoint(dir)).toEqual({ version: 1, size: 3 })
  })

  test('readCommit parses actions in order', async () => {
    const dir = table({
      [commitFileName(0)]:
        '{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}\n\n{"add":{"path":"a.parquet"}}\n',
    })
    const actions = await readCommit(dir, 0)
    expect(actions).toEqual([
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      { add: { path: 'a.parquet' } },
    ])
  })

  test('a truncated commit is DELTA_LOG_INVALID naming the file and line', async () => {
    const dir = table({ [commitFileName(0)]: '{"commitInfo":{}}\n{"add":{"path":"a.par' })
    await expect(readCommit(dir, 0)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringMatching(/00000000000000000000\.json is corrupt at line 2/),
    })
  })

  test('a missing commit is VERSION_NOT_FOUND; a missing log is INPUT_NOT_FOUND', async () => {
    const dir = table({ [commitFileName(0)]: '{}\n' })
    await expect(readCommit(dir, 5)).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' })
    await expect(listLog(tempDir())).rejects.toMatchObject({
      code: 'INPUT_NOT_FOUND',
      message: expect.stringMatching(/no _delta_log folder/),
    })
  })

  test('an unreadable _last_checkpoint is ignored', async () => {
    const dir = table({ _last_checkpoint: '{"vers' })
    expect(await readLastCheckpoint(dir)).toBeUndefined()
  })
})
