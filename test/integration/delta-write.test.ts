import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { sql } from '../../src/engine/sql.js'
import {
  appendTable,
  checkpoint,
  createTable,
  deleteWhere,
  lastTxnVersion,
  loadSnapshot,
  overwriteTable,
  parseSchema,
  scanSql,
  vacuum,
} from '../../src/formats/delta/index.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { commitsOf, expectValidLog, plainParquetCount, readRows } from './delta-write.helpers.js'

const rows = (from: number, to: number, day = (i: number) => `2024-01-0${(i % 3) + 1}`) =>
  Array.from({ length: to - from }, (_, k) => {
    const i = from + k
    return { id: i, day: day(i), score: i + 0.5, name: `n${i}` }
  })

async function events(partitionBy: string[] = ['day']): Promise<string> {
  const table = join(tempDir(), 'events')
  await createTable({ path: table, source: { rows: rows(0, 9) }, partitionBy })
  return table
}

describe('createTable', () => {
  test('writes protocol 1/2, Spark schemaString, partitioned files with stats; reads back', async () => {
    const table = await events()
    const snapshot = await loadSnapshot(table)
    expect(snapshot.version).toBe(0)
    expect(snapshot.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 })
    expect(snapshot.partitionColumns).toEqual(['day'])
    expect(snapshot.schema.fields.map((f) => [f.name, f.type])).toEqual([
      ['id', 'long'],
      ['day', 'string'],
      ['score', 'double'],
      ['name', 'string'],
    ])
    expect(snapshot.files.map((f) => f.partitionValues.day).sort()).toEqual([
      '2024-01-01',
      '2024-01-02',
      '2024-01-03',
    ])
    for (const f of snapshot.files) expect(existsSync(join(table, f.path))).toBe(true)
    const got = await readRows(table, 'id')
    expect(got).toHaveLength(9)
    expect(got[4]).toEqual({ id: 4, day: '2024-01-02', score: 4.5, name: 'n4' })
    expect(await plainParquetCount(table)).toBe(9)
    const [commitInfo] = commitsOf(table)[0] ?? []
    expect(commitInfo?.commitInfo).toMatchObject({
      operation: 'CREATE TABLE AS SELECT',
      operationParameters: { partitionBy: '["day"]', isManaged: 'false' },
      operationMetrics: { numFiles: '3', numOutputRows: '9' },
    })
    expectValidLog(table)
  })

  test('a timestamp_ntz column gets protocol 3/7 with timestampNtz, nothing more', async () => {
    const table = join(tempDir(), 't')
    await createTable({
      path: table,
      source: { query: "select 1 as id, TIMESTAMP '2021-11-18 02:30:00.123456' as ts" },
    })
    const snapshot = await loadSnapshot(table)
    expect(snapshot.protocol).toEqual({
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['timestampNtz'],
      writerFeatures: ['timestampNtz'],
    })
    const add = snapshot.files[0]
    expect(JSON.parse(add?.stats ?? '{}').maxValues.ts).toBe('2021-11-18T02:30:00.124')
    expect(await readRows(table, 'id')).toEqual([{ id: 1, ts: '2021-11-18 02:30:00.123456' }])
    expectValidLog(table)
  })

  test('refuses a folder that already holds a table, changing nothing', async () => {
    const table = await events()
    const before = hashTree(table)
    await expect(createTable({ path: table, source: { rows: rows(0, 1) } })).rejects.toMatchObject({
      code: 'OUTPUT_UNWRITABLE',
      message: expect.stringContaining('already exists (version 0)'),
    })
    expect(hashTree(table)).toEqual(before)
  })
})

describe('appendTable', () => {
  test('adds a version with the new rows and Spark WRITE/Append commitInfo', async () => {
    const table = await events()
    const result = await appendTable({ path: table, source: { rows: rows(9, 12) } })
    expect(result).toMatchObject({
      version: 1,
      operation: 'WRITE',
      metrics: { numFiles: 3, numOutputRows: 3 },
    })
    expect((await readRows(table, 'id')).map((r) => r.id)).toEqual(
      Array.from({ length: 12 }, (_, i) => i),
    )
    expect((await readRows(table, 'id', 0)).length).toBe(9)
    const info = commitsOf(table)[1]?.[0]?.commitInfo as Record<string, unknown>
    expect(info).toMatchObject({
      operation: 'WRITE',
      operationParameters: { mode: 'Append', partitionBy: '["day"]' },
      readVersion: 0,
      isBlindAppend: true,
    })
    expectValidLog(table)
  })

  test('an extra column is SCHEMA_MISMATCH naming it, and the table is unchanged', async () => {
    const table = await events()
    const before = hashTree(table)
    await expect(
      appendTable({ path: table, source: { rows: [{ id: 1, day: 'x', extra: true }] } }),
    ).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining('"extra" is not in the table'),
      details: { hint: 'Pass {mergeSchema} to add the new columns to the table.' },
    })
    await expect(
      appendTable({ path: table, source: { query: "select 'a' as id, 'x' as day" } }),
    ).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining('"id" is string in the query but long in the table'),
    })
    expect(hashTree(table)).toEqual(before)
  })

  test('mergeSchema adds the column; older rows read it as NULL', async () => {
    const table = await events()
    await appendTable({
      path: table,
      source: {
        query: "select 100 as id, '2024-01-01' as day, 0.5 as score, 'x' as name, 7 as extra",
      },
      mergeSchema: true,
    })
    const snapshot = await loadSnapshot(table)
    expect(snapshot.schema.fields.map((f) => f.name)).toEqual([
      'id',
      'day',
      'score',
      'name',
      'extra',
    ])
    const got = await readRows(table, 'id')
    expect(got.at(-1)).toMatchObject({ id: 100, extra: 7 })
    expect(got[0]).toMatchObject({ id: 0, extra: null })
    expectValidLog(table)
  })

  test('a missing _delta_log is INPUT_NOT_FOUND naming the folder', async () => {
    const dir = tempDir()
    await expect(appendTable({ path: dir, source: { rows: rows(0, 1) } })).rejects.toMatchObject({
      code: 'INPUT_NOT_FOUND',
      message: expect.stringContaining('no _delta_log folder'),
    })
    expect(readdirSync(dir)).toEqual([])
  })

  test('txn makes appends idempotent; lastTxnVersion reports the batch', async () => {
    const table = await events()
    const txn = { appId: 'nightly', version: 3 }
    const first = await appendTable({ path: table, source: { rows: rows(9, 10) }, txn })
    const again = await appendTable({ path: table, source: { rows: rows(9, 10) }, txn })
    expect(first).toMatchObject({ version: 1 })
    expect(again).toMatchObject({ version: 1, skipped: true })
    expect(await lastTxnVersion(table, 'nightly')).toBe(3)
    expect(await lastTxnVersion(table, 'other')).toBeUndefined()
    expect(await readRows(table, 'id')).toHaveLength(10)
  })
})

describe('idempotent writers racing', () => {
  test('two writers with the same txn: one commits, the other reports skipped', async () => {
    const table = await events()
    const txn = { appId: 'loader', version: 1 }
    const results = await Promise.all([
      appendTable({ path: table, source: { rows: rows(9, 10) }, txn }),
      appendTable({ path: table, source: { rows: rows(9, 10) }, txn }),
    ])
    expect(results.map((r) => r.skipped === true).sort()).toEqual([false, true])
    expect(await readRows(table, 'id')).toHaveLength(10)
    expect((await loadSnapshot(table)).version).toBe(1)
  })
})

describe('concurrent rewrites', () => {
  test('two deletes rewriting the same file never lose an update: one retries cleanly or conflicts', async () => {
    for (let round = 0; round < 3; round++) {
      const table = join(tempDir(), 't')
      await createTable({ path: table, source: { query: 'select range as id from range(10)' } })
      const outcomes = await Promise.allSettled([
        deleteWhere({ path: table, where: 'id = 1' }),
        deleteWhere({ path: table, where: 'id = 2' }),
      ])
      const ids = (await readRows(table, 'id')).map((r) => r.id)
      const failed = outcomes.filter((o) => o.status === 'rejected')
      for (const f of failed)
        expect((f as PromiseRejectedResult).reason).toMatchObject({
          code: 'COMMIT_CONFLICT',
          details: { reason: 'concurrent-delete-delete' },
        })
      // Each committed delete's row is gone; a conflicting one changed nothing.
      const expected = Array.from({ length: 10 }, (_, i) => i).filter(
        (i) =>
          !(i === 1 && outcomes[0]?.status === 'fulfilled') &&
          !(i === 2 && outcomes[1]?.status === 'fulfilled'),
      )
      expect(ids).toEqual(expected)
      expect((await loadSnapshot(table)).version).toBe(2 - failed.length)
    }
  })
})

describe('overwriteTable', () => {
  test('whole table: removes every file and writes the new rows', async () => {
    const table = await events()
    const result = await overwriteTable({ path: table, source: { rows: rows(50, 52) } })
    expect(result.metrics).toMatchObject({ numRemovedFiles: 3, numOutputRows: 2 })
    expect((await readRows(table, 'id')).map((r) => r.id)).toEqual([50, 51])
    expect(await readRows(table, 'id', 0)).toHaveLength(9) // time travel still works
    expectValidLog(table)
  })

  test('replaceWhere on a partition replaces only that partition, without rewriting others', async () => {
    const table = await events()
    const before = await loadSnapshot(table)
    const result = await overwriteTable({
      path: table,
      source: { rows: rows(100, 102, () => '2024-01-02') },
      where: "day = '2024-01-02'",
    })
    expect(result.metrics).toMatchObject({
      numRemovedFiles: 1,
      numCopiedRows: 0,
      numDeletedRows: 3,
    })
    const after = await loadSnapshot(table)
    const kept = before.files
      .filter((f) => f.partitionValues.day !== '2024-01-02')
      .map((f) => f.path)
    for (const path of kept) expect(after.files.map((f) => f.path)).toContain(path)
    const got = await readRows(table, 'id')
    expect(got.filter((r) => r.day === '2024-01-02').map((r) => r.id)).toEqual([100, 101])
    expect(got).toHaveLength(8)
    const info = commitsOf(table)[1]?.[0]?.commitInfo as Record<string, unknown>
    expect(info.operationParameters).toMatchObject({
      mode: 'Overwrite',
      predicate: '["day = \'2024-01-02\'"]',
    })
    expectValidLog(table)
  })

  test('replaceWhere refuses new rows outside the predicate, changing nothing', async () => {
    const table = await events()
    const before = hashTree(table)
    await expect(
      overwriteTable({
        path: table,
        source: { rows: rows(100, 102) },
        where: "day = '2024-01-02'",
      }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('1 new row(s) do not match the predicate'),
    })
    expect(hashTree(table)).toEqual(before)
  })
})

describe('deleteWhere', () => {
  test('removes fully matching files without rewriting; rewrites partly matching ones', async () => {
    const table = await events()
    const whole = await deleteWhere({ path: table, where: "day = '2024-01-01'" })
    expect(whole.metrics).toMatchObject({
      numRemovedFiles: 1,
      numAddedFiles: 0,
      numDeletedRows: 3,
      numCopiedRows: 0,
    })
    const partial = await deleteWhere({ path: table, where: 'id = 4' })
    expect(partial.metrics).toMatchObject({
      numRemovedFiles: 1,
      numAddedFiles: 1,
      numDeletedRows: 1,
      numCopiedRows: 2,
    })
    expect((await readRows(table, 'id')).map((r) => r.id)).toEqual([1, 2, 5, 7, 8])
    const info = commitsOf(table)[2]?.[0]?.commitInfo as Record<string, unknown>
    expect(info).toMatchObject({
      operation: 'DELETE',
      operationParameters: { predicate: '["id = 4"]' },
      operationMetrics: { numDeletedRows: '1', numCopiedRows: '2' },
    })
    expectValidLog(table)
  })

  test('a predicate on partition columns only decides from the log, reading no data file', async () => {
    const table = await events()
    const other = (await loadSnapshot(table)).files.find(
      (f) => f.partitionValues.day === '2024-01-03',
    )
    rmSync(join(table, other?.path ?? '')) // a scan would now fail with INPUT_NOT_FOUND
    const result = await deleteWhere({ path: table, where: "day = '2024-01-01' OR day IS NULL" })
    expect(result.metrics).toMatchObject({
      numRemovedFiles: 1,
      numDeletedRows: 3,
      numAddedFiles: 0,
    })
    const left = (await loadSnapshot(table)).files.map((f) => f.partitionValues.day).sort()
    expect(left).toEqual(['2024-01-02', '2024-01-03'])
  })

  test('rows where the predicate is NULL stay; no match commits nothing', async () => {
    const table = join(tempDir(), 't')
    await createTable({
      path: table,
      source: { query: 'select * from (values (1, 5), (2, null)) v(id, x)' },
    })
    const none = await deleteWhere({ path: table, where: 'x > 100' })
    expect(none).toMatchObject({ version: 0, skipped: true })
    await deleteWhere({ path: table, where: 'x > 1' })
    expect(await readRows(table, 'id')).toEqual([{ id: 2, x: null }])
  })

  test('a bad predicate is VALIDATION_FAILED naming it, table unchanged', async () => {
    const table = await events()
    const before = hashTree(table)
    await expect(deleteWhere({ path: table, where: 'nope > 1' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('nope > 1'),
    })
    expect(hashTree(table)).toEqual(before)
  })
})

describe('checkpoints and vacuum', () => {
  test('a checkpoint every 10 commits gives the same state as replaying the JSON', async () => {
    const table = await events([])
    for (let i = 0; i < 10; i++)
      await appendTable({ path: table, source: { rows: rows(100 + i, 101 + i) } })
    await deleteWhere({ path: table, where: 'id = 3' })
    const log = join(table, '_delta_log')
    expect(existsSync(join(log, `${'10'.padStart(20, '0')}.checkpoint.parquet`))).toBe(true)
    expect(JSON.parse(readFileSync(join(log, '_last_checkpoint'), 'utf8'))).toMatchObject({
      version: 10,
      numOfAddFiles: 11,
    })
    const withCheckpoint = await loadSnapshot(table)
    expect(withCheckpoint.checkpointVersion).toBe(10)
    const copy = join(tempDir(), 'copy')
    cpSync(table, copy, { recursive: true })
    rmSync(join(copy, '_delta_log', `${'10'.padStart(20, '0')}.checkpoint.parquet`))
    rmSync(join(copy, '_delta_log', '_last_checkpoint'))
    const replayed = await loadSnapshot(copy)
    expect(replayed.checkpointVersion).toBeUndefined()
    const paths = (s: typeof replayed) => s.files.map((f) => f.path).sort()
    expect(paths(withCheckpoint)).toEqual(paths(replayed))
    for (const key of ['id', 'schemaString', 'partitionColumns', 'configuration'] as const)
      expect(withCheckpoint.metadata[key]).toEqual(replayed.metadata[key])
    expect(await readRows(table, 'id')).toHaveLength(18)
  })

  test('delta.checkpointInterval decides the interval; checkpoint() writes one on demand', async () => {
    const table = join(tempDir(), 't')
    await createTable({
      path: table,
      source: { rows: rows(0, 1) },
      properties: { 'delta.checkpointInterval': '2' },
    })
    await appendTable({ path: table, source: { rows: rows(1, 2) } })
    await appendTable({ path: table, source: { rows: rows(2, 3) } })
    const names = readdirSync(join(table, '_delta_log'))
    expect(names).toContain(`${'2'.padStart(20, '0')}.checkpoint.parquet`)
    await appendTable({ path: table, source: { rows: rows(3, 4) } })
    const cp = await checkpoint(table)
    expect(cp).toMatchObject({ version: 3, numOfAddFiles: 4 })
    expect((await loadSnapshot(table)).checkpointVersion).toBe(3)
  })

  test('vacuum: dryRun lists, short retention refused, never deletes live files', async () => {
    const table = await events()
    await overwriteTable({ path: table, source: { rows: rows(50, 53) } })
    const old = (Date.now() - 10 * 24 * 3_600_000) / 1000
    const before = await loadSnapshot(table, { version: 0 })
    for (const f of before.files) utimesSync(join(table, f.path), old, old)
    // Tombstones are younger than 7 days: nothing to delete yet.
    expect((await vacuum({ path: table, dryRun: true })).files).toEqual([])
    await expect(vacuum({ path: table, retentionHours: 0 })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('delta.deletedFileRetentionDuration'),
    })
    const live = await loadSnapshot(table)
    for (const f of live.files) utimesSync(join(table, f.path), old, old)
    const dry = await vacuum({ path: table, retentionHours: 0, force: true, dryRun: true })
    expect([...dry.files].sort()).toEqual(
      before.files.map((f) => decodeURIComponent(f.path)).sort(),
    )
    for (const f of before.files) expect(existsSync(join(table, f.path))).toBe(true)
    const done = await vacuum({ path: table, retentionHours: 0, force: true })
    expect(done.metrics.numDeletedFiles).toBe(3)
    for (const f of before.files) expect(existsSync(join(table, f.path))).toBe(false)
    expect(await readRows(table, 'id')).toHaveLength(3)
  })
})

describe('table rules the writer keeps', () => {
  test('an empty table from a schema; appends then fill it', async () => {
    const table = join(tempDir(), 't')
    await createTable({
      path: table,
      schema: {
        type: 'struct',
        fields: [
          { name: 'id', type: 'long', nullable: false, metadata: {} },
          { name: 'tag', type: 'string', nullable: true, metadata: {} },
        ],
      },
    })
    expect((await loadSnapshot(table)).files).toEqual([])
    expect(commitsOf(table)[0]?.[0]?.commitInfo).toMatchObject({ operation: 'CREATE TABLE' })
    await expect(
      appendTable({ path: table, source: { rows: [{ tag: 'x' }] } }),
    ).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining('"id" is NOT NULL in the table but missing'),
    })
    await appendTable({ path: table, source: { rows: [{ id: 1 }] } })
    expect(await readRows(table, 'id')).toEqual([{ id: 1, tag: null }])
    expectValidLog(table)
  })

  test('delta.appendOnly tables accept appends and refuse delete and overwrite', async () => {
    const table = join(tempDir(), 't')
    await createTable({
      path: table,
      source: { rows: rows(0, 2) },
      properties: { 'delta.appendOnly': 'true' },
    })
    await appendTable({ path: table, source: { rows: rows(2, 3) } })
    const before = hashTree(table)
    await expect(deleteWhere({ path: table, where: 'id = 1' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('append-only (delta.appendOnly=true)'),
    })
    await expect(
      overwriteTable({ path: table, source: { rows: rows(5, 6) } }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(hashTree(table)).toEqual(before)
  })

  test('column invariants (delta.invariants) are enforced on every written row', async () => {
    const table = join(tempDir(), 't')
    await createTable({
      path: table,
      schema: {
        type: 'struct',
        fields: [
          {
            name: 'x',
            type: 'integer',
            nullable: true,
            metadata: { 'delta.invariants': '{"expression": { "expression": "x > 3"} }' },
          },
        ],
      },
    })
    const before = hashTree(table)
    await expect(
      appendTable({
        path: table,
        source: { query: 'select * from (values (5), (2), (NULL)) v(x)' },
      }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('2 row(s) violate the invariant of column "x": x > 3'),
    })
    expect(hashTree(table)).toEqual(before)
    await appendTable({ path: table, source: { query: 'select 7 as x' } })
    expect(await readRows(table, 'x')).toEqual([{ x: 7 }])
  })

  test('unknown delta.* properties are refused at create, naming them', async () => {
    const table = join(tempDir(), 't')
    await expect(
      createTable({
        path: table,
        source: { rows: rows(0, 1) },
        properties: { 'delta.enableDeletionVectors': 'true' },
      }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      message: expect.stringContaining('delta.enableDeletionVectors'),
    })
    expect(existsSync(table)).toBe(false)
  })
})

describe('vacuum leftovers and stats columns', () => {
  test("removes a killed writer's orphan data file and commit temp, never live files", async () => {
    const table = await events()
    const old = (Date.now() - 2 * 3_600_000) / 1000
    writeFileSync(join(table, 'part-00000-orphan-c000.zstd.parquet'), 'x')
    mkdirSync(join(table, '_delta_log', '.tmp'), { recursive: true })
    writeFileSync(join(table, '_delta_log', '.tmp', '00000000000000000001.json.x.tmp'), '{}')
    utimesSync(join(table, 'part-00000-orphan-c000.zstd.parquet'), old, old)
    utimesSync(join(table, '_delta_log', '.tmp', '00000000000000000001.json.x.tmp'), old, old)
    const live = await loadSnapshot(table)
    for (const f of live.files) utimesSync(join(table, f.path), old, old)
    const result = await vacuum({ path: table, retentionHours: 1, force: true })
    expect(result.files).toEqual([
      '_delta_log/.tmp/00000000000000000001.json.x.tmp',
      'part-00000-orphan-c000.zstd.parquet',
    ])
    expect(await readRows(table, 'id')).toHaveLength(9)
  })

  test("removes a killed writer's staging folder, not only its files; a young one stays", async () => {
    const table = await events()
    const old = (Date.now() - 8 * 24 * 3_600_000) / 1000
    const leftover = join(table, '.duckmerge-staging-killed')
    mkdirSync(join(leftover, 'day=2024-01-01'), { recursive: true })
    writeFileSync(join(leftover, 'day=2024-01-01', 'part-x.parquet'), 'x')
    utimesSync(join(leftover, 'day=2024-01-01', 'part-x.parquet'), old, old)
    utimesSync(join(leftover, 'day=2024-01-01'), old, old)
    utimesSync(leftover, old, old)
    // A running writer's staging folder: just made, still empty.
    const running = join(table, '.duckmerge-staging-running')
    mkdirSync(running)
    const dry = await vacuum({ path: table, dryRun: true })
    expect(dry.files).toEqual(['.duckmerge-staging-killed/day=2024-01-01/part-x.parquet'])
    expect(existsSync(leftover)).toBe(true)
    await vacuum({ path: table })
    expect(existsSync(leftover)).toBe(false)
    expect(existsSync(running)).toBe(true)
    expect(await readRows(table, 'id')).toHaveLength(9)
  })

  test('delta.dataSkippingNumIndexedCols limits the columns with stats', async () => {
    const table = join(tempDir(), 't')
    await createTable({
      path: table,
      source: { rows: rows(0, 3) },
      properties: { 'delta.dataSkippingNumIndexedCols': '1' },
    })
    await appendTable({ path: table, source: { rows: rows(3, 4) } })
    for (const f of (await loadSnapshot(table)).files)
      expect(Object.keys(JSON.parse(f.stats ?? '{}').nullCount)).toEqual(['id'])
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('tables written by Spark and delta-rs'), () => {
  test('appends to delta-0.2.0 and sees its streaming txn', async () => {
    const table = join(tempDir(), 't')
    cpSync(fixture('delta', 'delta-0.2.0'), table, { recursive: true })
    expect(await lastTxnVersion(table, 'e4a20b59-dd0e-4c50-b074-e8ae4786df30')).toBe(0)
    const skipped = await appendTable({
      path: table,
      source: { query: 'select 9::int as value' },
      txn: { appId: 'e4a20b59-dd0e-4c50-b074-e8ae4786df30', version: 0 },
    })
    expect(skipped.skipped).toBe(true)
    const result = await appendTable({ path: table, source: { query: 'select 9::int as value' } })
    expect(result.version).toBe(4)
    expect((await readRows(table, 'value')).map((r) => r.value)).toEqual([1, 1, 2, 2, 3, 3, 9])
  })

  test('deleting from a table with deletion vectors rewrites the file without the deleted rows', async () => {
    const table = join(tempDir(), 't')
    cpSync(fixture('delta', 'table-with-dv-small'), table, { recursive: true })
    const result = await deleteWhere({ path: table, where: 'value = 5' })
    expect(result.metrics).toMatchObject({ numDeletedRows: 1, numCopiedRows: 7 })
    expect((await readRows(table, 'value')).map((r) => r.value)).toEqual([1, 2, 3, 4, 6, 7, 8])
    const remove = commitsOf(table)[2]?.find((a) => 'remove' in a)?.remove as Record<
      string,
      unknown
    >
    expect(remove.deletionVector).toMatchObject({ storageType: 'u', cardinality: 2 })
  })

  test('writes a column-mapped (name mode) table with physical names at every level', async () => {
    const table = join(tempDir(), 't')
    cpSync(fixture('delta', 'table-with-columnmapping-mode-name'), table, { recursive: true })
    // The same table on table features, with only columnMapping (the legacy 2/5 original is
    // written as it is in delta-write-protocol.test.ts).
    const first = join(table, '_delta_log', `${'0'.padStart(20, '0')}.json`)
    writeFileSync(
      first,
      readFileSync(first, 'utf8').replace(
        '{"protocol":{"minReaderVersion":2,"minWriterVersion":5}}',
        '{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["columnMapping"],"writerFeatures":["columnMapping"]}}',
      ),
    )
    const before = await loadSnapshot(table)
    expect(before.protocol.minWriterVersion).toBe(7)
    // Append the table's own rows (nested structs, arrays of structs, maps of structs).
    await appendTable({ path: table, source: { query: scanSql(before) } })
    const after = await loadSnapshot(table)
    const added = after.files.filter((f) => !before.files.some((b) => b.path === f.path))
    expect(added).toHaveLength(1)
    const db = await DuckDb.open()
    try {
      const names = await db.all<{ name: string }>(
        sql`select name from parquet_schema(${join(table, added[0]?.path ?? '')})`,
      )
      const physical = before.schema.fields.map(
        (f) => f.metadata['delta.columnMapping.physicalName'],
      )
      for (const p of physical) expect(names.map((n) => n.name)).toContain(p)
      expect(names.map((n) => n.name)).not.toContain('IntegerType')
      // Nested struct fields too (nested_struct.aa, .ac.aca; array_of_structs[].ab; …).
      for (const logical of ['aa', 'ac', 'aca', 'ab'])
        expect(names.map((n) => n.name)).not.toContain(logical)
      const stats = JSON.parse(added[0]?.stats ?? '{}')
      expect(Object.keys(stats.nullCount)).toContain(String(physical[2]))
      const rows = await db.allJson(
        sql`select IntegerType, nested_struct, array_of_structs, map_of_rows from (${scanSql(after)}) order by IntegerType nulls last`,
      )
      expect(rows).toHaveLength(12)
      expect(rows[0]).toEqual(rows[1]) // each original row and its copy read back the same
      expect(rows[2]).toEqual(rows[3])
      expect(rows[10]).toEqual(rows[11])
    } finally {
      db.close()
    }
    await deleteWhere({ path: table, where: 'IntegerType = 1' })
    expect(await readRows(table, 'IntegerType')).toHaveLength(10)
    await expect(
      appendTable({ path: table, source: { query: 'select 1 as brand_new' }, mergeSchema: true }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      message: expect.stringContaining('columnMapping'),
    })
  })

  test('refuses tables it cannot write, naming the feature or version', async () => {
    for (const [name, pattern] of [
      ['checkpoint-cdf-table', /changeDataFeed \(delta\.enableChangeDataFeed=true\)/],
      ['deltalog-invalid-protocol-version', /reader version 99/],
    ] as const) {
      const table = join(tempDir(), name)
      cpSync(fixture('delta', name), table, { recursive: true })
      const before = hashTree(table)
      await expect(
        appendTable({ path: table, source: { query: 'select 1 as x' } }),
      ).rejects.toMatchObject({
        code: 'UNSUPPORTED_FEATURE',
        message: expect.stringMatching(pattern),
      })
      expect(hashTree(table)).toEqual(before)
    }
  })

  test('an append to a Spark table keeps its schemaString as Spark wrote it', async () => {
    const table = join(tempDir(), 't')
    cpSync(fixture('delta', 'basic-decimal-table'), table, { recursive: true })
    const before = await loadSnapshot(table)
    await appendTable({
      path: table,
      source: {
        query:
          'select 1.5::decimal(12,5) as part, 1.25::decimal(5,2) as col1, 2.5::decimal(10,5) as col2, 3.5::decimal(20,10) as col3',
      },
    })
    const after = await loadSnapshot(table)
    expect(after.metadata.schemaString).toBe(before.metadata.schemaString)
    expect(parseSchema(after.metadata.schemaString)).toEqual(before.schema)
    const add = after.files.find((f) => f.partitionValues.part === '1.50000')
    expect(add).toBeDefined()
    expect(JSON.parse(add?.stats ?? '{}').minValues).toEqual({ col1: 1.25, col2: 2.5, col3: 3.5 })
    // Decimals keep their scale in the stats text, as Spark writes them (2.50000, not 2.5).
    expect(add?.stats).toContain('"minValues":{"col1":1.25,"col2":2.50000,"col3":3.5000000000}')
    expect(await readRows(table, 'col1')).toHaveLength(5)
  })
})
