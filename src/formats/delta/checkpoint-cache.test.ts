import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import { commitFileName } from './log-store.js'
import { loadSnapshot } from './snapshot.js'

const lines = (actions: readonly object[]) =>
  `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`
const protocol = {
  protocol: {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: ['v2Checkpoint'],
    writerFeatures: ['v2Checkpoint'],
  },
}
const metaData = {
  metaData: {
    id: 't',
    format: { provider: 'parquet', options: {} },
    schemaString:
      '{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]}',
    partitionColumns: [],
    configuration: { 'delta.checkpointPolicy': 'v2' },
  },
}
const add = (path: string) => ({
  add: { path, partitionValues: {}, size: 1, modificationTime: 0, dataChange: true },
})
const CHECKPOINT = '00000000000000000001.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json'

/** A table whose state at version 1 comes only from its checkpoint (0.json removed). */
function tableWithCheckpoint(table: string, files: readonly string[]): void {
  const log = join(table, '_delta_log')
  mkdirSync(log, { recursive: true })
  writeFileSync(join(log, commitFileName(1)), lines([{ commitInfo: { timestamp: 1 } }]))
  rmSync(join(log, CHECKPOINT), { force: true })
  writeFileSync(
    join(log, CHECKPOINT),
    lines([{ checkpointMetadata: { version: 1 } }, protocol, metaData, ...files.map(add)]),
  )
}

describe('loadSnapshot: checkpoints read once', () => {
  test('a checkpoint read again gives the same state, and a snapshot cannot change it', async () => {
    const table = tempDir()
    tableWithCheckpoint(table, ['a.parquet', 'b.parquet'])
    const first = await loadSnapshot(table)
    const again = await loadSnapshot(table)
    expect(again.files.map((f) => f.path)).toEqual(['a.parquet', 'b.parquet'])
    expect(again.files).toEqual(first.files)
    // Shared by every snapshot built from the cached checkpoint, so frozen.
    expect(() => {
      ;(again.files[0] as { path: string }).path = 'x.parquet'
    }).toThrow(TypeError)
    expect((await loadSnapshot(table)).files[0]?.path).toBe('a.parquet')
  })

  test('a checkpoint file replaced at the same path (the table re-created) is read afresh', async () => {
    const table = tempDir()
    tableWithCheckpoint(table, ['a.parquet'])
    expect((await loadSnapshot(table)).files.map((f) => f.path)).toEqual(['a.parquet'])
    tableWithCheckpoint(table, ['c.parquet', 'd.parquet'])
    expect((await loadSnapshot(table)).files.map((f) => f.path)).toEqual(['c.parquet', 'd.parquet'])
  })
})
