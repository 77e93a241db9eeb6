/**
 * `engine: 'duckdb'` writes xetrack's layout (issue 8): into the SQLite file when the path is one
 * or a new path not ending in .duckdb (the seed's parallel sweep), into a DuckDB file otherwise,
 * shared by every Tracker of the process and LOCKED for a second process.
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
import { Tracker } from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/temp.js'

const index = pathToFileURL(fileURLToPath(new URL('../../src/index.ts', import.meta.url))).href
const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'))
const tsxLoader = pathToFileURL(join(tsx, 'dist', 'loader.mjs')).href

/** One sweep worker of the seed: engine duckdb, its own params, 50 predictions and a summary. */
const worker = `
import { Tracker } from ${JSON.stringify(index)}
const [db, lr, hold] = process.argv.slice(2)
const tracker = new Tracker({ db, engine: 'duckdb', table: 'predictions',
  params: { experiment_version: 'e' + lr, model: 'mlp', lr: Number(lr) } })
await tracker.ready()
for (let id = 0; id < 50; id++) tracker.track((x) => ({ prediction: x % 2 }), [id])
tracker.log({ accuracy: Number(lr) * 10 })
await tracker.flush()
process.stdout.write('written\\n')
if (hold === 'hold') setInterval(() => {}, 1000)
`

function start(db: string, lr: string, hold = '') {
  const file = join(dirname(db), 'worker.mts')
  writeFileSync(file, worker)
  const child = spawn(process.execPath, ['--import', tsxLoader, file, db, lr, hold], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += String(d)
  })
  const written = new Promise<void>((resolve) =>
    child.stdout.on('data', (d) => String(d).includes('written') && resolve()),
  )
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr })),
  )
  return { child, written, exited }
}

async function duckRows(db: string, query: string): Promise<Record<string, unknown>[]> {
  return withDuckDb({ path: db, readOnly: true }, (conn) => conn.allJson(raw(query)))
}

describe("engine 'duckdb' on a SQLite path", () => {
  test('the seed sweep: 4 parallel workers on one results/experiments.db; exp list shows all', async () => {
    const dir = tempDir()
    const db = join(dir, 'experiments.db')
    const workers = ['0.01', '0.02', '0.03', '0.04'].map((lr) => start(db, lr))
    for (const w of workers) expect(await w.exited).toEqual({ code: 0, stderr: '' })
    const conn = openSqlite(db, { readonly: true })
    try {
      expect(
        conn
          .prepare(
            'select experiment_version as v, count(*) as n, count(prediction) as p from predictions group by v order by v',
          )
          .all(),
      ).toEqual(['0.01', '0.02', '0.03', '0.04'].map((lr) => ({ v: `e${lr}`, n: 51, p: 50 })))
    } finally {
      conn.close()
    }
    const listed = runCli(['exp', 'list', '--db', db, '--json'])
    expect(listed.stderr).toBe('')
    const list = listed.json<{ experiments: { version: string; rows: number }[] }>()
    expect(list.experiments.map((e) => [e.version, e.rows])).toEqual([
      ['e0.01', 51],
      ['e0.02', 51],
      ['e0.03', 51],
      ['e0.04', 51],
    ])
  })

  test('an existing SQLite file keeps its rows and gets the new ones; the cache works', async () => {
    const db = join(tempDir(), 'results.sqlite')
    const first = new Tracker({ db, trackId: 'a' })
    first.log({ loss: 1 })
    await first.close()
    const second = new Tracker({ db, engine: 'duckdb', trackId: 'b', cache: true })
    expect(second.fileFormat).toBe('sqlite')
    second.log({ loss: 0.5 })
    await second.close()
    const conn = openSqlite(db, { readonly: true })
    try {
      expect(conn.prepare('select track_id, loss from "default" order by track_id').all()).toEqual([
        { track_id: 'a', loss: 1 },
        { track_id: 'b', loss: 0.5 },
      ])
    } finally {
      conn.close()
    }
  })
})

describe("engine 'duckdb' on a DuckDB file", () => {
  test('several Trackers in one process all write into one file, xetrack layout', async () => {
    const db = join(tempDir(), 'experiments.duckdb')
    const trackers = [1, 2, 3].map(
      (i) =>
        new Tracker({
          db,
          engine: 'duckdb',
          table: 'metrics',
          trackId: `run-${i}`,
          params: { experiment_version: `e${i}`, lr: i / 100 },
        }),
    )
    expect(trackers.map((t) => t.fileFormat)).toEqual(['duckdb', 'duckdb', 'duckdb'])
    await Promise.all(trackers.map((t) => t.ready()))
    for (let step = 0; step < 100; step++) {
      for (const t of trackers) t.log({ step, Loss: 1 / (step + 1), tag: `s${step}` })
    }
    trackers[0]?.log({ loss: 0.001, big: 2n ** 62n })
    await Promise.all(trackers.map((t) => t.close()))
    expect(
      await duckRows(
        db,
        `select column_name, data_type from duckdb_columns() where table_name = 'metrics' order by column_index`,
      ),
    ).toEqual(
      [
        ['track_id', 'VARCHAR'],
        ['timestamp', 'VARCHAR'],
        ['experiment_version', 'VARCHAR'],
        ['lr', 'DOUBLE'],
        ['step', 'DOUBLE'],
        ['Loss', 'DOUBLE'],
        ['tag', 'VARCHAR'],
        ['big', 'BIGINT'],
      ].map(([column_name, data_type]) => ({ column_name, data_type })),
    )
    expect(
      await duckRows(
        db,
        `select track_id, count(*) as n, sum(step) as steps, max(big)::VARCHAR as big
         from metrics group by track_id order by track_id`,
      ),
    ).toEqual([
      { track_id: 'run-1', n: '101', steps: 4950, big: String(2n ** 62n) },
      { track_id: 'run-2', n: '100', steps: 4950, big: null },
      { track_id: 'run-3', n: '100', steps: 4950, big: null },
    ])
  })

  test('a value its column cannot hold is refused at log(), costing no other row', async () => {
    const db = join(tempDir(), 'e.duckdb')
    const tracker = new Tracker({ db, engine: 'duckdb', trackId: 'r' })
    tracker.log({ loss: 0.5, note: 'a' })
    expect(() => tracker.log({ loss: 'high', note: 'b' })).toThrow(
      'Cannot track "loss": column "loss" holds REAL values, not the text "high". ' +
        'Log it under another key, or as the column type.',
    )
    tracker.log({ loss: 0.25, note: 7 })
    await tracker.close()
    expect(await duckRows(db, 'select loss, note from "default" order by timestamp')).toEqual([
      { loss: 0.5, note: 'a' },
      { loss: 0.25, note: '7' },
    ])
    expect(() => new Tracker({ db, engine: 'duckdb', cache: true })).toThrow(
      /Cannot cache results in DuckDB file/,
    )
  })

  test('a second process gets LOCKED naming the holder; exp list reads the file after', async () => {
    const dir = tempDir()
    const db = join(dir, 'experiments.duckdb')
    const holder = start(db, '0.1', 'hold')
    try {
      await holder.written
      const tracker = new Tracker({ db, engine: 'duckdb', trackId: 't' })
      const error = await tracker.ready().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toMatchObject({ code: 'LOCKED' })
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Cannot track into ${db}: .*\\(PID ${holder.child.pid}\\) holds its lock\\. DuckDB lets one process write a file: track into a SQLite file`,
        ),
      )
      await expect(tracker.close()).rejects.toMatchObject({ code: 'LOCKED' })
      const reading = runCli(['exp', 'list', '--db', db])
      expect(reading.code).toBe(1)
      expect(reading.stderr).toMatch(
        new RegExp(
          `\\[LOCKED\\]: Cannot read results database ${db}: .*\\(PID ${holder.child.pid}\\) holds its lock\\. DuckDB lets no other process read`,
        ),
      )
    } finally {
      holder.child.kill()
      await holder.exited
    }
    const listed = runCli(['exp', 'list', '--db', db, '--json'])
    expect(listed.stderr).toBe('')
    expect(
      listed.json<{ experiments: { version: string; rows: number }[] }>().experiments,
    ).toMatchObject([{ version: 'e0.1', rows: 51 }])
  })
})

test('results merge and exp list read tracker-written DuckDB files like SQLite ones', async () => {
  const dir = tempDir()
  for (const name of ['base', 'exp']) {
    const tracker = new Tracker({
      db: join(dir, `${name}.duckdb`),
      engine: 'duckdb',
      table: 'predictions',
      trackId: name,
      params: { experiment_version: `e-${name}` },
    })
    for (let i = 0; i < 5; i++) tracker.log({ i, accuracy: i / 10 })
    await tracker.close()
  }
  const output = join(dir, 'merged.duckdb')
  const merged = runCli([
    'results',
    'merge',
    '--base',
    join(dir, 'base.duckdb'),
    '--exp',
    join(dir, 'exp.duckdb'),
    '--output',
    output,
    '--json',
  ])
  expect(merged.stderr).toBe('')
  expect(merged.json()).toMatchObject({ rowsBefore: 5, rowsInserted: 5, rowsAfter: 10 })
  const listed = runCli(['exp', 'list', '--db', output, '--sort', 'accuracy', '--json'])
  expect(
    listed
      .json<{ experiments: { version: string; rows: number; metrics: object }[] }>()
      .experiments.map((e) => [e.version, e.rows, e.metrics]),
  ).toEqual([
    ['e-base', 5, { i: { count: 5, mean: 2 }, accuracy: { count: 5, mean: 0.2 } }],
    ['e-exp', 5, { i: { count: 5, mean: 2 }, accuracy: { count: 5, mean: 0.2 } }],
  ])
})
