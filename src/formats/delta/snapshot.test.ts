import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import { encodeZ85, serializeRoaringBitmapArray } from './deletion-vectors.js'
import { commitFileName } from './log-store.js'
import { loadSnapshot } from './snapshot.js'

const schema = (...names: string[]) =>
  JSON.stringify({
    type: 'struct',
    fields: names.map((name) => ({ name, type: 'long', nullable: true, metadata: {} })),
  })
const protocol = { protocol: { minReaderVersion: 1, minWriterVersion: 2 } }
const metaData = (configuration: Record<string, string> = {}, ...columns: string[]) => ({
  metaData: {
    id: 'test',
    format: { provider: 'parquet', options: {} },
    schemaString: schema(...(columns.length ? columns : ['id'])),
    partitionColumns: [],
    configuration,
    createdTime: 0,
  },
})
const add = (path: string, extra: Record<string, unknown> = {}) => ({
  add: { path, partitionValues: {}, size: 1, modificationTime: 0, dataChange: true, ...extra },
})
const remove = (path: string, extra: Record<string, unknown> = {}) => ({
  remove: { path, deletionTimestamp: 0, dataChange: true, ...extra },
})
const info = (timestamp: number, extra: Record<string, unknown> = {}) => ({
  commitInfo: { timestamp, operation: 'WRITE', ...extra },
})

/** A log-only table: one commit per entry of `commits`. */
function logTable(commits: readonly (readonly object[])[]): string {
  const dir = tempDir()
  mkdirSync(join(dir, '_delta_log'))
  commits.forEach((actions, version) => {
    const text = actions.map((a) => JSON.stringify(a)).join('\n')
    writeFileSync(join(dir, '_delta_log', commitFileName(version)), `${text}\n`)
  })
  return dir
}

function inlineDv(rows: readonly number[]) {
  const bitmap = serializeRoaringBitmapArray(rows)
  const padded = new Uint8Array(Math.ceil(bitmap.length / 4) * 4)
  padded.set(bitmap)
  return {
    storageType: 'i',
    pathOrInlineDv: encodeZ85(padded),
    sizeInBytes: bitmap.length,
    cardinality: rows.length,
  }
}

describe('loadSnapshot: action reconciliation (PROTOCOL.md)', () => {
  test('adds, removes and re-adds by path; the latest protocol and metaData win', async () => {
    const dir = logTable([
      [info(1), protocol, metaData(), add('a.parquet'), add('b.parquet')],
      [info(2), remove('a.parquet'), add('c.parquet')],
      [info(3), add('a.parquet'), metaData({ k: 'v' }, 'id', 'x')],
      [info(4), { protocol: { minReaderVersion: 1, minWriterVersion: 4 } }],
    ])
    const s = await loadSnapshot(dir)
    expect(s.version).toBe(3)
    expect(s.files.map((f) => f.path).sort()).toEqual(['a.parquet', 'b.parquet', 'c.parquet'])
    expect(s.tombstones).toEqual([])
    expect(s.metadata.configuration).toEqual({ k: 'v' })
    expect(s.schema.fields.map((f) => f.name)).toEqual(['id', 'x'])
    expect(s.protocol.minWriterVersion).toBe(4)
    expect(s.timestamp).toBe(4)
    const v1 = await loadSnapshot(dir, { version: 1 })
    expect(v1.files.map((f) => f.path).sort()).toEqual(['b.parquet', 'c.parquet'])
    expect(v1.tombstones.map((f) => f.path)).toEqual(['a.parquet'])
    expect(v1.timestamp).toBe(2)
  })

  test('file identity is path plus deletion vector; paths compare decoded', async () => {
    const dir = logTable([
      [protocol, metaData(), add('p%3D1/a.parquet')],
      // A DELETE with deletion vectors: the DV-less entry goes, the same path with a DV comes.
      [remove('p=1/a.parquet'), add('p%3D1/a.parquet', { deletionVector: inlineDv([3, 70_000]) })],
      // A later DELETE replaces the DV: remove names the old DV, add the new one.
      [
        remove('p%3D1/a.parquet', { deletionVector: inlineDv([3, 70_000]) }),
        add('p%3D1/a.parquet', { deletionVector: inlineDv([1, 3, 70_000]) }),
      ],
    ])
    const v1 = await loadSnapshot(dir, { version: 1 })
    expect(v1.files).toHaveLength(1)
    expect([...(v1.deletionVectors?.values() ?? [])]).toEqual([[3, 70_000]])
    const v2 = await loadSnapshot(dir)
    expect(v2.files).toHaveLength(1)
    expect(v2.tombstones).toHaveLength(2)
    expect([...(v2.deletionVectors?.values() ?? [])]).toEqual([[1, 3, 70_000]])
  })

  test('an inline deletion vector that does not decode is refused, never ignored', async () => {
    const bad = { storageType: 'i', pathOrInlineDv: 'abcde', sizeInBytes: 4, cardinality: 1 }
    const dir = logTable([[protocol, metaData(), add('a.parquet', { deletionVector: bad })]])
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringMatching(/inline deletion vector of a\.parquet is corrupt/),
    })
  })

  test('txn: latest version per appId; domainMetadata: latest per domain, removed dropped', async () => {
    const dir = logTable([
      [
        protocol,
        metaData(),
        { txn: { appId: 'a', version: 1 } },
        { domainMetadata: { domain: 'd1', configuration: '{"x":1}', removed: false } },
        { domainMetadata: { domain: 'd2', configuration: '{}', removed: false } },
      ],
      [
        { txn: { appId: 'a', version: 5 } },
        { txn: { appId: 'b', version: 0 } },
        { domainMetadata: { domain: 'd1', configuration: '{"x":2}', removed: false } },
        { domainMetadata: { domain: 'd2', configuration: '{}', removed: true } },
      ],
    ])
    const s = await loadSnapshot(dir)
    expect([...s.appTransactions.entries()].map(([k, t]) => [k, t.version])).toEqual([
      ['a', 5],
      ['b', 0],
    ])
    expect([...s.domainMetadata.keys()]).toEqual(['d1'])
    expect(s.domainMetadata.get('d1')?.configuration).toBe('{"x":2}')
  })

  test('cdc actions do not change the live files', async () => {
    const dir = logTable([
      [protocol, metaData(), add('a.parquet')],
      [
        {
          cdc: { path: '_change_data/c.parquet', partitionValues: {}, size: 1, dataChange: false },
        },
      ],
    ])
    expect((await loadSnapshot(dir)).files.map((f) => f.path)).toEqual(['a.parquet'])
  })

  test('a negative or fractional version is a usage error', async () => {
    const dir = logTable([[protocol, metaData()]])
    await expect(loadSnapshot(dir, { version: -1 })).rejects.toMatchObject({ code: 'USAGE' })
    await expect(loadSnapshot(dir, { version: 0.5 })).rejects.toMatchObject({ code: 'USAGE' })
  })

  test('a log without metaData is DELTA_LOG_INVALID', async () => {
    const dir = logTable([[protocol, add('a.parquet')]])
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'DELTA_LOG_INVALID',
      message: expect.stringMatching(/no metaData action/),
    })
  })

  test('an unknown reader feature is refused by name', async () => {
    const dir = logTable([
      [
        {
          protocol: {
            minReaderVersion: 3,
            minWriterVersion: 7,
            readerFeatures: ['variantType'],
            writerFeatures: ['variantType'],
          },
        },
        metaData(),
      ],
    ])
    await expect(loadSnapshot(dir)).rejects.toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      message: expect.stringMatching(
        /and reader feature variantType, which duckmerge does not implement/,
      ),
    })
  })
})

describe('loadSnapshot: time travel by timestamp', () => {
  test('file mtimes by default; made monotonic', async () => {
    const dir = logTable([[info(999), protocol, metaData()], [info(999)], [info(999)]])
    // mtimes 1000, 3000, 2000 (out of order): version 2 counts as 3001.
    for (const [v, ms] of [1000, 3000, 2000].entries())
      utimesSync(join(dir, '_delta_log', commitFileName(v)), ms / 1000, ms / 1000)
    expect((await loadSnapshot(dir, { timestamp: 1000 })).version).toBe(0)
    expect((await loadSnapshot(dir, { timestamp: 2500 })).version).toBe(0)
    expect((await loadSnapshot(dir, { timestamp: 3000 })).version).toBe(1)
    expect((await loadSnapshot(dir, { timestamp: 3001 })).version).toBe(2)
    expect((await loadSnapshot(dir, { timestamp: new Date(5000).toISOString() })).version).toBe(2)
    await expect(loadSnapshot(dir, { timestamp: 999 })).rejects.toMatchObject({
      code: 'VERSION_NOT_FOUND',
    })
    await expect(loadSnapshot(dir, { timestamp: 'yesterday' })).rejects.toMatchObject({
      code: 'USAGE',
    })
  })

  test('in-commit timestamps from their enablement version on', async () => {
    const dir = logTable([
      [info(10), protocol, metaData()],
      [
        info(20, { inCommitTimestamp: 5_000 }),
        metaData({
          'delta.enableInCommitTimestamps': 'true',
          'delta.inCommitTimestampEnablementVersion': '1',
        }),
      ],
      [info(30, { inCommitTimestamp: 6_000 })],
    ])
    utimesSync(join(dir, '_delta_log', commitFileName(0)), 1, 1) // 1000 ms
    for (const v of [1, 2]) utimesSync(join(dir, '_delta_log', commitFileName(v)), 9, 9)
    expect((await loadSnapshot(dir, { timestamp: 1_500 })).version).toBe(0)
    expect((await loadSnapshot(dir, { timestamp: 5_000 })).version).toBe(1)
    expect((await loadSnapshot(dir, { timestamp: 6_000 })).version).toBe(2)
    expect((await loadSnapshot(dir)).timestamp).toBe(6_000)
  })
})
