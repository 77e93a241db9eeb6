/**
 * An async merge's event stream reports progress between phase changes: every event carries the
 * elapsed time, and a reader never waits long between two events while the merge runs (the web
 * UI's merge modal redraws from them).
 */
import { expect, test } from 'vitest'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

const ROWS = 200_000

interface Received {
  readonly at: number
  readonly event: string
  readonly data: Record<string, unknown>
}

test('an async merge sends progress ticks with the elapsed time until it is done', async () => {
  const root = tempDir()
  const ann = token(root, 'ann')
  const served = await serve(root)
  await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'big' } })
  const lines = ['id,a,b']
  for (let i = 0; i < ROWS; i++) lines.push(`${i},${i % 97},name-${i}`)
  const created = await call(served, 'POST', '/api/v1/projects/1/datasets?name=t&primary_keys=id', {
    token: ann,
    body: `${lines.join('\n')}\n`,
    headers: { 'content-type': 'text/csv' },
  })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  const patch = ['id,a']
  for (let i = 0; i < ROWS; i += 2) patch.push(`${i},${(i % 97) + 1}`)
  const form = new FormData()
  form.set('title', 'half the rows')
  form.set('file', new Blob([`${patch.join('\n')}\n`]), 'patch.csv')
  const cr = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
    token: ann,
    body: form,
  })
  expect(cr.status, JSON.stringify(cr.body)).toBe(201)

  const accepted = await call(served, 'POST', `/api/v1/change_requests/${cr.body.id}/merge`, {
    token: ann,
    json: {},
    headers: { prefer: 'respond-async' },
  })
  expect(accepted.status).toBe(202)
  const res = await fetch(`${served.url}/api/v1/operations/${accepted.body.operation_id}/events`, {
    headers: { authorization: `Bearer ${ann}` },
  })
  const received: Received[] = []
  const reader = (res.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream())
    .getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    const blocks = buffer.split('\n\n')
    buffer = blocks.pop() ?? ''
    for (const block of blocks) {
      const event = /^event: (\w+)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event && data) received.push({ at: Date.now(), event, data: JSON.parse(data) })
    }
  }

  expect(received.at(-1)?.event).toBe('done')
  const progress = received.filter((e) => e.event === 'progress')
  const elapsed = progress.map((e) => e.data.elapsed_ms)
  expect(elapsed.every((ms) => typeof ms === 'number')).toBe(true)
  expect(elapsed).toEqual([...(elapsed as number[])].sort((x, y) => x - y))
  const percents = progress.map((e) => Number(e.data.percent))
  expect(percents.every((p) => p >= 0 && p <= 100)).toBe(true)
  // Phase changes alone would be one event per phase; ticks come every 250 ms on top.
  const phases = new Set(progress.map((e) => e.data.phase)).size
  const took = Number(elapsed.at(-1))
  expect(progress.length).toBeGreaterThan(phases + Math.floor(took / 1000))
  // No long silence while it runs (lenient on a loaded machine: the target is 500 ms).
  const gaps = received.slice(1).map((e, i) => e.at - (received[i] as Received).at)
  expect(Math.max(0, ...gaps)).toBeLessThan(1500)
}, 300_000)
