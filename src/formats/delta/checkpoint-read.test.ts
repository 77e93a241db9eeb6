import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fixture, hasFixtures, needsFixtures } from '../../../test/support/fixtures.js'
import { tempDir } from '../../../test/support/temp.js'
import { DuckDb } from '../../engine/duckdb.js'
import { readCheckpoint } from './checkpoint-read.js'
import { commitFileName, listLog } from './log-store.js'
import { loadSnapshot } from './snapshot.js'

let db: DuckDb
beforeAll(async () => {
  db = await DuckDb.open()
})
afterAll(() => db.close())

const lines = (actions: readonly object[]) =>
  `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`
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
const protocol = {
  protocol: {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: ['v2Checkpoint'],
    writerFeatures: ['v2Checkpoint'],
  },
}
const add = (path: string) => ({
  add: { path, partitionValues: {}, size: 1, modificationTime: 0, dataChange: false },
})

describe('readCheckpoint', () => {
  test('a JSON v2 checkpoint with a JSON sidecar, after the commits before it were removed', async () => {
    const table = tempDir()
    const log = join(table, '_delta_log')
    mkdirSync(join(log, '_sidecars'), { recursive: true })
    writeFileSync(join(log, commitFileName(0)), lines([protocol, metaData, add('a.parquet')]))
    writeFileSync(join(log, commitFileName(1)), lines([add('b.parquet')]))
    writeFileSync(
      join(log, commitFileName(2)),
      lines([{ remove: { path: 'a.parquet', dataChange: true } }]),
    )
    writeFileSync(join(log, '_sidecars', 'side-1.json'), lines([add('b.parquet')]))
    writeFileSync(
      join(log, '00000000000000000001.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json'),
      lines([
        { checkpointMetadata: { version: 1 } },
        protocol,
        metaData,
        { sidecar: { path: 'side-1.json', sizeInBytes: 1, modificationTime: 0 } },
        add('a.parquet'),
      ]),
    )
    rmSync(join(log, commitFileName(0)))
    const snapshot = await loadSnapshot(table)
    expect(snapshot.checkpointVersion).toBe(1)
    expect(snapshot.files.map((f) => f.path)).toEqual(['b.parquet'])
    expect(snapshot.tombstones.map((f) => f.path)).toEqual(['a.parquet'])
  })

  test('a missing sidecar is DELTA_LOG_INVALID naming it', async () => {
    const table = tempDir()
    const log = join(table, '_delta_log')
    mkdirSync(log, { recursive: true })
    writeFileSync(join(log, commitFileName(0)), lines([protocol, metaData]))
    const name = '00000000000000000000.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json'
    writeFileSync(
      join(log, name),
      lines([
        protocol,
        metaData,
        { sidecar: { path: 'gone.parquet', sizeInBytes: 1, modificationTime: 0 } },
      ]),
    )
    const { checkpoints } = await listLog(table)
    await expect(readCheckpoint(db, table, checkpoints)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringContaining(join(log, '_sidecars', 'gone.parquet')),
    })
    // With 0.json still there, loadSnapshot falls back to it.
    expect((await loadSnapshot(table)).checkpointVersion).toBeUndefined()
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('readCheckpoint on fixtures'), () => {
  test('both parts of a multi-part checkpoint', async () => {
    const table = fixture('delta', 'multi-part-checkpoint')
    const { checkpoints } = await listLog(table)
    const contents = await readCheckpoint(db, table, checkpoints)
    expect(contents.files).toHaveLength(2)
    expect(contents.actions.filter((a) => 'add' in a)).toHaveLength(10)
  })

  test('stats_parsed only: folded back into add.stats', async () => {
    const table = fixture('delta', 'delta-1.2.1-only-struct-stats')
    const { checkpoints } = await listLog(table)
    const { actions } = await readCheckpoint(db, table, checkpoints)
    const adds = actions.flatMap((a) => ('add' in a ? [a.add] : []))
    expect(adds).toHaveLength(10)
    for (const a of adds) {
      expect(JSON.parse(a.stats ?? '{}')).toMatchObject({ numRecords: 1, nullCount: { null: 1 } })
      expect(a).not.toHaveProperty('stats_parsed')
    }
  })
})

const CHECKPOINT = '00000000000000000001.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json'

/** A table whose state at version 1 comes only from its checkpoint (there is no 0.json). */
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
