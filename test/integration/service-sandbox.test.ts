/**
 * The service's DuckDB sessions are confined to the data root: a Delta log tampered to point at
 * a Parquet file outside the root (as another writer could commit) is read by the CLI, which is
 * not sandboxed, but never by `serve`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

test('DuckDB sessions of serve refuse files outside the data root; settings locked; no auto-loading', async () => {
  const root = tempDir()
  const outside = join(tempDir(), 'elsewhere')
  const dir = tempDir()
  writeFileSync(join(dir, 'p.csv'), 'id,price\n1,10\n2,20\n')
  writeFileSync(join(dir, 'secret.csv'), 'id,price\n1,999999\n')
  const cli = (args: string[], at = root) => runCli([...args, '--root', at, '--json'])
  const ann = token(root, 'ann')
  expect(
    cli(['dataset', 'create', 's', '--from', join(dir, 'secret.csv'), '--key', 'id'], outside).code,
  ).toBe(0)
  const served = await serve(root)
  await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
  const made = await call(served, 'POST', '/api/v1/projects/1/datasets?name=p&primary_keys=id', {
    token: ann,
    body: 'id,price\n1,10\n2,20\n',
    headers: { 'content-type': 'text/csv' },
  })
  expect(made.status).toBe(201)
  // (A CLI call blocks this process: the server may close the idle keep-alive socket meanwhile,
  // so every CLI call comes before the first request or after the last.)
  const secretTable = join(outside, 'datasets', '1', 'table')
  const secretFile = readdirSync(secretTable).find((f) => f.endsWith('.parquet')) as string
  // Version 0 of "p" now lists the outside file (absolute file: URIs are valid Delta paths).
  const log = join(root, 'datasets', '1', 'table', '_delta_log', '00000000000000000000.json')
  const lines = readFileSync(log, 'utf8').trimEnd().split('\n')
  const tampered = lines.map((line) => {
    const action = JSON.parse(line) as { add?: { path: string } }
    if (!action.add) return line
    action.add.path = `file://${join(secretTable, secretFile)}`
    return JSON.stringify(action)
  })
  writeFileSync(log, `${tampered.join('\n')}\n`)

  const ready = await call(served, 'GET', '/readyz')
  expect(ready.body).toMatchObject({
    status: 'ready',
    duckdb: {
      external_access: false,
      autoload_extensions: false,
      autoinstall_extensions: false,
      configuration_locked: true,
    },
  })
  const rows = await call(served, 'GET', '/api/v1/datasets/1/rows', { token: ann })
  expect(rows.status).not.toBe(200)
  expect(JSON.stringify(rows.body)).not.toContain('999999')
  expect(rows.body.code).toBe('unreadable_upload')
  expect(rows.body.message).toMatch(/file system operations are disabled by configuration/)
  expect(await served.stop()).toBe(0)
  // Not sandboxed, the CLI follows the log outside the root: the test's premise holds.
  expect(cli(['dataset', 'rows', 'p']).json()).toMatchObject({
    rows: [{ id: '1', price: '999999' }],
  })
}, 120_000)
