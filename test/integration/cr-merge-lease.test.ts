/**
 * The merge lease of another host's merge: a running merge renews its manifest every heartbeat,
 * and recovery takes it as dead only once the manifest is older than the TTL. The lease is
 * shortened (DUCKMERGE_TEST_MERGE_LEASE) and the merging CLI given another host's name
 * (DUCKMERGE_TEST_HOST) so that this takes seconds; DUCKMERGE_TEST_HOLD_FILE keeps the merge
 * waiting at `validate` for as long as the test wants, its event loop free.
 */
import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { transition } from '../../src/changes/change-requests.js'
import { removeManifest } from '../../src/changes/merge-recovery.js'
import { getChangeRequest, openDataRoot, recoverMerges } from '../../src/index.js'
import { runCli, startCli } from '../support/cli.js'
import { productsRoot } from '../support/cr-root.js'

const HEARTBEAT_MS = 100
const TTL_MS = 5000
const LEASE = `${HEARTBEAT_MS},${TTL_MS}`

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Manifest {
  readonly pid: number
  readonly host: string
  readonly phase: string
  readonly updated_at: number
}

/** A merge of one change request by "host-a", held at `validate` until `release()`. */
async function heldMerge() {
  const products = productsRoot('id,price,qty\n7,10,7\n8,10,8\n')
  const { id } = products.cr('c.csv', 'id,price\n7,11\n')
  const hold = products.file('hold', '')
  const child = startCli(['cr', 'merge', id, '--root', products.root, '--json'], {
    env: {
      DUCKMERGE_TEST_HOST: 'host-a',
      DUCKMERGE_TEST_MERGE_LEASE: LEASE,
      DUCKMERGE_TEST_HOLD_FILE: hold,
    },
  })
  children.push(child)
  let stdout = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const manifestPath = join(products.root, 'tmp', 'merges', `${id}.json`)
  // As readManifest reads it: renewals set the file's mtime.
  const manifest = (): Manifest | null => {
    try {
      const written = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest
      const renewed = Math.floor(statSync(manifestPath).mtimeMs)
      return { ...written, updated_at: Math.max(written.updated_at, renewed) }
    } catch {
      return null
    }
  }
  for (let waited = 0; manifest()?.phase !== 'validate'; waited += 50) {
    if (child.exitCode !== null || waited > 60_000)
      throw new Error(`the merge never reached validate (exit ${child.exitCode})`)
    await sleep(50)
  }
  return {
    ...products,
    id,
    child,
    manifest,
    release: async () => {
      rmSync(hold)
      return { code: await exited, stdout }
    },
  }
}

describe('the merge lease across hosts', { timeout: 120_000 }, () => {
  test('a merge running past the TTL keeps its manifest fresh: another process leaves it alone, and it commits once', async () => {
    const merge = await heldMerge()
    const first = merge.manifest()
    expect(first).toMatchObject({ pid: merge.child.pid, host: 'host-a', phase: 'validate' })
    await sleep(TTL_MS + 1000)
    // Another process on this host (not host-a) opens the root, which settles dead merges.
    const shown = merge.cli('cr', 'show', merge.id)
    expect(shown.json()).toMatchObject({ status: 'merging' })
    const renewed = merge.manifest()
    expect(renewed).toMatchObject({ pid: merge.child.pid, host: 'host-a', phase: 'validate' })
    expect(renewed?.updated_at).toBeGreaterThan((first?.updated_at ?? 0) + TTL_MS)
    const done = await merge.release()
    expect(done.code).toBe(0)
    expect(JSON.parse(done.stdout)).toMatchObject({
      status: 'merged',
      merged_version: 1,
      diff: { rows_updated: 1 },
    })
    expect(merge.log()).toHaveLength(2)
    expect(merge.cli('dataset', 'rows', 'products').json()).toMatchObject({
      rows: [
        { id: '7', price: '11', qty: '7' },
        { id: '8', price: '10', qty: '8' },
      ],
    })
  })

  test('a stalled holder (SIGSTOP: alive, no heartbeat) is left alone within the TTL, settled as interrupted after it, and commits nothing when it wakes', async () => {
    const merge = await heldMerge()
    merge.child.kill('SIGSTOP')
    const stalledAt = merge.manifest()?.updated_at ?? 0
    const saved = process.env.DUCKMERGE_TEST_MERGE_LEASE
    process.env.DUCKMERGE_TEST_MERGE_LEASE = LEASE
    const root = await openDataRoot({ root: merge.root, recover: false })
    try {
      // Within the TTL (its manifest is at most a heartbeat and this opening old): alive.
      expect(await recoverMerges(root)).toEqual([])
      expect((await getChangeRequest(root, merge.id)).status).toBe('merging')
      await sleep(Math.max(0, stalledAt + TTL_MS + 200 - Date.now()))
      expect(merge.manifest()?.updated_at).toBe(stalledAt)
      expect(await recoverMerges(root)).toMatchObject([
        { cr_id: merge.id, outcome: 'interrupted', phase: 'validate', merged_version: null },
      ])
      expect(await getChangeRequest(root, merge.id)).toMatchObject({
        status: 'failed',
        failure: { code: 'interrupted', phase: 'validate' },
      })
    } finally {
      await root.close()
      if (saved === undefined) delete process.env.DUCKMERGE_TEST_MERGE_LEASE
      else process.env.DUCKMERGE_TEST_MERGE_LEASE = saved
    }
    // Woken up, the stalled holder finds its manifest gone and stops before writing: it does
    // not commit what its change request says was interrupted.
    const tableFiles = () => readdirSync(join(merge.root, 'datasets', '1', 'table')).sort()
    const filesBefore = tableFiles()
    merge.child.kill('SIGCONT')
    const woken = await merge.release()
    expect(woken.code).toBe(1)
    expect(JSON.parse(woken.stdout)).toMatchObject({
      error: { code: 'INTERRUPTED', details: { cr_id: merge.id, phase: 'validate' } },
    })
    expect(merge.log()).toHaveLength(1)
    expect(tableFiles()).toEqual(filesBefore)
    expect(merge.cli('cr', 'show', merge.id).json()).toMatchObject({
      status: 'failed',
      failure: { code: 'interrupted', phase: 'validate' },
    })
    // Settled, the change request merges once.
    const again = merge.cli('cr', 'merge', merge.id)
    expect(again.code, again.stderr).toBe(0)
    expect(again.json()).toMatchObject({ status: 'merged', merged_version: 1 })
    expect(merge.log()).toHaveLength(2)
  })

  test('a revision already in the Delta log while the store says failed (a holder woke just as recovery judged it) is settled as merged, not applied again', async () => {
    const products = productsRoot('id,price,qty\n7,10,7\n8,10,8\n')
    const { id } = products.cr('c.csv', 'id,price\n7,11\n8,12\n')
    // The commit lands, then the process dies before the store hears of it.
    const killed = runCli(['cr', 'merge', id, '--root', products.root, '--json'], {
      env: { DUCKMERGE_TEST_KILL_AT: 'finalize' },
    })
    expect(killed.code).toBe(-1)
    expect(products.log()).toHaveLength(2)
    // The store recorded the merge as interrupted anyway (recovery read the log just before).
    const root = await openDataRoot({ root: products.root, recover: false })
    try {
      const cr = await getChangeRequest(root, id)
      await transition(root.store.db, cr, ['merging'], 'failed', { action: 'merge.failed' })
      await removeManifest(root, id)
    } finally {
      await root.close()
    }
    const merged = products.cli('cr', 'merge', id)
    expect(merged.code, merged.stderr).toBe(0)
    expect(merged.json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
      commit_id: 'v1',
      idempotent_replay: true,
      diff: { version_before: 0, version_after: 1, rows_updated: 2, rows_added: 0 },
    })
    expect(products.log()).toHaveLength(2)
    expect(products.cli('cr', 'show', id).json()).toMatchObject({
      status: 'merged',
      merged_version: 1,
    })
    expect(products.cli('dataset', 'show', 'products').json()).toMatchObject({
      current_version: 1,
    })
  })
})
