/** Change requests and merges through real HTTP: roles, conflicts, replay, If-Match, async + SSE, the seed's contract. */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'

// Each test starts a server and runs several merges: minutes on a loaded 2-core machine.
const SLOW = 300_000

import { tempDir } from '../support/temp.js'
import { call, type Served, serve, token } from './service-support.js'

async function setup() {
  const root = tempDir()
  const ann = token(root, 'ann')
  const bob = token(root, 'bob')
  const carl = token(root, 'carl')
  const svc = token(root, 'pipeline', '--service')
  const served = await serve(root)
  await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
  await call(served, 'PUT', '/api/v1/projects/1/members/bob', {
    token: ann,
    json: { role: 'contributor' },
  })
  await call(served, 'PUT', '/api/v1/projects/1/members/carl', {
    token: ann,
    json: { role: 'viewer' },
  })
  const created = await call(
    served,
    'POST',
    '/api/v1/projects/1/datasets?name=products&primary_keys=id',
    {
      token: ann,
      body: 'id,price,qty\n1,10,1\n2,20,2\n7,10,7\n',
      headers: { 'content-type': 'text/csv' },
    },
  )
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  const commits = () =>
    readdirSync(join(root, 'datasets', '1', 'table', '_delta_log')).filter((f) =>
      f.endsWith('.json'),
    )
  const cr = async (user: string, json: unknown) => {
    const r = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
      token: user,
      json,
    })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    return r.body as { id: string; status: string; number: number }
  }
  return { root, ann, bob, carl, svc, served, commits, cr }
}

const merge = (
  served: Served,
  user: string,
  id: string,
  json: unknown = {},
  headers?: Record<string, string>,
) =>
  call(served, 'POST', `/api/v1/change_requests/${id}/merge`, {
    token: user,
    json,
    ...(headers ? { headers } : {}),
  })

test(
  'same cell from two change requests: 409 with base/ours/theirs; replay; roles; If-Match 412; async merge with SSE phases',
  async () => {
    const { ann, bob, carl, served, commits, cr } = await setup()
    const a = await cr(bob, { title: 'a', upserts: [{ id: 7, price: 11 }] })
    expect(a).toMatchObject({ status: 'pending', number: 1, author: 'bob', base_version: 0 })
    // B arrives as a multipart CSV upload.
    const form = new FormData()
    form.set('title', 'b')
    form.set('file', new Blob(['id,price\n7,12\n']), 'b.csv')
    const b = await call(served, 'POST', '/api/v1/datasets/1/change-requests', {
      token: bob,
      body: form,
    })
    expect(b.status, JSON.stringify(b.body)).toBe(201)
    const bId = b.body.id as string

    const viewerCr = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
      token: carl,
      json: { title: 'x', upserts: [{ id: 1, price: 1 }] },
    })
    expect(viewerCr.status).toBe(403)
    expect((await merge(served, carl, a.id)).status).toBe(403)

    const merged = await merge(served, bob, a.id)
    expect(merged.status, JSON.stringify(merged.body)).toBe(200)
    expect(merged.body).toMatchObject({
      status: 'merged',
      merged_version: 1,
      commit_id: 'v1',
      rows_affected: 1,
      diff: {
        version_before: 0,
        version_after: 1,
        rows_added: 0,
        rows_updated: 1,
        rows_deleted: 0,
      },
      idempotent_replay: false,
    })
    const replay = await merge(served, bob, a.id)
    expect(replay.status).toBe(200)
    expect(replay.body).toMatchObject({
      merged_version: 1,
      commit_id: 'v1',
      idempotent_replay: true,
    })
    expect(commits()).toHaveLength(2)

    const conflict = await merge(served, bob, bId)
    expect(conflict.status).toBe(409)
    expect(conflict.body.code).toBe('merge_conflict')
    const items = conflict.body.conflicts as {
      key: unknown
      kind: string
      cells: { column: string }[]
    }[]
    expect(items).toHaveLength(1)
    expect(items[0]).toMatchObject({ kind: 'cell', cells: [{ column: 'price' }] })
    expect(JSON.stringify(items[0])).toMatch(/"base":"?10"?.*"ours":"?11"?.*"theirs":"?12"?/)
    expect(commits()).toHaveLength(2)
    const status = await call(served, 'GET', `/api/v1/change_requests/${bId}`, { token: carl })
    expect(status.body.status).toBe('conflict')

    const contributorForce = await merge(served, bob, bId, { force_merge: true })
    expect(contributorForce.status).toBe(403)
    expect(contributorForce.body).toMatchObject({
      code: 'forbidden',
      details: { required: 'owner', actual: 'contributor', because: 'force_merge' },
    })
    const stale = await merge(served, ann, bId, { force_merge: true }, { 'if-match': '"v0"' })
    expect(stale.status).toBe(412)
    expect(stale.body).toMatchObject({
      code: 'precondition_failed',
      details: { expected: 0, actual: 1 },
    })
    expect(commits()).toHaveLength(2)

    const accepted = await merge(
      served,
      ann,
      bId,
      { force_merge: true },
      { prefer: 'respond-async', 'if-match': '"v1"' },
    )
    expect(accepted.status).toBe(202)
    const op = accepted.body.operation_id as string
    expect(accepted.headers.get('location')).toBe(`/api/v1/operations/${op}`)
    const events = await fetch(`${served.url}/api/v1/operations/${op}/events`, {
      headers: { authorization: `Bearer ${carl}` },
    })
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const text = await events.text()
    const names = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1])
    const phases = text
      .split('\n\n')
      .filter((block) => block.includes('event: progress'))
      .map((block) => /"phase":"(\w+)"/.exec(block)?.[1])
    expect(names.at(-1)).toBe('done')
    expect(names.slice(0, -1).every((n) => n === 'progress')).toBe(true)
    // queued, then the engine's phases in their order (each once), through the commit.
    const order = [
      'queued',
      'lock',
      'snapshot',
      'diff',
      'conflicts',
      'resolve',
      'preview',
      'validate',
      'write',
      'commit',
      'finalize',
      'audit',
    ]
    const at = phases.map((p) => order.indexOf(p as string))
    expect(phases[0]).toBe('queued')
    expect(phases).toContain('commit')
    expect(at.every((x) => x >= 0)).toBe(true)
    expect(phases.indexOf('lock')).toBeLessThan(phases.indexOf('commit'))
    const opRow = await call(served, 'GET', `/api/v1/operations/${op}`, { token: carl })
    expect(opRow.body).toMatchObject({
      status: 'succeeded',
      result: { merged_version: 2, commit_id: 'v2' },
    })
    expect(commits()).toHaveLength(3)
    const rows = await call(served, 'GET', '/api/v1/datasets/1/rows', { token: carl })
    expect(rows.body.rows).toContainEqual({ id: '7', price: '12', qty: '7' })
    const list = await call(served, 'GET', '/api/v1/datasets/1/change_requests?status=merged', {
      token: carl,
    })
    expect((list.body.change_requests as { id: string }[]).map((c) => c.id).sort()).toEqual(
      [a.id, bId].sort(),
    )
    await served.stop()
  },
  SLOW,
)

test(
  'close and reopen: contributors their own only; Idempotency-Key replays and refuses a different body',
  async () => {
    const { ann, bob, carl, served, commits, cr } = await setup()
    const c = await cr(ann, { title: 'ann', upserts: [{ id: 2, qty: 3 }] })
    const d = await cr(bob, { title: 'bob', deletes: [{ id: 1 }] })
    expect(
      (
        await call(served, 'PATCH', `/api/v1/change_requests/${c.id}`, {
          token: bob,
          json: { status: 'closed' },
        })
      ).status,
    ).toBe(403)
    expect(
      (
        await call(served, 'PATCH', `/api/v1/change_requests/${d.id}`, {
          token: carl,
          json: { status: 'closed' },
        })
      ).status,
    ).toBe(403)
    const closed = await call(served, 'PATCH', `/api/v1/change_requests/${d.id}`, {
      token: bob,
      json: { status: 'closed' },
    })
    expect(closed.body.status).toBe('closed')
    const closedMerge = await merge(served, bob, d.id)
    expect(closedMerge.status).toBe(409)
    expect(closedMerge.body.code).toBe('invalid_state')
    const reopened = await call(served, 'PATCH', `/api/v1/change_requests/${d.id}`, {
      token: ann,
      json: { status: 'pending' },
    })
    expect(reopened.body.status).toBe('pending')

    const first = await merge(served, bob, d.id, {}, { 'idempotency-key': 'k-1' })
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    expect(first.body).toMatchObject({ merged_version: 1, diff: { rows_deleted: 1 } })
    const again = await merge(served, bob, d.id, {}, { 'idempotency-key': 'k-1' })
    expect(again.status).toBe(200)
    expect(again.body.merged_version).toBe(1)
    const reused = await merge(served, bob, d.id, { dry_run: true }, { 'idempotency-key': 'k-1' })
    expect(reused.status).toBe(422)
    expect(reused.body.code).toBe('idempotency_key_reused')
    expect(commits()).toHaveLength(2)
    await served.stop()
  },
  SLOW,
)

test(
  'two concurrent merges of one change request make exactly one commit',
  async () => {
    const { bob, served, commits, cr } = await setup()
    const e = await cr(bob, { title: 'e', upserts: [{ id: 9, price: 90, qty: 9 }] })
    const both = await Promise.all([merge(served, bob, e.id), merge(served, bob, e.id)])
    const statuses = both.map((r) => r.status).sort()
    expect(statuses[0]).toBe(200)
    expect([200, 409]).toContain(statuses[1])
    const replays = both.filter((r) => r.status === 200).map((r) => r.body.idempotent_replay)
    if (statuses[1] === 200) expect(replays.sort()).toEqual([false, true])
    else expect(both.find((r) => r.status === 409)?.body.code).toBe('merge_in_progress')
    expect(commits()).toHaveLength(2)
    await served.stop()
  },
  SLOW,
)

test(
  "the seed's POST /delta/merge-cr: exact 200 shape, service tokens only, requested_by's role decides",
  async () => {
    const { ann, bob, carl, svc, served, commits, cr } = await setup()
    const f = await cr(bob, {
      title: 'f',
      upserts: [
        { id: 1, price: 10, qty: 5 },
        { id: 4, price: 40, qty: 4 },
      ],
    })
    const payload = {
      project_id: 1,
      dataset_id: 1,
      cr_id: f.id,
      primary_keys: ['id'],
      delta_version_before: 0,
      current_delta_version: 0,
      merge_schema: true,
      requested_by: 'bob',
      skip_conflict_check: false,
      force_merge: false,
    }
    const asUser = await call(served, 'POST', '/delta/merge-cr', { token: ann, json: payload })
    expect(asUser.status).toBe(403)
    const viewer = await call(served, 'POST', '/delta/merge-cr', {
      token: svc,
      json: { ...payload, requested_by: 'carl' },
    })
    expect(viewer.status).toBe(403)
    expect(viewer.body.code).toBe('forbidden')
    const force = await call(served, 'POST', '/delta/merge-cr', {
      token: svc,
      json: { ...payload, force_merge: true },
    })
    expect(force.status).toBe(403)
    const keys = await call(served, 'POST', '/delta/merge-cr', {
      token: svc,
      json: { ...payload, primary_keys: ['sku'] },
    })
    expect(keys.status).toBe(400)
    const missing = await call(served, 'POST', '/delta/merge-cr', {
      token: svc,
      json: { ...payload, cr_id: 'cr_0000000000000000' },
    })
    expect(missing.status).toBe(404)
    expect(missing.body.code).toBe('not_found')
    const ok = await call(served, 'POST', '/delta/merge-cr', { token: svc, json: payload })
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    const mixed = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
      token: bob,
      json: {
        title: 'mixed',
        upserts: [
          { id: 1, qty: 5 },
          { id: 2, price: 1 },
        ],
      },
    })
    expect(mixed.status).toBe(400)
    expect(ok.body).toEqual({
      status: 'ok',
      merged_version: 1,
      commit_id: 'v1',
      rows_affected: 2,
      diff: {
        version_before: 0,
        version_after: 1,
        rows_added: 1,
        rows_updated: 1,
        rows_deleted: 0,
      },
      cleanup: true,
    })
    const moved = await cr(bob, { title: 'g', base_version: 0, upserts: [{ id: 1, qty: 6 }] })
    const conflict = await call(served, 'POST', '/delta/merge-cr', {
      token: svc,
      json: { ...payload, cr_id: moved.id, current_delta_version: 1 },
    })
    expect(conflict.status).toBe(409)
    expect(conflict.body).toMatchObject({
      code: 'merge_conflict',
      message: 'Merge conflicts detected: 1 rows',
    })
    const review = await call(served, 'GET', `/api/v1/change_requests/${moved.id}/conflicts`, {
      token: carl,
    })
    expect(review.status).toBe(200)
    expect(review.body).toMatchObject({
      base_version: 0,
      main_version: 1,
      summary: { rows: 1, cells: 1 },
      items: [
        { key: { id: 1 }, kind: 'cell', cells: [{ column: 'qty', base: 1, ours: 5, theirs: 6 }] },
      ],
    })
    const diff = await call(served, 'GET', `/api/v1/change_requests/${moved.id}/diff`, {
      token: carl,
    })
    expect(diff.body).toMatchObject({
      from_version: 0,
      summary: { rows_modified: 1, rows_added: 0, rows_deleted: 0 },
      rows: [{ key: { id: 1 }, kind: 'modified', changed: ['qty'] }],
    })
    const audit = await call(served, 'GET', `/api/v1/change_requests/${moved.id}/audit`, {
      token: carl,
    })
    expect((audit.body.events as { action: string }[]).map((e) => e.action)).toEqual([
      'cr.create',
      'merge.requested',
      'merge.conflict',
    ])
    const traversal = await call(
      served,
      'GET',
      `/api/v1/change_requests/${moved.id}/audit/..%2F..%2Fduckmerge.db`,
      {
        token: carl,
      },
    )
    expect(traversal.status).toBe(404)
    const stale = await call(served, 'POST', '/delta/merge-cr', {
      token: svc,
      json: { ...payload, cr_id: moved.id, current_delta_version: 0 },
    })
    expect(stale.status).toBe(412)
    expect(commits()).toHaveLength(2)
    // A contributor settles the cell with a value of their own.
    const resolved = await merge(served, bob, moved.id, {
      resolutions: [{ key: { id: 1 }, column: 'qty', value: 7 }],
    })
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200)
    expect(resolved.body).toMatchObject({
      merged_version: 2,
      conflicts: { resolution: 'explicit' },
    })
    const rows = await call(served, 'GET', '/api/v1/datasets/1/rows?limit=1', { token: carl })
    expect(rows.body.rows).toEqual([{ id: '1', price: '10', qty: '7' }])
    expect(commits()).toHaveLength(3)
    await served.stop()
  },
  SLOW,
)
