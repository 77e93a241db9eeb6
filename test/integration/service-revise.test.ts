/** PUT /change_requests/{cr}/rows through real HTTP: a new revision, by its author or an owner. */
import { expect, test } from 'vitest'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

test('replacing the rows makes a new revision (multipart, raw or JSON); only the author or an owner; the merge commits the last revision', async () => {
  const root = tempDir()
  const ann = token(root, 'ann')
  const bob = token(root, 'bob')
  const dan = token(root, 'dan')
  const carl = token(root, 'carl')
  const served = await serve(root)
  await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
  for (const [user, role] of [
    ['bob', 'contributor'],
    ['dan', 'contributor'],
    ['carl', 'viewer'],
  ])
    await call(served, 'PUT', `/api/v1/projects/1/members/${user}`, {
      token: ann,
      json: { role },
    })
  const made = await call(
    served,
    'POST',
    '/api/v1/projects/1/datasets?name=products&primary_keys=id',
    { token: ann, body: 'id,price,qty\n1,10,1\n2,20,2\n', headers: { 'content-type': 'text/csv' } },
  )
  expect(made.status).toBe(201)
  const created = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
    token: bob,
    json: { title: 'cheaper', upserts: [{ id: 1, price: 11 }] },
  })
  expect(created.body).toMatchObject({ revision: 1, status: 'pending' })
  const id = created.body.id as string
  const rowsPath = `/api/v1/change_requests/${id}/rows`

  // Another contributor and a viewer may not.
  const byDan = await call(served, 'PUT', rowsPath, {
    token: dan,
    json: { upserts: [{ id: 1, price: 1 }] },
  })
  expect(byDan.status).toBe(403)
  expect(byDan.body.details).toMatchObject({ required: 'owner', actual: 'contributor' })
  expect(
    (await call(served, 'PUT', rowsPath, { token: carl, json: { upserts: [{ id: 1 }] } })).status,
  ).toBe(403)
  // No rows at all: 400, nothing changed.
  const empty = await call(served, 'PUT', rowsPath, { token: bob, json: { upserts: [] } })
  expect(empty.status).toBe(400)

  // The author, multipart with a new title.
  const form = new FormData()
  form.set('title', 'dearer')
  form.set('file', new Blob(['id,price\n2,22\n']), 'fix.csv')
  const second = await call(served, 'PUT', rowsPath, { token: bob, body: form })
  expect(second.status, JSON.stringify(second.body)).toBe(200)
  expect(second.body).toMatchObject({
    id,
    title: 'dearer',
    revision: 2,
    status: 'pending',
    staged: { rows: 1, upserts: 1, deletes: 0, columns: ['id', 'price'] },
  })
  // An owner, raw CSV with the fields as query parameters.
  const third = await call(served, 'PUT', `${rowsPath}?mode=patch`, {
    token: ann,
    body: 'id,price,_op\n2,23,upsert\n1,,delete\n',
    headers: { 'content-type': 'text/csv' },
  })
  expect(third.status, JSON.stringify(third.body)).toBe(200)
  expect(third.body).toMatchObject({
    title: 'dearer',
    revision: 3,
    staged: { rows: 2, upserts: 1, deletes: 1 },
  })
  // Values that do not convert are refused and the revision stays.
  const bad = await call(served, 'PUT', rowsPath, {
    token: bob,
    json: { upserts: [{ id: 2, price: 'lots' }] },
  })
  expect(bad.status).toBe(422)
  expect(
    (await call(served, 'GET', `/api/v1/change_requests/${id}`, { token: bob })).body,
  ).toMatchObject({ revision: 3 })

  const merged = await call(served, 'POST', `/api/v1/change_requests/${id}/merge`, {
    token: bob,
    json: {},
  })
  expect(merged.status, JSON.stringify(merged.body)).toBe(200)
  expect(merged.body).toMatchObject({
    merged_version: 1,
    diff: { rows_added: 0, rows_updated: 1, rows_deleted: 1 },
  })
  const rows = await call(served, 'GET', '/api/v1/datasets/1/rows', { token: bob })
  expect(rows.body.rows).toEqual([{ id: '2', price: '23', qty: '2' }])
  // Merged: no more revisions.
  const late = await call(served, 'PUT', rowsPath, {
    token: bob,
    json: { upserts: [{ id: 2, price: 24 }] },
  })
  expect(late.status).toBe(409)
  expect(late.body.code).toBe('invalid_state')

  const audit = await call(served, 'GET', `/api/v1/change_requests/${id}/audit`, { token: bob })
  const actions = (audit.body.events as { action: string; actor: string }[]).map(
    (e) => `${e.action} ${e.actor}`,
  )
  expect(actions.slice(0, 3)).toEqual(['cr.create bob', 'cr.revise bob', 'cr.revise ann'])
  const openapi = await call(served, 'GET', '/api/v1/openapi.json')
  const paths = openapi.body.paths as Record<string, Record<string, unknown>>
  expect(Object.keys(paths[`/api/v1/change_requests/{cr}/rows`] ?? {})).toEqual(['put'])
  expect(await served.stop()).toBe(0)
}, 300_000)
