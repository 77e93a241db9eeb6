/** The service process: listening line, health, request ids, auth errors, graceful stop. */
import { expect, test } from 'vitest'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

test('serve prints its URL first, answers health checks and stops on SIGTERM with exit 0', async () => {
  const root = tempDir()
  const served = await serve(root)
  const health = await call(served, 'GET', '/healthz')
  expect(health.status).toBe(200)
  expect(health.body).toEqual({ status: 'ok' })
  expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  const ready = await call(served, 'GET', '/readyz', { headers: { 'x-request-id': 'abc-1' } })
  expect(ready.body).toMatchObject({
    status: 'ready',
    store: 'sqlite',
    duckdb: { external_access: false, configuration_locked: true },
  })
  expect(ready.headers.get('x-request-id')).toBe('abc-1')
  expect(await served.stop()).toBe(0)
})

test('no token, a malformed one and a wrong secret are 401 with WWW-Authenticate; secrets stay out of logs', async () => {
  const root = tempDir()
  const good = token(root, 'ann')
  const served = await serve(root)
  const none = await call(served, 'GET', '/api/v1/projects')
  expect(none.status).toBe(401)
  expect(none.headers.get('www-authenticate')).toBe('Bearer realm="duckmerge"')
  expect(none.body).toMatchObject({ code: 'unauthorized', request_id: expect.any(String) })
  expect(none.body.request_id).toBe(none.headers.get('x-request-id'))
  const malformed = await call(served, 'GET', '/api/v1/projects', { token: 'nope' })
  expect(malformed.status).toBe(401)
  const wrong = `${good.slice(0, -4)}AAAA`
  const bad = await call(served, 'GET', '/api/v1/projects', { token: wrong })
  expect(bad.status).toBe(401)
  expect(bad.body.code).toBe('unauthorized')
  const ok = await call(served, 'GET', '/api/v1/projects', { token: good })
  expect(ok.status).toBe(200)
  await served.stop()
  expect(served.stderr()).not.toContain(good.slice(16))
  expect(served.stderr()).not.toContain(wrong.slice(16))
})

test('after 20 failed logins an address gets 429 with Retry-After, even with a good token', async () => {
  const root = tempDir()
  const good = token(root, 'ann')
  const served = await serve(root)
  // 20 a minute, refilled as time passes: on a slow machine a few more may get through.
  let failures = 0
  for (; failures < 40; failures++) {
    const bad = await call(served, 'GET', '/api/v1/projects', {
      token: `dm_${'a'.repeat(12)}_${'b'.repeat(43)}`,
    })
    if (bad.status === 429) break
    expect(bad.status).toBe(401)
  }
  expect(failures).toBeGreaterThanOrEqual(20)
  expect(failures).toBeLessThan(40)
  const limited = await call(served, 'GET', '/api/v1/projects', { token: good })
  expect(limited.status).toBe(429)
  expect(limited.body.code).toBe('rate_limited')
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  await served.stop()
}, 180_000)
