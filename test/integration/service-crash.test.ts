/**
 * kill -9 of `duckmerge serve` during a merge (DUCKMERGE_TEST_KILL_AT makes the process kill
 * itself with SIGKILL as the phase starts), then a restart on the same root: before it listens
 * the change request is settled (merged, found by its txn, or failed/interrupted), the
 * operation too, the dataset's metadata equals the Delta head, and merging works again.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { tempDir } from '../support/temp.js'
import { call, type Served, serve, token } from './service-support.js'

async function setup(killAt: string) {
  const root = tempDir()
  const ann = token(root, 'ann')
  const first = await serve(root, [], { DUCKMERGE_TEST_KILL_AT: killAt })
  await call(first, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
  const made = await call(first, 'POST', '/api/v1/projects/1/datasets?name=p&primary_keys=id', {
    token: ann,
    body: 'id,price\n1,10\n2,20\n',
    headers: { 'content-type': 'text/csv' },
  })
  expect(made.status).toBe(201)
  const cr = async (json: unknown) =>
    (await call(first, 'POST', '/api/v1/datasets/1/change_requests', { token: ann, json })).body
      .id as string
  const one = await cr({ title: 'one', upserts: [{ id: 1, price: 11 }] })
  const two = await cr({ title: 'two', upserts: [{ id: 2, price: 21 }] })
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    first.child.once('exit', (_code, signal) => resolve(signal)),
  )
  const accepted = await call(first, 'POST', `/api/v1/change_requests/${one}/merge`, {
    token: ann,
    json: {},
    headers: { prefer: 'respond-async' },
  })
  expect(accepted.status).toBe(202)
  expect(await exited).toBe('SIGKILL')
  const commits = () =>
    readdirSync(join(root, 'datasets', '1', 'table', '_delta_log')).filter((f) =>
      f.endsWith('.json'),
    ).length
  const second = await serve(root)
  const get = (path: string) => call(second, 'GET', path, { token: ann })
  return { ann, one, two, op: accepted.body.operation_id as string, second, get, commits }
}

function recoveryMs(served: Served): number {
  const line = served
    .stderr()
    .split('\n')
    .find((l) => l.includes('settled operations'))
  return (JSON.parse(line ?? '{}') as { ms: number }).ms
}

test('killed at commit (files written, no commit): change request and operation failed (interrupted), metadata at the head, a new merge works', async () => {
  const { ann, one, two, op, second, get, commits } = await setup('commit')
  expect(recoveryMs(second)).toBeLessThan(10_000)
  expect((await get(`/api/v1/operations/${op}`)).body).toMatchObject({
    status: 'failed',
    error: {
      status: 503,
      body: { code: 'interrupted', details: { phase: 'commit', cr_status: 'failed' } },
    },
  })
  expect((await get(`/api/v1/change_requests/${one}`)).body).toMatchObject({
    status: 'failed',
    failure: { code: 'interrupted', phase: 'commit' },
  })
  expect(commits()).toBe(1)
  expect((await get('/api/v1/datasets/1')).body).toMatchObject({
    current_version: 0,
    row_count: 2,
  })
  for (const [id, version] of [
    [one, 1],
    [two, 2],
  ] as const) {
    const merged = await call(second, 'POST', `/api/v1/change_requests/${id}/merge`, {
      token: ann,
      json: {},
    })
    expect(merged.status, JSON.stringify(merged.body)).toBe(200)
    expect(merged.body).toMatchObject({ merged_version: version })
  }
  expect((await get('/api/v1/datasets/1/rows')).body.rows).toEqual([
    { id: '1', price: '11' },
    { id: '2', price: '21' },
  ])
  expect(await second.stop()).toBe(0)
}, 300_000)

test('killed at finalize (committed, store not told): change request merged by its txn, operation succeeded, metadata at the head, replay and a new merge work', async () => {
  const { ann, one, two, op, second, get, commits } = await setup('finalize')
  expect(recoveryMs(second)).toBeLessThan(10_000)
  expect((await get(`/api/v1/operations/${op}`)).body).toMatchObject({
    status: 'succeeded',
    result: { status: 'merged', merged_version: 1, recovered: true },
  })
  expect((await get(`/api/v1/change_requests/${one}`)).body).toMatchObject({
    status: 'merged',
    merged_version: 1,
  })
  expect(commits()).toBe(2)
  expect((await get('/api/v1/datasets/1')).body).toMatchObject({
    current_version: 1,
    row_count: 2,
  })
  const replay = await call(second, 'POST', `/api/v1/change_requests/${one}/merge`, {
    token: ann,
    json: {},
  })
  expect(replay.body).toMatchObject({ merged_version: 1, idempotent_replay: true })
  const merged = await call(second, 'POST', `/api/v1/change_requests/${two}/merge`, {
    token: ann,
    json: {},
  })
  expect(merged.body).toMatchObject({ merged_version: 2 })
  expect(commits()).toBe(3)
  expect(await second.stop()).toBe(0)
}, 300_000)
