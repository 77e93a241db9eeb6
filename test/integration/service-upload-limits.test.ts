/**
 * Rows and columns per upload through real HTTP: a CSV counted on the stream (quoted newlines
 * are not rows), a Parquet file judged by its footer, checked before DuckDB reads it; temp
 * files removed every time.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/temp.js'
import { call, serve, token } from './service-support.js'

/** A real Parquet file of `csv`'s rows: the data file of a dataset the CLI makes elsewhere. */
function parquetOf(csv: string): Buffer {
  const dir = tempDir()
  writeFileSync(join(dir, 'in.csv'), csv)
  const root = join(dir, 'root')
  const made = runCli([
    'dataset',
    'create',
    'd',
    '--from',
    join(dir, 'in.csv'),
    '--key',
    'id',
    '--root',
    root,
    '--json',
  ])
  expect(made.code, made.stderr).toBe(0)
  const table = join(root, 'datasets', '1', 'table')
  const file = readdirSync(table).find((f) => f.endsWith('.parquet')) as string
  return readFileSync(join(table, file))
}

test('over --max-upload-rows / --max-upload-columns → 413 too_many_rows / too_many_columns; a broken Parquet footer → 400 invalid_parquet; temp files removed', async () => {
  const root = tempDir()
  const ann = token(root, 'ann')
  const sixRows = parquetOf('id,a,b\n1,1,1\n2,2,2\n3,3,3\n4,4,4\n5,5,5\n6,6,6\n')
  const fourColumns = parquetOf('id,a,b,c\n1,1,1,1\n')
  const good = parquetOf('id,a,b\n1,1,1\n2,2,2\n')
  const served = await serve(root, ['--max-upload-rows', '5', '--max-upload-columns', '3'])
  await call(served, 'POST', '/api/v1/projects', { token: ann, json: { name: 'shop' } })
  let n = 0
  const upload = (body: string | Buffer, type = 'text/csv') =>
    call(served, 'POST', `/api/v1/projects/1/datasets?name=d${++n}&primary_keys=id`, {
      token: ann,
      body,
      headers: { 'content-type': type },
    })
  const parquet = 'application/vnd.apache.parquet'

  const rows = (k: number) => Array.from({ length: k }, (_, i) => `${i},${i}`).join('\n')
  expect((await upload(`id,v\n${rows(5)}\n`)).status).toBe(201)
  // No trailing newline: the last row still counts.
  const six = await upload(`id,v\n${rows(6)}`)
  expect(six.status).toBe(413)
  expect(six.body).toMatchObject({ code: 'too_many_rows', details: { limit_rows: 5 } })
  // Newlines inside quotes are not rows; \r\n endings are one row each.
  const quoted = await upload('id,note\r\n1,"a\nb\nc\nd\ne\nf"\r\n2,x\r\n')
  expect(quoted.status, JSON.stringify(quoted.body)).toBe(201)
  expect(quoted.body).toMatchObject({ row_count: 2 })
  const wide = await upload('id;a;b;c\n1;2;3;4\n')
  expect(wide.status).toBe(413)
  expect(wide.body).toMatchObject({
    code: 'too_many_columns',
    details: { limit_columns: 3, columns: 4 },
  })
  // A multipart upload is counted the same way.
  const form = new FormData()
  form.set('name', 'multi')
  form.set('primary_keys', 'id')
  form.set('file', new Blob([`id,v\n${rows(7)}\n`]), 'x.csv')
  const multi = await call(served, 'POST', '/api/v1/projects/1/datasets', {
    token: ann,
    body: form,
  })
  expect(multi.body).toMatchObject({ code: 'too_many_rows' })

  expect((await upload(good, parquet)).status).toBe(201)
  const tooLong = await upload(sixRows, parquet)
  expect(tooLong.status).toBe(413)
  expect(tooLong.body).toMatchObject({ code: 'too_many_rows', details: { rows: 6 } })
  const tooWide = await upload(fourColumns, parquet)
  expect(tooWide.status).toBe(413)
  expect(tooWide.body).toMatchObject({ code: 'too_many_columns', details: { columns: 4 } })
  // Truncated: no closing magic.
  const truncated = await upload(good.subarray(0, good.length - 10), parquet)
  expect(truncated.status).toBe(400)
  expect(truncated.body.code).toBe('invalid_parquet')
  expect(truncated.body.message).toMatch(/does not end with PAR1/)
  // A footer length past the start of the file.
  const lying = Buffer.from(good)
  lying.writeUInt32LE(good.length, good.length - 8)
  const lied = await upload(lying, parquet)
  expect(lied.status).toBe(400)
  expect(lied.body.message).toMatch(new RegExp(`declares a footer of ${good.length} bytes`))
  // A footer that fits but is garbage.
  const garbage = Buffer.from(good)
  const footer = good.readUInt32LE(good.length - 8)
  garbage.fill(0xff, good.length - 8 - footer, good.length - 8)
  const garbled = await upload(garbage, parquet)
  expect(garbled.status).toBe(400)
  expect(garbled.body.code).toBe('invalid_parquet')

  // JSON rows of a change request: the same limits.
  const json = await call(served, 'POST', '/api/v1/datasets/1/change_requests', {
    token: ann,
    json: { title: 'many', upserts: Array.from({ length: 6 }, (_, i) => ({ id: i, v: i })) },
  })
  expect(json.status).toBe(413)
  expect(json.body).toMatchObject({ code: 'too_many_rows', details: { rows: 6 } })

  expect(readdirSync(join(root, 'tmp', 'uploads'))).toEqual([])
  const project = await call(served, 'GET', '/api/v1/projects/1', { token: ann })
  expect((project.body.datasets as { name: string }[]).map((d) => d.name).sort()).toEqual([
    'd1',
    'd3',
    'd5',
  ])
  expect(await served.stop()).toBe(0)
}, 300_000)
