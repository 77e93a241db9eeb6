/** Backfill stopped by SIGTERM or killed by SIGKILL in a real child process, then run again. */
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { raw } from '../../src/engine/sql.js'
import { loadSnapshot } from '../../src/formats/delta/index.js'
import { runCli, startCli } from '../support/cli.js'
import { tempDir } from '../support/temp.js'
import { createTable, readRows } from './delta-merge.helpers.js'

const MAIN_KEYS = Array.from({ length: 10 }, (_, i) => i * 3) // 0, 3, …, 27
const STAGING_KEYS = Array.from({ length: 40 }, (_, i) => i) // 0 … 39: 30 new, 10 known

function certs(indexes: readonly number[], domain: string) {
  return raw(
    `select 'https://ct.example/log' as source_url, i::bigint as cert_index, '${domain}' || i as domain from unnest([${indexes.join(',')}]::bigint[]) t(i)`,
  )
}

async function setup() {
  const dir = tempDir()
  const main = join(dir, 'main')
  const staging = join(dir, 'staging')
  await createTable(main, [certs(MAIN_KEYS, 'main')])
  // Several staging files, so batches draw from more than one file.
  await createTable(staging, [
    certs(STAGING_KEYS.slice(0, 15), 'new'),
    certs(STAGING_KEYS.slice(15), 'new'),
  ])
  const args = [
    'delta',
    'backfill',
    '--main',
    main,
    '--staging',
    staging,
    '--keys',
    'source_url,cert_index',
    '--batch-rows',
    '2',
  ]
  return { main, staging, args }
}

/** Main must end with every key once: main's own rows kept, the rest from staging. */
async function expectComplete(main: string): Promise<void> {
  const rows = await readRows<{ cert_index: string; domain: string }>(main, 'cert_index, domain')
  const expected = STAGING_KEYS.map((i) => [i, MAIN_KEYS.includes(i) ? `main${i}` : `new${i}`])
  expect(rows.map((r) => [Number(r.cert_index), r.domain])).toEqual(expected)
}

/** Resolves when the child's stderr has shown `lines` batch lines (0: as soon as it starts). */
function afterBatches(child: ChildProcess, lines: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    let text = ''
    if (lines === 0) {
      setTimeout(resolve, 50)
      return
    }
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      seen = (text.match(/backfill: batch /g) ?? []).length
      if (seen >= lines) resolve()
    })
    child.on('exit', () => resolve())
  })
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
}

describe('backfill interrupted', () => {
  test('SIGTERM mid-run stops after the current batch, keeps staging, exits 1; a re-run completes', async () => {
    const { main, staging, args } = await setup()
    const child = startCli(args)
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const done = exited(child)
    await afterBatches(child, 2)
    child.kill('SIGTERM')
    const { code } = await done
    expect(code).toBe(1)
    expect(stderr).toContain('SIGTERM received, stopping after the current batch')
    expect(stderr).toContain('[INTERRUPTED]')
    expect(existsSync(join(staging, '_delta_log'))).toBe(true)
    const partial = await loadSnapshot(main)
    expect(partial.version).toBeGreaterThanOrEqual(1)
    expect(partial.version).toBeLessThan(20)

    const rerun = runCli([...args, '--json'])
    expect(rerun.code).toBe(0)
    const report = rerun.json<{ rowsInserted: number; perBatch: { alreadyApplied: boolean }[] }>()
    expect(report.rowsInserted).toBeLessThan(30)
    expect(report.perBatch.some((b) => b.alreadyApplied)).toBe(true)
    await expectComplete(main)
    expect(existsSync(staging)).toBe(false)
  })

  test.each([
    { name: 'at start', batches: 0 },
    { name: 'after the first batch', batches: 1 },
    { name: 'after 7 batches', batches: 7 },
    { name: 'after 15 batches', batches: 15 },
  ])('SIGKILL $name, then a re-run: every key exactly once', async ({ batches }) => {
    const { main, staging, args } = await setup()
    const child = startCli(args)
    const done = exited(child)
    await afterBatches(child, batches)
    child.kill('SIGKILL')
    expect((await done).signal).toBe('SIGKILL')
    // Killed before it finished: staging is still there for the re-run.
    expect(existsSync(join(staging, '_delta_log'))).toBe(true)
    const rerun = runCli(args)
    expect(rerun.code).toBe(0)
    await expectComplete(main)
    expect(existsSync(staging)).toBe(false)
  })
})
