import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { testStore } from '../support/postgres.js'
import { tempDir } from '../support/temp.js'

/**
 * SIGKILL during `cr merge` at a named phase (DUCKMERGE_TEST_KILL_AT makes the CLI kill itself
 * as the phase starts), then any next command on the root settles the change request.
 */
async function setup() {
  const dir = tempDir()
  const root = join(dir, 'root')
  const { store } = await testStore()
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli([...args, '--root', root, ...(store ? ['--store', store] : []), '--json'], { env })
  writeFileSync(join(dir, 'p.csv'), 'id,price\n1,10\n2,20\n3,30\n')
  writeFileSync(join(dir, 'c.csv'), 'id,price,_op\n2,21,\n3,,delete\n4,40,\n')
  expect(
    cli(['dataset', 'create', 'products', '--from', join(dir, 'p.csv'), '--key', 'id']).code,
  ).toBe(0)
  const created = cli(['cr', 'create', 'products', '--from', join(dir, 'c.csv'), '--title', 'c'])
  const id = created.json<{ id: string }>().id
  const table = join(root, 'datasets', '1', 'table')
  const dataFiles = () =>
    readdirSync(table)
      .filter((f) => f !== '_delta_log')
      .sort()
  const log = () => readdirSync(join(table, '_delta_log')).filter((f) => f.endsWith('.json'))
  const killedAt = (phase: string) => {
    const r = cli(['cr', 'merge', id, '--requested-by', 'ann'], { DUCKMERGE_TEST_KILL_AT: phase })
    expect(r.code, r.stderr).toBe(-1)
  }
  return { cli, id, dataFiles, log, killedAt, root }
}

describe('cr merge killed with SIGKILL', { timeout: 180_000 }, () => {
  test('after writing its files, before the commit: the next command marks it failed (interrupted), removes the files; a new merge applies it once', async () => {
    const { cli, id, dataFiles, log, killedAt } = await setup()
    const before = dataFiles()
    killedAt('commit')
    // The killed process left files no commit references.
    expect(dataFiles().length).toBeGreaterThan(before.length)
    expect(cli(['cr', 'show', id]).json()).toMatchObject({
      status: 'failed',
      failure: { code: 'interrupted', phase: 'commit' },
    })
    expect(dataFiles()).toEqual(before)
    expect(log()).toHaveLength(1)
    expect(cli(['dataset', 'show', 'products']).json()).toMatchObject({
      current_version: 0,
      row_count: 3,
    })
    expect(cli(['cr', 'audit', id, '--file', 'merge_result']).json()).toMatchObject({
      status: 'failed',
      recovered: true,
      error: { code: 'interrupted', phase: 'commit' },
    })
    expect(cli(['cr', 'merge', id]).json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
      diff: { rows_added: 1, rows_updated: 1, rows_deleted: 1 },
    })
    expect(log()).toHaveLength(2)
  })

  test('after the commit, before the store knew: the next command finds the commit by its txn and marks it merged; re-merge replays', async () => {
    const { cli, id, log, killedAt } = await setup()
    killedAt('finalize')
    expect(log()).toHaveLength(2)
    expect(cli(['cr', 'list', 'products']).json()).toMatchObject({
      change_requests: [{ id, status: 'merged', merged_version: 1 }],
    })
    expect(cli(['dataset', 'show', 'products']).json()).toMatchObject({
      current_version: 1,
      row_count: 3,
    })
    expect(cli(['cr', 'audit', id, '--file', 'merge_result']).json()).toMatchObject({
      status: 'merged',
      recovered: true,
      merged_version: 1,
      commit: { version: 1, txn_app_id: `duckmerge-cr-${id}` },
    })
    expect(cli(['cr', 'merge', id]).json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
      commit_id: 'v1',
      diff: {
        version_before: 0,
        version_after: 1,
        rows_added: 1,
        rows_updated: 1,
        rows_deleted: 1,
      },
      idempotent_replay: true,
    })
    expect(log()).toHaveLength(2)
  })

  test('while writing the audit files, after the status flipped: the next command writes them from the manifest', async () => {
    const { cli, id, log, killedAt, root } = await setup()
    killedAt('audit')
    expect(log()).toHaveLength(2)
    // The next command settles the leftover manifest.
    expect(cli(['cr', 'show', id]).json()).toMatchObject({ status: 'merged', merged_version: 1 })
    expect(existsSync(join(root, 'tmp', 'merges', `${id}.json`))).toBe(false)
    const audit = cli(['cr', 'audit', id]).json<{ files: Record<string, unknown> }>()
    expect(Object.keys(audit.files).sort()).toEqual([
      'conflicts',
      'diff',
      'merge_result',
      'validation',
    ])
    expect(cli(['cr', 'audit', id, '--file', 'merge_result']).json()).toMatchObject({
      status: 'merged',
      recovered: true,
      requested_by: 'ann',
      versions: { base: 0, main_before: 0, merged: 1 },
      commit: { version: 1, txn_app_id: `duckmerge-cr-${id}` },
      counts: { rows_added: 1, rows_updated: 1, rows_deleted: 1 },
      files_removed: 1,
    })
    expect(cli(['cr', 'audit', id, '--file', 'diff']).json()).toMatchObject({
      rows_added: 1,
      rows_deleted: 1,
      rows_modified: 1,
      columns: { price: { modified: 1 } },
    })
    expect(cli(['cr', 'merge', id]).json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
      idempotent_replay: true,
    })
    expect(log()).toHaveLength(2)
  })

  test('while validating: failed (interrupted) with nothing written; the merge then succeeds', async () => {
    const { cli, id, dataFiles, log, killedAt } = await setup()
    const before = dataFiles()
    killedAt('validate')
    expect(dataFiles()).toEqual(before)
    const merged = cli(['cr', 'merge', id])
    expect(merged.json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
      idempotent_replay: false,
    })
    expect(log()).toHaveLength(2)
    const events = cli(['cr', 'audit', id]).json<{
      events: { action: string; details: Record<string, unknown> }[]
    }>()
    expect(events.events.map((e) => e.action)).toEqual([
      'cr.create',
      'merge.requested',
      'merge.failed',
      'merge.requested',
      'merge.succeeded',
    ])
    expect(events.events[2]?.details).toMatchObject({ code: 'interrupted', phase: 'validate' })
  })
})
