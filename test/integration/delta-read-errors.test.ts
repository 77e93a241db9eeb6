/**
 * Corrupt and incomplete Delta tables (always on a temp copy of a fixture): a clear error naming
 * the file, or a fallback the protocol allows, never wrong rows; and nothing on disk changes.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { sql } from '../../src/engine/sql.js'
import { loadSnapshot, registerSnapshot } from '../../src/formats/delta/index.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

let db: DuckDb
beforeAll(async () => {
  db = await DuckDb.open()
})
afterAll(() => db.close())

function copyTable(name: string): string {
  const dir = join(tempDir(), name)
  cpSync(fixture('delta', name), dir, { recursive: true })
  return dir
}

const log = (dir: string, file: string) => join(dir, '_delta_log', file)

async function countRows(dir: string): Promise<number> {
  const snapshot = await loadSnapshot(dir)
  await registerSnapshot(db, snapshot, 't')
  const [row] = await db.all<{ n: bigint }>(sql`select count(*) as n from t`)
  return Number(row?.n)
}

describe.skipIf(!hasFixtures)(needsFixtures('corrupt Delta tables'), () => {
  test('a truncated commit is DELTA_LOG_INVALID naming the file; nothing changes', async () => {
    const dir = copyTable('simple_table')
    const file = log(dir, '00000000000000000004.json')
    truncateSync(file, readFileSync(file).length - 40)
    const before = hashTree(dir)
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringContaining('00000000000000000004.json is corrupt at line'),
    })
    // Earlier versions stay readable.
    expect(await loadSnapshot(dir, { version: 3 })).toMatchObject({ version: 3 })
    expect(hashTree(dir)).toEqual(before)
  })

  test('a commit missing from the middle of the log is named', async () => {
    const dir = copyTable('simple_table')
    rmSync(log(dir, '00000000000000000002.json'))
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringContaining('missing commit file'),
      details: { path: log(dir, '00000000000000000002.json') },
    })
  })

  test('a missing data file is INPUT_NOT_FOUND naming it, before any row is read', async () => {
    const dir = copyTable('delta-0.2.0')
    const snapshot = await loadSnapshot(dir)
    const victim = snapshot.files[0]?.path ?? ''
    rmSync(join(dir, victim))
    await expect(registerSnapshot(db, snapshot, 't')).rejects.toMatchObject({
      code: 'INPUT_NOT_FOUND',
      message: expect.stringContaining(victim),
    })
  })

  test('a corrupt checkpoint falls back to the JSON commits (same rows)', async () => {
    const dir = copyTable('delta-0.2.0')
    writeFileSync(log(dir, '00000000000000000003.checkpoint.parquet'), 'not parquet')
    const snapshot = await loadSnapshot(dir)
    expect(snapshot.checkpointVersion).toBeUndefined()
    expect(await countRows(dir)).toBe(6)
  })

  test('a checkpoint whose size disagrees with _last_checkpoint is not trusted', async () => {
    const dir = copyTable('delta-0.2.0')
    writeFileSync(log(dir, '_last_checkpoint'), '{"version":3,"size":99}')
    const snapshot = await loadSnapshot(dir)
    expect(snapshot.checkpointVersion).toBeUndefined()
    expect(snapshot.files).toHaveLength(3)
    expect(await countRows(dir)).toBe(6)
  })

  test('a stale or unreadable _last_checkpoint is only a hint', async () => {
    const dir = copyTable('delta-0.2.0')
    writeFileSync(log(dir, '_last_checkpoint'), '{"version":7,"size":3}')
    expect((await loadSnapshot(dir)).checkpointVersion).toBe(3)
    writeFileSync(log(dir, '_last_checkpoint'), '{"vers')
    expect((await loadSnapshot(dir)).checkpointVersion).toBe(3)
    rmSync(log(dir, '_last_checkpoint'))
    expect(await countRows(dir)).toBe(6)
  })

  test('a corrupt checkpoint with the earlier commits cleaned up is an error naming it', async () => {
    const dir = copyTable('checkpoint-cdf-table')
    const checkpoint = log(dir, '00000000000000000003.checkpoint.parquet')
    writeFileSync(checkpoint, 'not parquet')
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringMatching(
        /00000000000000000003\.checkpoint\.parquet[\s\S]*restore the checkpoint/,
      ),
    })
  })

  test('a missing part of a multi-part checkpoint makes it unusable, not partial', async () => {
    const dir = copyTable('multi-part-checkpoint')
    rmSync(log(dir, '00000000000000000001.checkpoint.0000000002.0000000002.parquet'))
    const snapshot = await loadSnapshot(dir)
    expect(snapshot.checkpointVersion).toBeUndefined()
    expect(await countRows(dir)).toBe(31)
  })

  test('a missing deletion vector file is an error naming it, never 10 rows', async () => {
    const dir = copyTable('table-with-dv-small')
    rmSync(join(dir, 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin'))
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringContaining('deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin'),
    })
  })

  test('a deletion vector whose cardinality disagrees with the log is refused', async () => {
    const dir = copyTable('table-with-dv-small')
    const commit = log(dir, '00000000000000000001.json')
    writeFileSync(
      commit,
      readFileSync(commit, 'utf8').replace('"cardinality":2', '"cardinality":3'),
    )
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringMatching(/holds 2 rows but the log says cardinality 3/),
    })
  })

  test('not a Delta table, and a version past the latest', async () => {
    await expect(loadSnapshot(tempDir())).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' })
    await expect(
      loadSnapshot(fixture('delta', 'simple_table'), { version: 9 }),
    ).rejects.toMatchObject({
      code: 'VERSION_NOT_FOUND',
      message: expect.stringMatching(/no version 9: the latest is 4/),
    })
  })
})

describe('tables that need a newer reader', () => {
  /** A log another engine could write: version 0 with only protocol and metaData. */
  function handMadeTable(protocol: Record<string, unknown>): string {
    const dir = tempDir()
    mkdirSync(join(dir, '_delta_log'))
    const metaData = {
      id: 'hand-made',
      format: { provider: 'parquet', options: {} },
      schemaString: JSON.stringify({
        type: 'struct',
        fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }],
      }),
      partitionColumns: [],
      configuration: {},
      createdTime: 0,
    }
    writeFileSync(
      log(dir, `${'0'.padStart(20, '0')}.json`),
      `${JSON.stringify({ protocol })}\n${JSON.stringify({ metaData })}\n`,
    )
    return dir
  }

  test('the message names the reader version and every reader feature duckmerge lacks', async () => {
    const features = handMadeTable({
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['deletionVectors', 'variantType', 'collations'],
      writerFeatures: ['deletionVectors', 'variantType', 'collations'],
    })
    await expect(loadSnapshot(features)).rejects.toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      message: expect.stringContaining(
        `Cannot read Delta table ${features}: it requires reader version 3 and reader features variantType, collations, which duckmerge does not implement`,
      ),
      details: { minReaderVersion: 3, features: ['variantType', 'collations'] },
    })

    const version = handMadeTable({
      minReaderVersion: 4,
      minWriterVersion: 7,
      readerFeatures: ['timestampNtz', 'geospatial'],
      writerFeatures: ['timestampNtz', 'geospatial'],
    })
    const error = await loadSnapshot(version).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      details: { minReaderVersion: 4, features: ['geospatial'] },
    })
    expect((error as Error).message).toMatch(
      /requires reader version 4, which duckmerge does not support \(it reads protocol reader versions 1–3\) and reader feature geospatial, which duckmerge does not implement/,
    )
  })
})
