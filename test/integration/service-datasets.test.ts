/** Projects, members, roles and datasets through real HTTP. */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

const csv = 'id,price,name\n1,10,a\n2,20,b\n3,30,c\n'

test('owner creates a project and a dataset from CSV; members by role; non-members get 404', async () => {
  const root = tempDir()
  const ann = token(root, 'ann')
  const bob = token(root, 'bob')
  const eve = token(root, 'eve')
  const served = await serve(root)
  const project = await call(served, 'POST', '/api/v1/projects', {
    token: ann,
    json: { name: 'shop' },
  })
  expect(project.status).toBe(201)
  expect(project.body).toMatchObject({ id: 1, name: 'shop', role: 'owner' })
  const created = await call(
    served,
    'POST',
    '/api/v1/projects/1/datasets?name=products&primary_keys=id',
    {
      token: ann,
      body: csv,
      headers: { 'content-type': 'text/csv' },
    },
  )
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  expect(created.body).toMatchObject({
    id: 1,
    project_id: 1,
    name: 'products',
    primary_keys: ['id'],
    current_version: 0,
    row_count: 3,
  })
  expect((created.body.schema as { name: string }[]).map((c) => c.name)).toEqual([
    'id',
    'price',
    'name',
  ])
  expect(
    existsSync(join(root, 'datasets', '1', 'table', '_delta_log', '00000000000000000000.json')),
  ).toBe(true)

  // Non-members learn nothing: 404 for the project and the dataset alike.
  expect((await call(served, 'GET', '/api/v1/projects/1', { token: bob })).status).toBe(404)
  expect((await call(served, 'GET', '/api/v1/datasets/1', { token: bob })).status).toBe(404)
  expect((await call(served, 'GET', '/api/v1/datasets/1', { token: eve })).body.code).toBe(
    'not_found',
  )

  const added = await call(served, 'PUT', '/api/v1/projects/1/members/bob', {
    token: ann,
    json: { role: 'viewer' },
  })
  expect(added.status).toBe(200)
  const read = await call(served, 'GET', '/api/v1/datasets/1', { token: bob })
  expect(read.status).toBe(200)
  expect(read.body.row_count).toBe(3)
  // A viewer cannot manage members or create datasets: 403 naming the role needed.
  const denied = await call(served, 'PUT', '/api/v1/projects/1/members/eve', {
    token: bob,
    json: { role: 'owner' },
  })
  expect(denied.status).toBe(403)
  expect(denied.body).toMatchObject({
    code: 'forbidden',
    details: { required: 'owner', actual: 'viewer' },
  })
  const rows = await call(served, 'GET', '/api/v1/datasets/1/rows?limit=2', { token: bob })
  expect(rows.status).toBe(200)
  expect(rows.body.rows).toEqual([
    { id: '1', price: '10', name: 'a' },
    { id: '2', price: '20', name: 'b' },
  ])
  const page = rows.body.page as { has_more: boolean; next_cursor: string }
  expect(page.has_more).toBe(true)
  const next = await call(
    served,
    'GET',
    `/api/v1/datasets/1/rows?limit=2&cursor=${page.next_cursor}`,
    { token: bob },
  )
  expect(next.body.rows).toEqual([{ id: '3', price: '30', name: 'c' }])
  expect(next.body.page).toMatchObject({ has_more: false, next_cursor: null })
  const badCursor = await call(served, 'GET', '/api/v1/datasets/1/rows?cursor=zzz', { token: bob })
  expect(badCursor.status).toBe(400)
  const versions = await call(served, 'GET', '/api/v1/datasets/1/versions', { token: bob })
  expect((versions.body.versions as { version: number }[]).map((v) => v.version)).toEqual([0])

  // The last owner cannot leave.
  const lastOwner = await call(served, 'DELETE', '/api/v1/projects/1/members/ann', { token: ann })
  expect(lastOwner.status).toBe(409)
  await served.stop()
})

test('a Parquet upload (multipart) is sniffed by its bytes; rules are read and replaced by owners only', async () => {
  const root = tempDir()
  const ann = token(root, 'ann')
  const served = await serve(root)
  await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
  await call(served, 'POST', '/api/v1/projects/1/datasets?name=first&primary_keys=["id"]', {
    token: ann,
    body: csv,
    headers: { 'content-type': 'text/csv' },
  })
  // The Delta table's data file is a real Parquet file; its name says nothing of the format.
  const dataDir = join(root, 'datasets', '1', 'table')
  const parquet = readdirSync(dataDir).find((f) => f.endsWith('.parquet')) as string
  const { readFileSync } = await import('node:fs')
  const form = new FormData()
  form.set('name', 'second')
  form.set('primary_keys', '["id"]')
  form.set('file', new Blob([readFileSync(join(dataDir, parquet))]), 'upload.csv')
  const created = await call(served, 'POST', '/api/v1/projects/1/datasets', {
    token: ann,
    body: form,
  })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  expect(created.body).toMatchObject({ id: 2, name: 'second', row_count: 3, current_version: 0 })
  expect((created.body.schema as { type: string }[]).map((c) => c.type)).toEqual([
    'BIGINT',
    'BIGINT',
    'VARCHAR',
  ])

  const rules = [{ name: 'price present', type: 'not_null', column: 'price', severity: 'error' }]
  const put = await call(served, 'PUT', '/api/v1/datasets/2/validation-rules', {
    token: ann,
    json: rules,
  })
  expect(put.status, JSON.stringify(put.body)).toBe(200)
  const got = await call(served, 'GET', '/api/v1/datasets/2/validation-rules', { token: ann })
  expect(got.body.rules).toEqual([{ ...rules[0] }])
  const bad = await call(served, 'PUT', '/api/v1/datasets/2/validation-rules', {
    token: ann,
    json: [{ name: 'x', type: 'not_null', column: 'nope' }],
  })
  expect(bad.status).toBe(400)
  expect(bad.body.code).toBe('invalid_request')
  const wrongType = await call(
    served,
    'POST',
    '/api/v1/projects/1/datasets?name=x&primary_keys=id',
    {
      token: ann,
      body: '{}',
      headers: { 'content-type': 'application/xml' },
    },
  )
  expect(wrongType.status).toBe(415)
  await served.stop()
})
