/**
 * Tracker throughput into SQLite: log() as the caller sees it (µs per call) and rows/s until
 * durable (flush), in one process and in four processes writing one file, next to the floors
 * measured in the same run: single-row commits (WAL, synchronous=NORMAL) and a plain prepared
 * insert loop in one transaction. xetrack, for reference, manages about 1,500 rows/s.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { openSqlite } from '../src/engine/sqlite.js'
import { Tracker } from '../src/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

const rows = Number(process.env.TRACKER_BENCH_ROWS ?? 500_000)
const singleCommits = 20_000
const params = { experiment_version: 'e0.1.0', model: 'tiny-mlp', lr: 0.01 }
const row = (i: number) => ({
  input_id: i,
  prediction: i % 2,
  label: (i >> 1) % 2,
  accuracy: i % 3 === 0 ? 1 : 0,
  latency: 5 + (i % 17) / 3,
})
const columns = [
  'track_id',
  'timestamp',
  'experiment_version',
  'model',
  'lr',
  'input_id',
  'prediction',
  'label',
  'accuracy',
  'latency',
]

function createTable(path: string): ReturnType<typeof openSqlite> {
  const db = openSqlite(path, { fileMustExist: false })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`create table predictions (track_id TEXT, timestamp TEXT, experiment_version TEXT,
    model TEXT, lr REAL, input_id INTEGER, prediction INTEGER, label INTEGER, accuracy INTEGER,
    latency REAL, PRIMARY KEY (track_id, timestamp))`)
  return db
}

function insertValues(i: number) {
  const r = row(i)
  const ts = `2024-01-01 00:00:${String(Math.floor(i / 1e6)).padStart(2, '0')}.${String(i % 1e6).padStart(6, '0')}`
  return [
    'run',
    ts,
    params.experiment_version,
    params.model,
    params.lr,
    r.input_id,
    r.prediction,
    r.label,
    r.accuracy,
    r.latency,
  ]
}

const rate = (n: number, m: Measurement) => Math.round(n / (m.ms / 1000))
const line = (text: string) => process.stdout.write(`${text}\n`)

const { dir, done } = benchDir('tracker')
try {
  // Floor 1: one commit per row.
  const single = createTable(join(dir, 'single.db'))
  const insertOne = single.prepare(
    `insert into predictions (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`,
  )
  const singleM = await measure(async () => {
    for (let i = 0; i < singleCommits; i++) insertOne.run(insertValues(i))
  })
  single.close()

  // Floor 2: a prepared insert loop in one transaction.
  const batched = createTable(join(dir, 'batched.db'))
  const insertMany = batched.prepare(
    `insert into predictions (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`,
  )
  const batchedM = await measure(async () => {
    batched.transaction(() => {
      for (let i = 0; i < rows; i++) insertMany.run(insertValues(i))
    })()
  })
  batched.close()

  // Tracker, one process: log() loop (caller's view), then until durable.
  const path = join(dir, 'tracker.db')
  const tracker = new Tracker({ db: path, table: 'predictions', params, trackId: 'bench-run-0001' })
  await tracker.ready()
  let logMs = 0
  const samples: number[] = []
  const trackerM = await measure(async () => {
    const started = performance.now()
    for (let i = 0; i < rows; i++) {
      if (i % 1000 === 0) {
        const t = performance.now()
        tracker.log(row(i))
        samples.push(performance.now() - t)
      } else tracker.log(row(i))
    }
    logMs = performance.now() - started
    await tracker.flush()
  })
  await tracker.close()
  const check = openSqlite(path, { readonly: true })
  const stored = (check.prepare('select count(*) as n from predictions').get() as { n: number }).n
  check.close()
  if (stored !== rows) throw new Error(`tracker stored ${stored} rows, expected ${rows}`)

  report(`tracker log()+flush, ${rows} rows, 1 process`, trackerM, {
    label: 'prepared insert loop, one transaction',
    m: batchedM,
  })
  samples.sort((a, b) => a - b)
  const p99 = samples[Math.floor(samples.length * 0.99)] ?? 0
  line(
    `  tracker: ${rate(rows, trackerM)} rows/s durable   floors: ${rate(singleCommits, singleM)} single-row commits/s, ${rate(rows, batchedM)} rows/s batched   target ≥ 100000 rows/s   xetrack ≈ 1500 rows/s`,
  )
  line(
    `  log() as the caller sees it: ${((logMs * 1000) / rows).toFixed(2)} µs mean per call (loop ${logMs.toFixed(0)} ms), sampled p99 ${(p99 * 1000).toFixed(1)} µs`,
  )

  // The alternative design, group commits on the caller's thread, runs at the batched floor but
  // stops the event loop for every commit; the write worker never does.
  line(
    `  main-thread group commit instead: ${((batchedM.ms / rows) * 4096).toFixed(1)} ms event-loop stall per 4096-row commit (from the batched floor); write worker: none`,
  )

  // Tracker, four processes on one fresh file, released together.
  const perProcess = Math.floor(rows / 4)
  const shared = join(dir, 'shared.db')
  const go = join(dir, 'go')
  const script = join(dir, 'writer.mts')
  const index = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href
  writeFileSync(
    script,
    `import { existsSync } from 'node:fs'
     import { Tracker } from ${JSON.stringify(index)}
     const [db, trackId, n, go] = process.argv.slice(2)
     const tracker = new Tracker({ db, table: 'predictions', trackId, params: ${JSON.stringify(params)} })
     await tracker.ready()
     process.stdout.write('ready\\n')
     while (!existsSync(go)) await new Promise((r) => setTimeout(r, 1))
     for (let i = 0; i < Number(n); i++) tracker.log({ input_id: i, prediction: i % 2, label: (i >> 1) % 2, accuracy: i % 3 === 0 ? 1 : 0, latency: 5 + (i % 17) / 3 })
     await tracker.close()`,
  )
  const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'))
  const loader = pathToFileURL(join(tsx, 'dist', 'loader.mjs')).href
  const children = [0, 1, 2, 3].map((k) =>
    spawn(
      process.execPath,
      ['--import', loader, script, shared, `bench-proc-000${k}`, String(perProcess), go],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  )
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) =>
          c.stdout?.on('data', (d) => String(d).includes('ready') && resolve()),
        ),
    ),
  )
  const exits = children.map((c) => new Promise<number | null>((resolve) => c.on('exit', resolve)))
  const fourM = await measure(async () => {
    writeFileSync(go, '')
    const codes = await Promise.all(exits)
    if (codes.some((c) => c !== 0)) throw new Error(`writer exit codes ${codes.join(', ')}`)
  })
  const checkShared = openSqlite(shared, { readonly: true })
  const sharedRows = (
    checkShared.prepare('select count(*) as n from predictions').get() as { n: number }
  ).n
  checkShared.close()
  if (sharedRows !== perProcess * 4)
    throw new Error(`4 processes stored ${sharedRows} rows, expected ${perProcess * 4}`)
  report(`tracker 4 processes × ${perProcess} rows, one file`, fourM, {
    label: 'prepared insert loop, one transaction, 1 process',
    m: batchedM,
  })
  line(
    `  4 processes: ${rate(perProcess * 4, fourM)} rows/s total, ${rate(perProcess, fourM)} rows/s per process (2 shared cores; figures may be noisy)`,
  )
} finally {
  done()
}
