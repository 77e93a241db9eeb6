/** Merge options through real HTTP: skip_conflict_check is not force_merge. */
import { expect, test } from 'vitest'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

test('force_merge checks and takes theirs whole rows on conflicts (row rule); skip_conflict_check applies theirs cells over the head and keeps others’ cells; both owner-only', async () => {
  const root = tempDir()
  const ann = token(root, 'ann')
  const bob = token(root, 'bob')
  const served = await serve(root)
  await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
  await call(served, 'PUT', '/api/v1/projects/1/members/bob', {
    token: ann,
    json: { role: 'contributor' },
  })
  const made = await call(
    served,
    'POST',
    '/api/v1/projects/1/datasets?name=products&primary_keys=id',
    { token: ann, body: 'id,price,qty\n7,10,7\n8,10,8\n', headers: { 'content-type': 'text/csv' } },
  )
  expect(made.status).toBe(201)
  const cr = async (json: unknown) => {
    const r = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
      token: bob,
      json,
    })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    return r.body.id as string
  }
  const merge = (user: string, id: string, json: unknown) =>
    call(served, 'POST', `/api/v1/change_requests/${id}/merge`, { token: user, json })
  // From base 0: A changes price and qty of both rows; B7 and B8 change only the price.
  const a = await cr({
    title: 'a',
    upserts: [
      { id: 7, price: 11, qty: 5 },
      { id: 8, price: 11, qty: 5 },
    ],
  })
  const b7 = await cr({ title: 'b7', base_version: 0, upserts: [{ id: 7, price: 12 }] })
  const b8 = await cr({ title: 'b8', base_version: 0, upserts: [{ id: 8, price: 12 }] })
  expect((await merge(bob, a, {})).body).toMatchObject({ merged_version: 1 })

  // Under the row rule both are conflicts.
  const refused = await merge(bob, b8, { rule: 'row' })
  expect(refused.status).toBe(409)
  expect(refused.body.code).toBe('merge_conflict')
  // Contributors may do neither.
  for (const option of ['force_merge', 'skip_conflict_check']) {
    const denied = await merge(bob, b7, { [option]: true })
    expect(denied.status, option).toBe(403)
    expect(denied.body.details).toMatchObject({ required: 'owner', because: option })
  }

  const forced = await merge(ann, b7, { force_merge: true, rule: 'row' })
  expect(forced.status, JSON.stringify(forced.body)).toBe(200)
  expect(forced.body).toMatchObject({
    merged_version: 2,
    conflicts: { total: 1, rule: 'row', resolution: 'forced' },
    diff: { rows_updated: 1, cells_modified: 2 },
  })
  const skipped = await merge(ann, b8, { skip_conflict_check: true, rule: 'row' })
  expect(skipped.status, JSON.stringify(skipped.body)).toBe(200)
  expect(skipped.body).toMatchObject({
    merged_version: 3,
    conflicts: { rule: 'cell', resolution: 'skipped' },
    diff: { rows_updated: 1, cells_modified: 1 },
  })
  const audit = await call(served, 'GET', `/api/v1/change_requests/${b8}/audit/conflicts.json`, {
    token: ann,
  })
  expect(audit.body).toMatchObject({ resolution: 'skipped', items: [] })

  const rows = await call(served, 'GET', '/api/v1/datasets/1/rows', { token: ann })
  expect(rows.body.rows).toEqual([
    // force took B7's whole row: A's qty 5 is gone.
    { id: '7', price: '12', qty: '7' },
    // skip applied B8's price over the head: A's qty 5 stays.
    { id: '8', price: '12', qty: '5' },
  ])
  expect(await served.stop()).toBe(0)
}, 300_000)
