/**
 * `delta backfill --dry-run` (the plan's report, nothing written) and a staging that cannot be
 * removed after every batch committed (a warning naming it, stagingRemoved: false, exit 0).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { raw } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { folderState as tree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { createTable, readRows } from './delta-merge.helpers.js'

const keys = ['--keys', 'id']

function rows(ids: readonly number[], tag: string) {
  return raw(
    `select i::bigint as id, '${tag}' || i as v from unnest([${ids.join(',')}]::bigint[]) t(i)`,
  )
}

const COUNTS = [
  'merged',
  'created',
  'stagingRows',
  'rowsInserted',
  'rowsSkipped',
  'duplicatesInStaging',
  'batches',
  'appId',
] as const

const pick = (r: Record<string, unknown>) => Object.fromEntries(COUNTS.map((k) => [k, r[k]]))
const perBatch = (r: Record<string, unknown>) =>
  (r.perBatch as { batch: number; rowsInserted: number; rowsSkipped: number }[]).map((b) => [
    b.batch,
    b.rowsInserted,
    b.rowsSkipped,
  ])

describe('delta backfill --dry-run', () => {
  test('several batches, keys main has, duplicates in staging: counts equal the real run, nothing written', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(main, [rows([1, 2, 3, 8], 'm')])
    // Two files, key 5 twice: 9 staging rows, 8 distinct keys, 3 of them in main.
    await createTable(staging, [rows([2, 3, 4, 5], 's'), rows([5, 6, 7, 8, 9], 't')])
    const before = { main: tree(main), staging: tree(staging) }
    const args = ['delta', 'backfill', '--main', main, '--staging', staging, ...keys]
    const dry = runCli([...args, '--batch-rows', '3', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    expect({ main: tree(main), staging: tree(staging) }).toEqual(before)
    expect(dry.json()).toMatchObject({
      dryRun: true,
      stagingRows: 9,
      duplicatesInStaging: 1,
      rowsInserted: 5,
      rowsSkipped: 3,
      batches: 3,
      stagingAfter: 'kept',
      stagingRemoved: false,
      version: 0,
    })
    const text = runCli([...args, '--batch-rows', '3', '--dry-run'])
    expect(text.stdout).toContain('dry run: nothing written')
    expect({ main: tree(main), staging: tree(staging) }).toEqual(before)

    const real = runCli([...args, '--batch-rows', '3', '--json'])
    expect(real.code, real.stderr).toBe(0)
    expect(pick(dry.json())).toEqual(pick(real.json()))
    expect(perBatch(dry.json())).toEqual(perBatch(real.json()))
    expect(real.json()).toMatchObject({ dryRun: false, stagingRemoved: true })
    const ids = (await readRows<{ id: string }>(main, 'id')).map((r) => Number(r.id))
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  test('a missing main is not created by a dry run; the counts equal the run that creates it', async () => {
    const dir = tempDir()
    const main = join(dir, 'main')
    const staging = join(dir, 'staging')
    await createTable(staging, [rows([1, 2, 3], 's')])
    const before = tree(staging)
    const args = ['delta', 'backfill', '--main', main, '--staging', staging, ...keys, '--json']
    const dry = runCli([...args, '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(existsSync(main)).toBe(false)
    expect(tree(staging)).toEqual(before)
    expect(dry.json()).toMatchObject({ created: true, rowsInserted: 3, version: null })
    const real = runCli(args)
    expect(real.code, real.stderr).toBe(0)
    expect(pick(dry.json())).toEqual(pick(real.json()))
  })
})

/**
 * The CLI runs as root here, which permission bits do not stop: an immutable parent folder
 * (chattr +i) is what makes renaming and deleting staging fail for root as for anyone.
 */
function makeImmutable(path: string, on: boolean): boolean {
  const run = spawnSync('chattr', [on ? '+i' : '-i', path], { encoding: 'utf8' })
  return run.status === 0
}

const probe = join(tempDir(), 'probe')
mkdirSync(probe)
const canPin = makeImmutable(probe, true) && makeImmutable(probe, false)

describe('delta backfill: staging that cannot be removed', () => {
  test.skipIf(!canPin)(
    'every batch committed, staging parent immutable: warning naming the folder, exit 0, stagingRemoved false (skipped where chattr +i is unavailable)',
    async () => {
      const dir = tempDir()
      const main = join(dir, 'main')
      const parent = join(dir, 'incoming')
      const staging = join(parent, 'staging')
      await createTable(main, [rows([1, 2], 'm')])
      await createTable(staging, [rows([2, 3], 's')])
      expect(makeImmutable(parent, true)).toBe(true)
      try {
        const args = ['delta', 'backfill', '--main', main, '--staging', staging, ...keys]
        const run = runCli([...args, '--json'])
        expect(run.code, run.stderr).toBe(0)
        expect(run.json()).toMatchObject({
          rowsInserted: 1,
          rowsSkipped: 1,
          stagingAfter: 'kept',
          stagingRemoved: false,
        })
        expect(run.json<{ warning: string }>().warning).toContain(staging)
        expect(run.stderr).toContain(`backfill: warning: every batch committed`)
        expect(existsSync(join(staging, '_delta_log'))).toBe(true)
        const ids = (await readRows<{ id: string }>(main, 'id')).map((r) => Number(r.id))
        expect(ids).toEqual([1, 2, 3])
      } finally {
        makeImmutable(parent, false)
      }
    },
  )
})
