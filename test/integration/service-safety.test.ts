/** Safety through real HTTP on 127.0.0.1: user text never becomes a path or SQL; limits hold on the stream. */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

const SLOW = 300_000

test(
  'a dataset named ../../etc is 400 and nothing is written outside ids',
  async () => {
    const root = tempDir()
    const ann = token(root, 'ann')
    const served = await serve(root)
    await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
    for (const name of ['../../etc', '..', 'a/b', 'a\\b', 'A']) {
      const raw = await call(
        served,
        'POST',
        `/api/v1/projects/1/datasets?name=${encodeURIComponent(name)}&primary_keys=id`,
        {
          token: ann,
          body: 'id\n1\n',
          headers: { 'content-type': 'text/csv' },
        },
      )
      expect(raw.status, name).toBe(400)
      expect(raw.body.code).toBe('invalid_request')
      const form = new FormData()
      form.set('name', name)
      form.set('primary_keys', '["id"]')
      form.set('file', new Blob(['id\n1\n']), '../../etc/passwd')
      const multipart = await call(served, 'POST', '/api/v1/projects/1/datasets', {
        token: ann,
        body: form,
      })
      expect(multipart.status, name).toBe(400)
    }
    expect(existsSync(join(root, 'datasets'))).toBe(false)
    expect(readdirSync(join(root, 'tmp', 'uploads'))).toEqual([])
    await served.stop()
  },
  SLOW,
)

test(
  'a column named x"; DROP TABLE t; -- is 422 invalid_column_name and the table is intact',
  async () => {
    const root = tempDir()
    const ann = token(root, 'ann')
    const served = await serve(root)
    await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
    const evil = 'x"; DROP TABLE t; --'
    const create = await call(
      served,
      'POST',
      '/api/v1/projects/1/datasets?name=t&primary_keys=id',
      {
        token: ann,
        body: `id,"${evil.replaceAll('"', '""')}"\n1,2\n`,
        headers: { 'content-type': 'text/csv' },
      },
    )
    expect(create.status).toBe(422)
    expect(create.body.code).toBe('invalid_column_name')
    expect(JSON.stringify(create.body.details)).toContain('DROP TABLE')
    const made = await call(served, 'POST', '/api/v1/projects/1/datasets?name=t&primary_keys=id', {
      token: ann,
      body: 'id,price\n1,10\n2,20\n',
      headers: { 'content-type': 'text/csv' },
    })
    expect(made.status).toBe(201)
    const cr = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
      token: ann,
      json: { title: 'evil', upserts: [{ id: 1, [evil]: 3 }] },
    })
    expect(cr.status).toBe(422)
    expect(cr.body.code).toBe('invalid_column_name')
    const after = await call(served, 'GET', '/api/v1/datasets/1', { token: ann })
    expect(after.body).toMatchObject({ current_version: 0, row_count: 2 })
    const rows = await call(served, 'GET', '/api/v1/datasets/1/rows', { token: ann })
    expect(rows.body.rows).toEqual([
      { id: '1', price: '10' },
      { id: '2', price: '20' },
    ])
    await served.stop()
  },
  SLOW,
)

test(
  'an upload over the limit is 413 and its temp file is removed, whatever Content-Length claims',
  async () => {
    const root = tempDir()
    const ann = token(root, 'ann')
    const served = await serve(root, ['--max-upload-bytes', '1000'])
    await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
    const big = `id,v\n${Array.from({ length: 400 }, (_, i) => `${i},${i}`).join('\n')}\n`
    expect(big.length).toBeGreaterThan(1000)
    const raw = await call(served, 'POST', '/api/v1/projects/1/datasets?name=big&primary_keys=id', {
      token: ann,
      body: big,
      headers: { 'content-type': 'text/csv' },
    })
    expect(raw.status).toBe(413)
    expect(raw.body).toMatchObject({ code: 'payload_too_large', details: { limit_bytes: 1000 } })
    // Chunked, no Content-Length at all: still counted on the stream.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode(big.slice(0, 100)))
        controller.close()
      },
    })
    const chunked = await call(
      served,
      'POST',
      '/api/v1/projects/1/datasets?name=big&primary_keys=id',
      {
        token: ann,
        body: stream,
        headers: { 'content-type': 'text/csv' },
      },
    )
    expect(chunked.status).toBe(413)
    const form = new FormData()
    form.set('name', 'big')
    form.set('primary_keys', 'id')
    form.set('file', new Blob([big]), 'big.csv')
    const multipart = await call(served, 'POST', '/api/v1/projects/1/datasets', {
      token: ann,
      body: form,
    })
    expect(multipart.status).toBe(413)
    expect(readdirSync(join(root, 'tmp', 'uploads'))).toEqual([])
    expect(existsSync(join(root, 'datasets'))).toBe(false)
    const small = await call(
      served,
      'POST',
      '/api/v1/projects/1/datasets?name=small&primary_keys=id',
      {
        token: ann,
        body: 'id,v\n1,1\n',
        headers: { 'content-type': 'text/csv' },
      },
    )
    expect(small.status).toBe(201)
    await served.stop()
  },
  SLOW,
)
