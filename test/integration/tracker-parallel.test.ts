/**
 * Many writers, one SQLite file: 4 processes and 4 worker threads start together on a file that
 * does not exist yet, all adding the same new columns at once (where xetrack loses rows and
 * crashes), ending in different ways. Every row must be there.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { describe, expect, test } from 'vitest'
import { openSqlite } from '../../src/engine/sqlite.js'
import { tempDir } from '../support/temp.js'

const index = pathToFileURL(fileURLToPath(new URL('../../src/index.ts', import.meta.url))).href
const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'))
const tsxLoader = pathToFileURL(join(tsx, 'dist', 'loader.mjs')).href
const tsxApi = pathToFileURL(join(tsx, 'dist', 'esm', 'api', 'index.mjs')).href

/** One writer: waits for the go file, then tracks `n` predictions, then ends as `ending` says. */
const writerScript = `
import { existsSync } from 'node:fs'
import { workerData } from 'node:worker_threads'
import { Tracker } from ${JSON.stringify(index)}
const [db, trackId, n, ending, go] = workerData?.args ?? process.argv.slice(2)
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 2))
const tracker = new Tracker({ db, table: 'predictions', trackId, batchSize: 25,
  params: { experiment_version: 'e0.2.0', lr: trackId.length / 1000 } })
const predict = (item) => ({ input_id: item.id, prediction: item.id % 2, latency: item.id / 7 })
for (let id = 0; id < Number(n); id++) {
  tracker.track(predict, [{ id }])
  if (id % 20 === 0) await new Promise((r) => setImmediate(r))
}
tracker.log({ n: Number(n), accuracy: 0.5 })
if (ending === 'close') await tracker.close()
if (ending === 'flush-then-hang') {
  await tracker.flush()
  process.stdout.write('flushed\\n')
  for (let id = 0; id < 100; id++) tracker.log({ input_id: 10_000 + id })
  setInterval(() => {}, 1000)
}
if (ending === 'exit') process.exit(0)
`

function countRows(db: string) {
  const conn = openSqlite(db, { readonly: true })
  try {
    return {
      columns: (
        conn.prepare(`select name from pragma_table_info('predictions')`).all() as {
          name: string
        }[]
      ).map((c) => c.name),
      perRun: conn
        .prepare(
          `select track_id, count(*) as n, count(input_id) as predictions,
             sum(input_id) as ids from predictions group by track_id order by track_id`,
        )
        .all(),
      integrity: conn.pragma('integrity_check', { simple: true }),
    }
  } finally {
    conn.close()
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += String(d)
  })
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })))
}

const n = 300
const expected = (runs: string[]) =>
  runs.map((trackId) => ({
    track_id: trackId,
    n: n + 1,
    predictions: n,
    ids: ((n - 1) * n) / 2,
  }))
const expectedColumns = [
  'track_id',
  'timestamp',
  'experiment_version',
  'lr',
  'function_name',
  'args',
  'kwargs',
  'error',
  'function_time',
  'input_id',
  'prediction',
  'latency',
  'n',
  'accuracy',
]

describe('parallel writers on one fresh SQLite file', () => {
  test('4 processes (closing, ending naturally, calling process.exit) lose no row', async () => {
    const dir = tempDir()
    const script = join(dir, 'writer.mts')
    writeFileSync(script, writerScript)
    const db = join(dir, 'experiments.db')
    const go = join(dir, 'go')
    const runs = [
      ['run-a-0001', 'close'],
      ['run-b-0002', 'close'],
      ['run-c-0003', 'natural'],
      ['run-d-0004', 'exit'],
    ] as const
    const children = runs.map(([trackId, ending]) =>
      spawn(process.execPath, ['--import', tsxLoader, script, db, trackId, String(n), ending, go], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    )
    const results = children.map(exited)
    await new Promise((r) => setTimeout(r, 300))
    expect(existsSync(db)).toBe(false)
    writeFileSync(go, '')
    for (const result of await Promise.all(results)) expect(result).toEqual({ code: 0, stderr: '' })

    const { columns, perRun, integrity } = countRows(db)
    expect(integrity).toBe('ok')
    expect(columns).toEqual(expectedColumns)
    expect(perRun).toEqual(expected(runs.map(([id]) => id)))
  })

  test('4 worker threads lose no row', async () => {
    const dir = tempDir()
    const script = join(dir, 'writer.mts')
    writeFileSync(script, writerScript)
    const db = join(dir, 'experiments.db')
    const go = join(dir, 'go')
    const runs = ['thread-a-0001', 'thread-b-0002', 'thread-c-0003', 'thread-d-0004']
    const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register();
      return import(${JSON.stringify(pathToFileURL(script).href)}) })`
    const workers = runs.map(
      (trackId, i) =>
        new Worker(boot, {
          eval: true,
          workerData: { args: [db, trackId, String(n), i % 2 ? 'close' : 'natural', go] },
        }),
    )
    const exits = workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.on('error', reject)
          w.on('exit', resolve)
        }),
    )
    writeFileSync(go, '')
    expect(await Promise.all(exits)).toEqual([0, 0, 0, 0])
    const { columns, perRun, integrity } = countRows(db)
    expect(integrity).toBe('ok')
    expect(columns).toEqual(expectedColumns)
    expect(perRun).toEqual(expected(runs))
  })

  test('SIGKILL after flush(): every flushed row survives and the file stays sound', async () => {
    const dir = tempDir()
    const script = join(dir, 'writer.mts')
    writeFileSync(script, writerScript)
    const db = join(dir, 'experiments.db')
    const go = join(dir, 'go')
    writeFileSync(go, '')
    const child = spawn(
      process.execPath,
      ['--import', tsxLoader, script, db, 'killed-run-0001', String(n), 'flush-then-hang', go],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const done = exited(child)
    await new Promise<void>((resolve) =>
      child.stdout?.on('data', (d) => String(d).includes('flushed') && resolve()),
    )
    child.kill('SIGKILL')
    expect((await done).code).toBeNull()
    const { perRun, integrity } = countRows(db)
    expect(integrity).toBe('ok')
    const [run] = perRun as { n: number; predictions: number }[]
    // The n predictions and the summary row were flushed; of the 100 after, any prefix may be there.
    expect(run?.n).toBeGreaterThanOrEqual(n + 1)
    expect(run?.n).toBeLessThanOrEqual(n + 101)
  })
})
