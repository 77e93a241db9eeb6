/** Staging backfill through the CLI and the library: the acceptance cases, then every failure path. */
import { cpSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { backfill, loadSnapshot, readCommit } from '../../src/formats/delta/index.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { createTable, readRows } from './delta-merge.helpers.js'

const URL = 'https://ct.example/log'

/** Certificate rows of the given indexes (source_url, cert_index, domain). */
function certs(indexes: readonly number[], domain = 'd') {
  return raw(
    `select '${URL}' as source_url, i::bigint as cert_index, '${domain}' || i as domain from unnest([${indexes.join(',')}]::bigint[]) t(i)`,
  )
}

async function tables(mainIdx: number[] | null, stagingIdx: number[] | null) {
  const dir = tempDir()
  const main = join(dir, 'main')
  const staging = join(dir, 'staging')
  if (mainIdx) await createTable(main, [certs(mainIdx)])
  if (stagingIdx) await createTable(staging, [certs(stagingIdx, 'new')])
  return { dir, main, staging }
}

async function indexes(main: string): Promise<number[]> {
  // BIGINT comes back as a JSON-safe string.
  const rows = await readRows<{ cert_index: string }>(main, 'cert_index')
  return rows.map((r) => Number(r.cert_index))
}

const keys = ['--keys', 'source_url,cert_index']

/** `duckmerge delta backfill --main MAIN --staging STAGING --keys source_url,cert_index …extra` */
function backfillCli(main: string, staging: string, ...extra: string[]) {
  return runCli(['delta', 'backfill', '--main', main, '--staging', staging, ...keys, ...extra])
}

describe('delta backfill acceptance', () => {
  test('AC3.1 inserts the staging rows whose key main lacks (10,11,12 + 13,14,15 = 10..15)', async () => {
    const { main, staging } = await tables([10, 11, 12], [13, 14, 15])
    const run = backfillCli(main, staging, '--json')
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({ rowsInserted: 3, rowsSkipped: 0, duplicatesInStaging: 0 })
    expect(await indexes(main)).toEqual([10, 11, 12, 13, 14, 15])
  })

  test('AC3.2 skips staging rows whose key is already in main (11,12,13 gives 10..13)', async () => {
    const { main, staging } = await tables([10, 11, 12], [11, 12, 13])
    const run = backfillCli(main, staging, '--json')
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({ rowsInserted: 1, rowsSkipped: 2 })
    const rows = await readRows<{ cert_index: string; domain: string }>(main, 'cert_index')
    expect(rows.map((r) => [Number(r.cert_index), r.domain])).toEqual([
      [10, 'd10'],
      [11, 'd11'],
      [12, 'd12'],
      [13, 'new13'],
    ])
  })

  test('AC3.3 running twice with the same staging data leaves main identical', async () => {
    const { dir, main, staging } = await tables([10, 11, 12], [11, 12, 13, 14])
    const copy = join(dir, 'staging-copy')
    cpSync(staging, copy, { recursive: true })
    expect(backfillCli(main, staging).code).toBe(0)
    const once = hashTree(main)
    cpSync(copy, staging, { recursive: true })
    const again = backfillCli(main, staging, '--json')
    expect(again.code).toBe(0)
    expect(again.json()).toMatchObject({ rowsInserted: 0, rowsSkipped: 4 })
    expect(hashTree(main)).toEqual(once)
    expect(await indexes(main)).toEqual([10, 11, 12, 13, 14])
  })

  test('AC3.4 deletes the staging directory after success, or moves it under --archive', async () => {
    const first = await tables([10], [11])
    expect(backfillCli(first.main, first.staging).code).toBe(0)
    expect(existsSync(first.staging)).toBe(false)

    const second = await tables([10], [11])
    const archive = join(second.dir, 'archive')
    const run = backfillCli(second.main, second.staging, '--archive', archive, '--json')
    expect(run.code).toBe(0)
    expect(existsSync(second.staging)).toBe(false)
    expect(existsSync(join(archive, 'staging', '_delta_log'))).toBe(true)
    expect(run.json()).toMatchObject({
      stagingAfter: 'archived',
      archivedTo: join(archive, 'staging'),
    })
  })

  test('AC3.5 exits 0 and reports inserted and skipped rows per batch and in total', async () => {
    const { main, staging } = await tables([10, 11, 12], [11, 12, 13, 14, 15])
    const run = backfillCli(main, staging, '--batch-rows', '2', '--json')
    expect(run.code).toBe(0)
    const report = run.json<Record<string, unknown>>()
    expect(report).toMatchObject({
      rowsInserted: 3,
      rowsSkipped: 2,
      duplicatesInStaging: 0,
      batches: 3,
      perBatch: [
        { batch: 0, rowsInserted: 0, rowsSkipped: 2, version: null },
        { batch: 1, rowsInserted: 2, rowsSkipped: 0, version: 1 },
        { batch: 2, rowsInserted: 1, rowsSkipped: 0, version: 2 },
      ],
    })
    expect(typeof report.durationMs).toBe('number')

    const text = await tables([10], [11, 12, 13])
    const plain = backfillCli(text.main, text.staging, '--batch-rows', '2')
    expect(plain.code).toBe(0)
    expect(plain.stderr).toContain('backfill: batch 1/2: +2 inserted, 0 skipped (version 1)')
    expect(plain.stderr).toContain('backfill: batch 2/2: +1 inserted, 0 skipped (version 2)')
    expect(plain.stdout).toContain('+3 inserted, 0 skipped')
  })
})

describe('delta backfill details', () => {
  test('each batch commits its rows with a txn whose version is the batch number', async () => {
    const { main, staging } = await tables([10], [11, 12, 13])
    const report = await backfill({
      ours: main,
      theirs: staging,
      key: ['source_url', 'cert_index'],
      batchRows: 2,
    })
    const snapshot = await loadSnapshot(main)
    expect(snapshot.appTransactions.get(report.appId ?? '')?.version).toBe(1)
    const v1 = await readCommit(main, 1)
    expect(v1.filter((a) => 'remove' in a)).toHaveLength(0)
    expect(v1.find((a) => 'txn' in a)).toMatchObject({ txn: { appId: report.appId, version: 0 } })
  })

  test('two staging rows with one key: the first by file and row position is inserted', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(main, [certs([10])])
    // Two files in staging, both holding key 11; createTable writes them in this order.
    await createTable(staging, [certs([11, 12], 'first'), certs([11], 'second')])
    const snapshot = await loadSnapshot(staging)
    const firstPath = [...snapshot.files].map((f) => f.path).sort()[0] ?? ''
    const report = await backfill({
      ours: main,
      theirs: staging,
      key: ['source_url', 'cert_index'],
    })
    expect(report).toMatchObject({ rowsInserted: 2, duplicatesInStaging: 1 })
    const rows = await readRows<{ cert_index: string; domain: string }>(main, 'cert_index')
    const winner = snapshot.files
      .find((f) => f.path === firstPath)
      ?.stats?.includes('"numRecords":2')
      ? 'first11'
      : 'second11'
    expect(rows.filter((r) => r.cert_index === '11').map((r) => r.domain)).toEqual([winner])
  })

  test('progress is reported through onProgress, one step per batch', async () => {
    const { main, staging } = await tables([10], [11, 12, 13])
    const seen: string[] = []
    await backfill({
      ours: main,
      theirs: staging,
      key: ['source_url', 'cert_index'],
      batchRows: 1,
      onProgress: (p) => {
        if (p.unit === 'batches') seen.push(`${p.done}/${p.total}`)
      },
    })
    expect(seen).toEqual(['1/3', '2/3', '3/3'])
  })
})

describe('delta backfill edge cases', () => {
  test('a folder of Parquet files works as staging', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(main, [certs([10, 11])])
    mkdirSync(staging)
    await withDuckDb({}, async (db) => {
      await db.run(
        sql`copy (${certs([11, 12], 'new')}) to ${literal(join(staging, 'a.parquet'))} (format parquet)`,
      )
      await db.run(
        sql`copy (${certs([13], 'new')}) to ${literal(join(staging, 'b.parquet'))} (format parquet)`,
      )
    })
    const report = await backfill({
      ours: main,
      theirs: staging,
      key: ['source_url', 'cert_index'],
    })
    expect(report).toMatchObject({ rowsInserted: 2, rowsSkipped: 1, stagingAfter: 'deleted' })
    expect(await indexes(main)).toEqual([10, 11, 12, 13])
  })

  test('NULL keys match NULL keys, so a re-run does not insert them again', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(main, [certs([10])])
    const withNull = raw(
      `select null::varchar as source_url, 5::bigint as cert_index, 'n' as domain`,
    )
    await createTable(staging, [withNull])
    const copy = join(dir, 'copy')
    cpSync(staging, copy, { recursive: true })
    expect(
      (await backfill({ ours: main, theirs: staging, key: ['source_url', 'cert_index'] }))
        .rowsInserted,
    ).toBe(1)
    cpSync(copy, staging, { recursive: true })
    const again = await backfill({ ours: main, theirs: staging, key: ['source_url', 'cert_index'] })
    expect(again).toMatchObject({ rowsInserted: 0, rowsSkipped: 1 })
    expect(await indexes(main)).toEqual([5, 10])
  })

  test('duplicates across several batches: one row per key, batches stay whole', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(main, [certs([1])])
    await createTable(staging, [certs([1, 2, 3, 4, 5], 'a'), certs([2, 4, 6], 'b')])
    const report = await backfill({
      ours: main,
      theirs: staging,
      key: ['source_url', 'cert_index'],
      batchRows: 2,
    })
    expect(report).toMatchObject({
      rowsInserted: 5,
      rowsSkipped: 1,
      duplicatesInStaging: 2,
      batches: 3,
    })
    expect(report.perBatch.map((b) => b.rowsInserted + b.rowsSkipped)).toEqual([2, 2, 2])
    expect(await indexes(main)).toEqual([1, 2, 3, 4, 5, 6])
  })
})

describe('delta backfill failure paths', () => {
  test('missing staging: nothing to merge, exit 0, main untouched', async () => {
    const { main, staging } = await tables([10], null)
    const before = hashTree(main)
    const run = backfillCli(main, staging)
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('nothing to merge')
    expect(hashTree(main)).toEqual(before)
  })

  test('empty staging folder: nothing to merge, exit 0, main untouched', async () => {
    const { main, staging } = await tables([10], null)
    mkdirSync(staging)
    const before = hashTree(main)
    const run = backfillCli(main, staging, '--json')
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({ merged: false, rowsInserted: 0 })
    expect(hashTree(main)).toEqual(before)
  })

  test('staging table with no rows: nothing to merge', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(main, [certs([10])])
    await createTable(staging, [raw(`select * from (${certs([1]).text}) where false`)])
    const report = await backfill({
      ours: main,
      theirs: staging,
      key: ['source_url', 'cert_index'],
    })
    expect(report.merged).toBe(false)
    expect(existsSync(staging)).toBe(true)
  })

  test('missing main: created with staging schema and partitioning', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(staging, [certs([1, 2, 2])], { partitionColumns: ['source_url'] })
    const run = backfillCli(main, staging, '--json')
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({ created: true, rowsInserted: 2, duplicatesInStaging: 1 })
    const snapshot = await loadSnapshot(main)
    expect(snapshot.partitionColumns).toEqual(['source_url'])
    expect(snapshot.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'source_url:string',
      'cert_index:long',
      'domain:string',
    ])
    expect(await indexes(main)).toEqual([1, 2])
  })

  // --json says the side in the command's words (its flags); the library's details say ours/theirs.
  test.each([
    { side: 'staging', column: 'cert_index' },
    { side: 'main', column: 'cert_index' },
  ])('key column missing in $side is KEY_COLUMN_MISSING naming it', async ({ side }) => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    const without = raw(`select '${URL}' as source_url, 'x' as domain`)
    await createTable(main, [side === 'main' ? without : certs([10])])
    await createTable(staging, [side === 'staging' ? without : certs([11])])
    const before = { main: hashTree(main), staging: hashTree(staging) }
    const run = backfillCli(main, staging, '--json')
    expect(run.code).toBe(1)
    expect(run.json()).toMatchObject({
      error: { code: 'KEY_COLUMN_MISSING', details: { column: 'cert_index', side } },
    })
    expect(run.stderr).toContain(
      `key column "cert_index" is missing in ${join(dir, side)} (columns: source_url, domain)`,
    )
    expect(run.stderr).toContain('Set --keys to columns both tables have.')
    expect({ main: hashTree(main), staging: hashTree(staging) }).toEqual(before)
  })

  test('schema mismatch is SCHEMA_MISMATCH listing the differences; nothing changes', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(main, [certs([10])])
    await createTable(staging, [
      raw(`select '${URL}' as source_url, 11::integer as cert_index, 1 as extra`),
    ])
    const before = { main: hashTree(main), staging: hashTree(staging) }
    const run = backfillCli(main, staging)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('[SCHEMA_MISMATCH]')
    expect(run.stderr).toContain(`"cert_index" is integer in ${staging} but long in ${main}`)
    expect(run.stderr).toContain(`"domain" (string) is missing in ${staging}`)
    expect(run.stderr).toContain(`"extra" (integer) is in ${staging} but not in ${main}`)
    expect(run.stderr).toContain(`Make --staging match --main's schema.`)
    expect({ main: hashTree(main), staging: hashTree(staging) }).toEqual(before)
  })

  test('main inside staging (which is deleted afterwards) is OUTPUT_IS_INPUT; nothing changes', async () => {
    const dir = tempDir()
    const staging = join(dir, 'staging')
    await createTable(staging, [certs([1])])
    const main = join(staging, 'main')
    await createTable(main, [certs([2])])
    const before = hashTree(staging)
    await expect(
      backfill({ ours: main, theirs: staging, key: ['source_url', 'cert_index'] }),
    ).rejects.toMatchObject({ code: 'OUTPUT_IS_INPUT' })
    await expect(
      backfill({
        ours: join(dir, 'm'),
        theirs: staging,
        key: ['cert_index'],
        archive: join(staging, 'a'),
      }),
    ).rejects.toMatchObject({ code: 'OUTPUT_IS_INPUT' })
    expect(hashTree(staging)).toEqual(before)
  })

  test('a bad --batch-rows is a usage error (exit 2)', async () => {
    const { main, staging } = await tables([10], [11])
    const run = backfillCli(main, staging, '--batch-rows', '0')
    expect(run.code).toBe(2)
  })
})
