/**
 * Nothing lost, nothing hung (issue 14): scripts that never call close() exit on their own with
 * every row durable; keys differing only in case share a column; values or keys no column can
 * take are refused at log() without costing the rest of the batch.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { raw } from '../../src/engine/sql.js'
import { openSqlite } from '../../src/engine/sqlite.js'
import { type DuckmergeError, isDuckmergeError, Tracker } from '../../src/index.js'
import { tempDir } from '../support/temp.js'

const index = pathToFileURL(fileURLToPath(new URL('../../src/index.ts', import.meta.url))).href
const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'))
const tsxLoader = pathToFileURL(join(tsx, 'dist', 'loader.mjs')).href

/** Ends without close(), in the way `ending` says. */
const script = `
import { Tracker } from ${JSON.stringify(index)}
const [db, ending] = process.argv.slice(2)
const engine = db.endsWith('.duckdb') ? 'duckdb' : 'sqlite'
const tracker = new Tracker({ db, engine, trackId: 'r1', params: { model: 'mlp' } })
const tryLog = (values) => { try { tracker.log(values) } catch (e) { process.stdout.write(e.code + '\\n') } }
if (ending === 'threw-first') tryLog({ bad: () => 1 })
if (ending === 'logged-then-threw') {
  for (let i = 0; i < 200; i++) tracker.log({ i, loss: 1 / (i + 1) })
  tryLog({ i: 200, huge: 2n ** 70n })
}
if (ending === 'logged') for (let i = 0; i < 200; i++) tracker.log({ i })
`

/** Runs the script; fails the test when it has not exited within `timeoutMs`. */
function runScript(db: string, ending: string, timeoutMs = 30_000) {
  const dir = dirname(db)
  const file = join(dir, 'script.mts')
  writeFileSync(file, script)
  const child = spawn(process.execPath, ['--import', tsxLoader, file, db, ending], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => {
    stdout += String(d)
  })
  child.stderr.on('data', (d) => {
    stderr += String(d)
  })
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the script (${ending}) did not exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

function rows(db: string, query: string): Record<string, unknown>[] {
  const conn = openSqlite(db, { readonly: true })
  try {
    return conn.prepare(query).all() as Record<string, unknown>[]
  } finally {
    conn.close()
  }
}

function columns(db: string, table = 'default'): string[] {
  return rows(db, `select name from pragma_table_info('${table}')`).map((r) => String(r.name))
}

function refusal(fn: () => void): DuckmergeError {
  try {
    fn()
  } catch (error) {
    if (isDuckmergeError(error)) return error
    throw error
  }
  throw new Error('expected a refusal')
}

describe('a script that never calls close() exits, with every row durable', () => {
  test('nothing logged', async () => {
    const db = join(tempDir(), 'e.db')
    expect(await runScript(db, 'nothing')).toEqual({ code: 0, stdout: '', stderr: '' })
  })

  test('the only log() threw', async () => {
    const db = join(tempDir(), 'e.db')
    expect(await runScript(db, 'threw-first')).toEqual({
      code: 0,
      stdout: 'VALIDATION_FAILED\n',
      stderr: '',
    })
  })

  test('200 rows, then a log() that threw: the 200 are there', async () => {
    const db = join(tempDir(), 'e.db')
    expect(await runScript(db, 'logged-then-threw')).toEqual({
      code: 0,
      stdout: 'VALIDATION_FAILED\n',
      stderr: '',
    })
    expect(rows(db, 'select count(*) as n, sum(i) as s from "default"')).toEqual([
      { n: 200, s: 199 * 100 },
    ])
    expect(columns(db)).toEqual(['track_id', 'timestamp', 'model', 'i', 'loss'])
  })

  test('a DuckDB file: 200 rows, then a log() that threw: the 200 are there', async () => {
    const db = join(tempDir(), 'e.duckdb')
    expect(await runScript(db, 'logged-then-threw')).toEqual({
      code: 0,
      stdout: 'VALIDATION_FAILED\n',
      stderr: '',
    })
    const counted = await withDuckDb({ path: db, readOnly: true }, (conn) =>
      conn.allJson(raw('select count(*) as n, sum(i) as s from "default"')),
    )
    expect(counted).toEqual([{ n: '200', s: 199 * 100 }])
  })

  test('200 rows logged', async () => {
    const db = join(tempDir(), 'e.db')
    expect((await runScript(db, 'logged')).code).toBe(0)
    expect(rows(db, 'select count(*) as n, min(model) as m from "default"')).toEqual([
      { n: 200, m: 'mlp' },
    ])
  })
})

describe('keys differing only in case share one column', () => {
  test('Loss, flush, then loss: one column spelled Loss, both rows kept', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1' })
    tracker.log({ Loss: 0.5 })
    await tracker.flush()
    tracker.log({ loss: 0.4 })
    tracker.log({ LOSS: 0.3, step: 3 })
    await tracker.close()
    expect(columns(db)).toEqual(['track_id', 'timestamp', 'Loss', 'step'])
    expect(rows(db, 'select Loss, step from "default" order by timestamp')).toEqual([
      { Loss: 0.5, step: null },
      { Loss: 0.4, step: null },
      { Loss: 0.3, step: 3 },
    ])
  })

  test('a column another writer spelled differently takes this writer rows', async () => {
    const db = join(tempDir(), 'e.db')
    const first = new Tracker({ db, trackId: 'a' })
    first.log({ ACC: 1 })
    await first.close()
    const second = new Tracker({ db, trackId: 'b' })
    second.log({ acc: 2 })
    await second.close()
    expect(columns(db)).toEqual(['track_id', 'timestamp', 'ACC'])
    expect(rows(db, 'select track_id, ACC from "default" order by track_id')).toEqual([
      { track_id: 'a', ACC: 1 },
      { track_id: 'b', ACC: 2 },
    ])
  })

  test('both spellings in one row are refused naming both', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1' })
    const error = refusal(() => tracker.log({ Loss: 1, loss: 2 }))
    expect(error.code).toBe('VALIDATION_FAILED')
    expect(error.message).toBe(
      'Cannot track "loss": it would share column "Loss" with key "Loss" in the same row. ' +
        'Rename one of the two keys.',
    )
    tracker.log({ loss: 3 })
    await tracker.close()
    expect(rows(db, 'select * from "default"').map((r) => r.loss)).toEqual([3])
  })
})

describe('values and keys no column can take are refused at log(), costing no other row', () => {
  test.each<[string, unknown, RegExp]>([
    ['a BigInt beyond 64 bits', 2n ** 64n, /^Cannot track "bad": 18446744073709551616 does not/],
    ['a negative BigInt beyond 64 bits', -(2n ** 63n) - 1n, /does not fit a 64-bit integer/],
    ['a function', () => 1, /^Cannot track "bad": a function cannot be stored/],
    ['a cyclic object', cyclic(), /^Cannot track "bad": its value cannot be written as JSON/],
  ])('%s', async (_name, value, message) => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1', batchSize: 1000 })
    for (let i = 0; i < 100; i++) tracker.log({ i })
    const error = refusal(() => tracker.log({ i: 100, bad: value }))
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', details: { key: 'bad' } })
    expect(error.message).toMatch(message)
    for (let i = 101; i < 200; i++) tracker.log({ i })
    await tracker.close()
    expect(rows(db, 'select count(*) as n, sum(i) as s from "default"')).toEqual([
      { n: 199, s: 199 * 100 - 100 },
    ])
    expect(columns(db)).toEqual(['track_id', 'timestamp', 'i'])
  })

  test('the largest 64-bit integers are stored exactly', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1' })
    tracker.log({ big: 2n ** 63n - 1n })
    tracker.log({ big: -(2n ** 63n) })
    await tracker.close()
    const conn = openSqlite(db, { readonly: true })
    try {
      const big = conn.prepare('select big from "default" order by timestamp').safeIntegers()
      expect(big.all()).toEqual([{ big: 2n ** 63n - 1n }, { big: -(2n ** 63n) }])
    } finally {
      conn.close()
    }
  })

  test.each([
    ['my-metric', 'my metric', 'my_metric'],
    ['my_metric', 'my.metric', 'my_metric'],
    [`${'x'.repeat(64)}-a`, `${'x'.repeat(64)}-b`, 'x'.repeat(64)],
  ])('%s then %s (both column %s) is refused', async (first, second, column) => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1' })
    tracker.log({ [first]: 1 })
    const later = refusal(() => tracker.log({ [second]: 2 }))
    expect(later.message).toBe(
      `Cannot track "${second}": it would share column "${column}" with key "${first}" ` +
        'logged earlier. Rename one of the two keys.',
    )
    expect(later.details).toEqual({ key: second, column, otherKey: first })
    expect(refusal(() => tracker.log({ [first]: 3, [second]: 4 })).code).toBe('VALIDATION_FAILED')
    tracker.log({ [first]: 5 })
    await tracker.close()
    expect(rows(db, `select "${column}" as v from "default" order by timestamp`)).toEqual([
      { v: 1 },
      { v: 5 },
    ])
  })

  test('a param and a value that sanitise to one column are refused at log()', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1', params: { 'learning-rate': 0.1 } })
    expect(refusal(() => tracker.log({ learning_rate: 0.2 })).details).toMatchObject({
      key: 'learning_rate',
      otherKey: 'learning-rate',
    })
    await tracker.close()
  })
})

function cyclic(): Record<string, unknown> {
  const value: Record<string, unknown> = { a: 1 }
  value.self = value
  return value
}
