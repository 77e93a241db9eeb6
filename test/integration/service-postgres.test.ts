/**
 * Postgres mode past one machine: the CLI and `serve` on a Postgres store (--store or
 * DUCKMERGE_STORE_URL), and two `serve` processes on one Postgres and one shared data root
 * serving the same datasets. Merges of one dataset are serialized across the instances (each
 * planned on the head it commits on), a change request merged through both lands once, a
 * merge whose instance died is settled by the other, and a CLI writer committing to the Delta
 * table meanwhile is never overwritten.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli, startCli } from '../support/cli.js'
import { needsPostgres, queryPostgres, usePostgres } from '../support/postgres.js'
import { tempDir } from '../support/temp.js'
import { call, type Served, serve, token } from './service-support.js'

// Each test starts servers and runs many merges: minutes on a loaded 2-core machine.
const SLOW = 400_000

const cluster = usePostgres()

/** The Delta versions in the dataset's log, in order. */
function versions(root: string): number[] {
  return readdirSync(join(root, 'datasets', '1', 'table', '_delta_log'))
    .filter((f) => /^\d{20}\.json$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b)
}

function commitInfo(root: string, version: number): Record<string, unknown> {
  const file = join(
    root,
    'datasets',
    '1',
    'table',
    '_delta_log',
    `${String(version).padStart(20, '0')}.json`,
  )
  const lines = readFileSync(file, 'utf8').trim().split('\n')
  const info = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((a) => 'commitInfo' in a)
  return (info?.commitInfo ?? {}) as Record<string, unknown>
}

/** A project `shop` with dataset `products` (ids 1..20), ann owner, bob contributor. */
async function setupShop(root: string, store: string, first: Served) {
  const ann = token(root, 'ann', '--store', store)
  const bob = token(root, 'bob', '--store', store)
  expect(
    (await call(first, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })).status,
  ).toBe(201)
  await call(first, 'PUT', '/api/v1/projects/1/members/bob', {
    token: ann,
    json: { role: 'contributor' },
  })
  const csv = `id,price\n${Array.from({ length: 20 }, (_, i) => `${i + 1},${(i + 1) * 10}`).join('\n')}\n`
  const created = await call(
    first,
    'POST',
    '/api/v1/projects/1/datasets?name=products&primary_keys=id',
    {
      token: ann,
      body: csv,
      headers: { 'content-type': 'text/csv' },
    },
  )
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return { ann, bob }
}

async function changeRequest(served: Served, user: string, json: unknown): Promise<string> {
  const r = await call(served, 'POST', '/api/v1/datasets/1/change_requests', { token: user, json })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.id as string
}

const mergeVia = (served: Served, user: string, id: string) =>
  call(served, 'POST', `/api/v1/change_requests/${id}/merge`, { token: user, json: {} })

describe.skipIf(!cluster.available)(needsPostgres('Postgres mode'), () => {
  test(
    'token, dataset and cr commands keep their metadata on Postgres with --store or DUCKMERGE_STORE_URL',
    async () => {
      const store = await cluster.database()
      const dir = tempDir()
      const root = join(dir, 'root')
      const file = (name: string, text: string) => {
        writeFileSync(join(dir, name), text)
        return join(dir, name)
      }
      const withFlag = (...args: string[]) =>
        runCli([...args, '--root', root, '--store', store, '--json'])
      const withEnv = (...args: string[]) =>
        runCli([...args, '--root', root, '--json'], { env: { DUCKMERGE_STORE_URL: store } })
      const made = withFlag('token', 'create', '--user', 'ann', '--admin')
      expect(made.code, made.stderr).toBe(0)
      expect(made.json()).toMatchObject({ user: 'ann', scope: 'user' })
      const dataset = withEnv(
        'dataset',
        'create',
        'products',
        '--from',
        file('p.csv', 'id,price\n1,10\n2,20\n'),
        '--key',
        'id',
      )
      expect(dataset.code, dataset.stderr).toBe(0)
      expect(dataset.json()).toMatchObject({ id: 1, current_version: 0, row_count: 2 })
      const cr = withFlag(
        'cr',
        'create',
        'products',
        '--from',
        file('c.csv', 'id,price\n2,21\n3,30\n'),
        '--title',
        'fix',
      )
      expect(cr.code, cr.stderr).toBe(0)
      const id = cr.json<{ id: string }>().id
      const merged = withEnv('cr', 'merge', id, '--requested-by', 'ann')
      expect(merged.code, merged.stderr).toBe(0)
      expect(merged.json()).toMatchObject({ status: 'merged', merged_version: 1, rows_affected: 2 })
      expect(withFlag('cr', 'merge', id).json()).toMatchObject({
        merged_version: 1,
        idempotent_replay: true,
      })
      expect(withEnv('dataset', 'show', 'products').json()).toMatchObject({
        current_version: 1,
        row_count: 3,
      })
      const revoked = withFlag('token', 'revoke', made.json<{ token: string }>().token)
      expect(revoked.json()).toEqual({ revoked: 1 })
      // A store that cannot be reached is named (without its password), with what to check.
      const wrong = store.replace('postgres@', 'postgres:hunter2@').replace(/\/\w+$/, '/no_such_db')
      const refused = runCli(['dataset', 'list', '--root', root, '--store', wrong])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain(
        'Cannot connect to the metadata store postgres://postgres:***@',
      )
      expect(refused.stderr).toContain('database "no_such_db" does not exist')
      expect(refused.stderr).toContain('Check the Postgres URL (--store')
      expect(refused.stderr).not.toContain('hunter2')
      // Nothing went to the embedded SQLite store; everything is in Postgres.
      expect(existsSync(join(root, 'duckmerge.db'))).toBe(false)
      const rows = await queryPostgres(
        store,
        `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL)::int AS revoked,
                (SELECT current_version FROM datasets WHERE name = 'products')::int AS version,
                (SELECT status FROM change_requests WHERE id = $1) AS status,
                (SELECT count(*) FROM audit_events WHERE cr_id = $1 AND action = 'merge.succeeded')::int AS merges`,
        [id],
      )
      expect(rows).toEqual([{ users: 1, revoked: 1, version: 1, status: 'merged', merges: 1 }])
    },
    SLOW,
  )

  test(
    'two instances on one Postgres and one data root: concurrent merges on one dataset all land, one at a time, each checked against the head it commits on; a CLI writer meanwhile is kept; one change request through both lands once',
    async () => {
      const store = await cluster.database()
      const root = tempDir()
      const first = await serve(root, ['--store', store])
      const second = await serve(root, ['--store', store])
      const { bob } = await setupShop(root, store, first)
      // Different rows each: no conflicts, so every merge must land.
      const ids: string[] = []
      for (let i = 1; i <= 6; i++)
        ids.push(
          await changeRequest(i % 2 ? first : second, bob, {
            title: `c${i}`,
            upserts: [{ id: i, price: i * 1000 }],
          }),
        )
      // Both instances see every change request at once; and a writer outside duckmerge appends.
      const merges = Promise.all(ids.map((id, i) => mergeVia(i % 2 ? first : second, bob, id)))
      const extra = join(root, '..', `${root.split('/').pop()}-extra.csv`)
      writeFileSync(extra, 'id,price\n100,1\n101,2\n')
      const appended = await new Promise<number | null>((resolve) => {
        const child = startCli([
          'delta',
          'append',
          join(root, 'datasets', '1', 'table'),
          '--from',
          extra,
          '--json',
        ])
        child.once('exit', (code) => resolve(code))
      })
      const results = await merges
      for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200)
      const merged = results.map(
        (r) =>
          r.body as {
            merged_version: number
            diff: { version_before: number; version_after: number }
          },
      )
      const all = versions(root)
      // A blind append retries at the next version when it loses a race: it always lands.
      expect(appended).toBe(0)
      expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      const byMerges = all.filter((v) => v > 0 && commitInfo(root, v).operation === 'MERGE')
      expect(merged.map((m) => m.merged_version).sort((a, b) => a - b)).toEqual(byMerges)
      // Each merge was checked against the head it committed on: between the version it planned
      // on and its commit there is no other merge, at most the CLI writer's append (which the
      // Delta conflict check let through: new keys only).
      for (const m of merged) {
        expect(m.diff.version_after).toBe(m.merged_version)
        for (let v = m.diff.version_before + 1; v < m.merged_version; v++)
          expect(byMerges).not.toContain(v)
      }
      const rows = await call(first, 'GET', '/api/v1/datasets/1/rows?limit=100', { token: bob })
      const prices = new Map(
        (rows.body.rows as { id: unknown; price: unknown }[]).map((r) => [
          Number(r.id),
          Number(r.price),
        ]),
      )
      for (let i = 1; i <= 6; i++) expect(prices.get(i)).toBe(i * 1000)
      expect(prices.get(7)).toBe(70)
      // The CLI writer's commit (it appended while merges ran) is never overwritten.
      expect([prices.get(100), prices.get(101)]).toEqual([1, 2])
      expect(prices.size).toBe(22)
      // One merge at a time across both instances: requested, succeeded, requested, … (a merge
      // overlapping another would have met LOCKED or a moved head), and both instances ran some.
      const events = await queryPostgres<{ action: string }>(
        store,
        "SELECT action FROM audit_events WHERE action IN ('merge.requested', 'merge.succeeded') ORDER BY id",
      )
      expect(events.map((e) => e.action)).toEqual(
        ids.flatMap(() => ['merge.requested', 'merge.succeeded']),
      )
      const instances = await queryPostgres(
        store,
        "SELECT DISTINCT instance FROM operations WHERE status = 'succeeded'",
      )
      expect(instances).toHaveLength(2)
      // Both instances agree on the head (the store mirrors the Delta log).
      for (const s of [first, second])
        expect((await call(s, 'GET', '/api/v1/datasets/1', { token: bob })).body).toMatchObject({
          current_version: all.at(-1),
        })

      // One change request merged through both instances at once: one commit.
      const same = await changeRequest(first, bob, {
        title: 'same',
        upserts: [{ id: 20, price: 1 }],
      })
      const both = await Promise.all([mergeVia(first, bob, same), mergeVia(second, bob, same)])
      const statuses = both.map((r) => r.status).sort()
      expect(statuses[0]).toBe(200)
      expect([200, 409]).toContain(statuses[1])
      if (statuses[1] === 200)
        expect(both.map((r) => r.body.idempotent_replay).sort()).toEqual([false, true])
      else expect(both.find((r) => r.status === 409)?.body.code).toBe('merge_in_progress')
      expect(versions(root)).toHaveLength(all.length + 1)
      expect(await first.stop()).toBe(0)
      expect(await second.stop()).toBe(0)
    },
    SLOW,
  )

  test(
    'an instance killed mid-merge: its lock dies with it, so the other settles the change request and merges on',
    async () => {
      const store = await cluster.database()
      const root = tempDir()
      const healthy = await serve(root, ['--store', store])
      const { bob } = await setupShop(root, store, healthy)
      const doomed = await serve(root, ['--store', store], { DUCKMERGE_TEST_KILL_AT: 'write' })
      const a = await changeRequest(healthy, bob, { title: 'a', upserts: [{ id: 1, price: 11 }] })
      const b = await changeRequest(healthy, bob, { title: 'b', upserts: [{ id: 2, price: 22 }] })
      const lost = await mergeVia(doomed, bob, a).catch((error: unknown) => error)
      expect(lost).toBeInstanceOf(Error)
      if (doomed.child.exitCode === null && doomed.child.signalCode === null)
        await new Promise((resolve) => doomed.child.once('exit', resolve))
      expect(doomed.child.signalCode).toBe('SIGKILL')
      // The healthy instance merges b on the same dataset: it first settles a (its holder is gone).
      const mergedB = await mergeVia(healthy, bob, b)
      expect(mergedB.status, JSON.stringify(mergedB.body)).toBe(200)
      expect(mergedB.body).toMatchObject({ merged_version: 1 })
      const crA = await call(healthy, 'GET', `/api/v1/change_requests/${a}`, { token: bob })
      expect(crA.body).toMatchObject({
        status: 'failed',
        failure: { code: 'interrupted', phase: 'write' },
      })
      const again = await mergeVia(healthy, bob, a)
      expect(again.body).toMatchObject({ merged_version: 2 })
      expect(versions(root)).toEqual([0, 1, 2])
      expect(await healthy.stop()).toBe(0)
    },
    SLOW,
  )
})
