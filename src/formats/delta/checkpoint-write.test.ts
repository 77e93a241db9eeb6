import { cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { fixture, hasFixtures, needsFixtures } from '../../../test/support/fixtures.js'
import { tempDir } from '../../../test/support/temp.js'
import { DuckDb } from '../../engine/duckdb.js'
import { sql } from '../../engine/sql.js'
import { retentionMs, writeCheckpoint } from './checkpoint-write.js'
import { appendTable } from './operations/append.js'
import { createTable } from './operations/create.js'
import { deleteWhere } from './operations/delete.js'
import { loadSnapshot } from './snapshot.js'

async function schemaOf(db: DuckDb, file: string): Promise<Map<string, string>> {
  // Leaf paths (parent.child) → physical type and repetition, as a Parquet reader sees them.
  const rows = await db.all<{
    name: string
    type: string | null
    rep: string
    kids: bigint | null
  }>(
    sql`select name, type, repetition_type as rep, num_children as kids from parquet_schema(${file})`,
  )
  const out = new Map<string, string>()
  const stack: { name: string; left: number }[] = []
  for (const row of rows.slice(1)) {
    while (stack.length > 0 && (stack.at(-1)?.left ?? 0) === 0) stack.pop()
    const top = stack.at(-1)
    if (top) top.left--
    const path = [...stack.map((s) => s.name), row.name].join('.')
    out.set(path, `${row.type ?? 'group'}/${row.rep}`)
    if (row.kids) stack.push({ name: row.name, left: Number(row.kids) })
  }
  return out
}

describe('writeCheckpoint', () => {
  test('holds protocol, metaData, txn, live adds (dataChange false) and tombstones without stats', async () => {
    const table = join(tempDir(), 't')
    await createTable({ path: table, source: { query: 'select range as id from range(4)' } })
    await appendTable({
      path: table,
      source: { query: 'select 9 as id' },
      txn: { appId: 'job', version: 2 },
    })
    await deleteWhere({ path: table, where: 'id = 9' })
    const snapshot = await loadSnapshot(table)
    const cp = await writeCheckpoint(snapshot)
    expect(cp).toMatchObject({ version: 2, size: 5, numOfAddFiles: 1 })
    const last = JSON.parse(readFileSync(join(table, '_delta_log', '_last_checkpoint'), 'utf8'))
    expect(last).toEqual({ version: 2, size: 5, sizeInBytes: cp.sizeInBytes, numOfAddFiles: 1 })
    const db = await DuckDb.open()
    try {
      const rows = await db.allJson<{ j: string }>(
        sql`select to_json(c) as j from read_parquet(${cp.path}) c`,
      )
      const actions = rows.map(
        (r) => JSON.parse(r.j) as Record<string, Record<string, unknown> | null>,
      )
      const of = (kind: string) => actions.flatMap((a) => (a[kind] ? [a[kind]] : []))
      expect(of('protocol')).toEqual([
        { minReaderVersion: 1, minWriterVersion: 2, readerFeatures: null, writerFeatures: null },
      ])
      expect(of('metaData')).toHaveLength(1)
      expect(of('txn')).toMatchObject([{ appId: 'job', version: 2 }])
      expect(of('add')).toMatchObject([{ dataChange: false, partitionValues: {} }])
      expect(JSON.parse(String(of('add')[0]?.stats)).numRecords).toBe(4)
      const removes = of('remove')
      expect(removes).toHaveLength(1)
      expect(removes[0]).not.toHaveProperty('stats')
      expect(removes[0]).toMatchObject({ dataChange: false })
    } finally {
      db.close()
    }
    // The reader starts from it and sees the same state as the JSON replay.
    const again = await loadSnapshot(table)
    expect(again.checkpointVersion).toBe(2)
    expect(again.files.map((f) => f.path)).toEqual(snapshot.files.map((f) => f.path))
    expect(again.appTransactions.get('job')?.version).toBe(2)
  })

  test('tombstones older than delta.deletedFileRetentionDuration are dropped', async () => {
    const table = join(tempDir(), 't')
    await createTable({ path: table, source: { query: 'select 1 as id' } })
    await deleteWhere({ path: table })
    const snapshot = await loadSnapshot(table)
    const inEightDays = Date.now() + 8 * 86_400_000
    expect((await writeCheckpoint(snapshot, { now: inEightDays })).size).toBe(2)
    expect((await writeCheckpoint(snapshot)).size).toBe(3)
  })

  test.skipIf(!hasFixtures)(
    `its Parquet schema matches a Spark-written checkpoint column for column${hasFixtures ? '' : needsFixtures('')}`,
    async () => {
      const table = join(tempDir(), 't')
      await createTable({ path: table, source: { query: 'select 1 as id' } })
      const cp = await writeCheckpoint(await loadSnapshot(table))
      const spark = fixture(
        'delta',
        'with_checkpoint_no_last_checkpoint',
        '_delta_log',
        '00000000000000000002.checkpoint.parquet',
      )
      const db = await DuckDb.open()
      try {
        const ours = await schemaOf(db, cp.path)
        const theirs = await schemaOf(db, spark)
        // Every column Spark writes, we write with the same physical type and repetition (remove
        // stats/tags aside: PROTOCOL.md keeps them out of checkpoint tombstones).
        for (const [path, shape] of theirs) {
          if (/^remove\.tags/.test(path)) continue
          expect(ours.get(path), path).toBe(shape)
        }
      } finally {
        db.close()
      }
    },
  )
})

describe.skipIf(!hasFixtures)(`v2Checkpoint tables${hasFixtures ? '' : needsFixtures('')}`, () => {
  test('get a V2-spec checkpoint under the classic name, which the reader starts from', async () => {
    const table = join(tempDir(), 't')
    cpSync(fixture('delta', 'v2-checkpoint-parquet'), table, { recursive: true })
    await appendTable({ path: table, source: { query: 'select 42::bigint as id' } })
    const cp = await writeCheckpoint(await loadSnapshot(table))
    expect(cp.version).toBe(3)
    const db = await DuckDb.open()
    try {
      const meta = await db.all<{ v: bigint }>(
        sql`select checkpointMetadata.version as v from read_parquet(${cp.path}) where checkpointMetadata is not null`,
      )
      expect(meta.map((m) => Number(m.v))).toEqual([3])
    } finally {
      db.close()
    }
    const snapshot = await loadSnapshot(table)
    expect(snapshot.checkpointVersion).toBe(3)
    expect(snapshot.files).toHaveLength(cp.numOfAddFiles)
  })
})

describe('retentionMs', () => {
  test.each([
    ['interval 7 days', 7 * 86_400_000],
    ['interval 1 week', 7 * 86_400_000],
    ['168 hours', 168 * 3_600_000],
    ['interval 30 minutes', 1_800_000],
  ])('%s', (text, ms) => expect(retentionMs(text, 0)).toBe(ms))

  test('an unreadable interval names the value', () => {
    expect(() => retentionMs('soon', 0)).toThrow('Cannot read the Delta interval "soon"')
  })
})
