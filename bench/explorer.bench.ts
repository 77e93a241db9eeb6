/**
 * exp list / exp diff / exp plot over a 1M-row xetrack-layout results database, next to the
 * plainest SQLite aggregate that reads the same rows (the floor).
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { diffExperiments, listExperiments, plotMetric } from '../src/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

const ROWS = 1_000_000
const VERSIONS = 20
const RUNS_PER_VERSION = 4

const { dir, done } = benchDir('explorer')
const db = join(dir, 'experiments.db')

/**
 * xetrack's predictions table: experiments one after another, each a sweep of 4 parallel runs
 * (interleaved rows, as the parallel sweep fixture has them), lr per run.
 */
function generate(): void {
  const conn = new Database(db)
  conn.exec(`create table predictions (track_id TEXT, timestamp TEXT, experiment_version TEXT,
    model TEXT, lr REAL, function_name TEXT, args TEXT, kwargs TEXT, error TEXT, function_time REAL,
    input_id INTEGER, prediction INTEGER, label INTEGER, accuracy REAL, latency REAL,
    PRIMARY KEY (track_id, timestamp))`)
  const insert = conn.prepare('insert into predictions values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)')
  const perVersion = ROWS / VERSIONS
  let seed = 42
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  conn.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      const v = Math.floor(i / perVersion)
      const run = i % RUNS_PER_VERSION
      const label = random() < 0.5 ? 1 : 0
      const correct = random() < 0.7 + v * 0.01
      insert.run(
        `run-${v}-${run}`,
        `2026-01-01 00:00:00.${String(i).padStart(7, '0')}`,
        `e0.${v + 1}.0`,
        'tiny-mlp',
        10 ** -(1 + run),
        'predict',
        `[${i}]`,
        '{}',
        null,
        random() / 1000,
        Math.floor(random() * 5000),
        correct ? label : 1 - label,
        label,
        correct ? 1 : 0,
        2 + random() * 8,
      )
    }
  })()
  conn.close()
}

function floor(query: string, ...values: string[]): Promise<Measurement> {
  return measure(async () => {
    const conn = new Database(db, { readonly: true })
    conn.prepare(query).all(...values)
    conn.close()
  })
}

const generated = await measure(async () => generate())
process.stdout.write(
  `generated ${ROWS} rows (${VERSIONS} versions × ${RUNS_PER_VERSION} runs) in ${generated.ms.toFixed(0)} ms; figures are from a shared 2-core machine and may be noisy\n`,
)

const groupFloor = await floor(
  'select experiment_version, count(*), avg(accuracy) from predictions group by experiment_version',
)
const list = await measure(() => listExperiments({ db }))
report('exp list (1M rows, detect params/metrics)', list, {
  label: 'SELECT count(*), avg(accuracy) GROUP BY version',
  m: groupFloor,
})
// The same two queries written by hand: what they cost without the detection around them.
const sameSql = await measure(async () => {
  const conn = new Database(db, { readonly: true })
  conn
    .prepare(
      `select experiment_version, count(*), count(function_time), total(function_time),
        count(accuracy), total(accuracy), count(latency), total(latency)
        from predictions group by experiment_version`,
    )
    .all()
  conn.prepare('select distinct experiment_version, track_id, model, lr from predictions').all()
  conn.close()
})
report('exp list (1M rows, detect params/metrics)', list, {
  label: 'its two queries hand-written',
  m: sameSql,
})
const ranked = await measure(() =>
  listExperiments({ db, sort: 'accuracy', descending: true, limit: 5 }),
)
report('exp list --sort accuracy --desc --limit 5', ranked, {
  label: 'SELECT count(*), avg(accuracy) GROUP BY version',
  m: groupFloor,
})

const pairFloor = await floor(
  'select experiment_version, count(*), avg(accuracy) from predictions where experiment_version in (?, ?) group by experiment_version',
  'e0.3.0',
  'e0.17.0',
)
const diff = await measure(() => diffExperiments({ db, base: 'e0.3.0', exp: 'e0.17.0' }))
report('exp diff e0.3.0 e0.17.0', diff, {
  label: 'SELECT count(*), avg(accuracy) WHERE version IN (2) GROUP BY version',
  m: pairFloor,
})

const plotFloor = await floor(
  'select experiment_version, lr, count(*), avg(accuracy) from predictions group by 1, 2',
)
const plot = await measure(() => plotMetric({ db, metric: 'accuracy', by: 'lr' }))
report('exp plot accuracy by lr', plot, {
  label: 'SELECT count(*), avg(accuracy) GROUP BY version, lr',
  m: plotFloor,
})

// With an index on the version column (our tracker or the user can create one), the diff
// reads only the two versions' rows.
const indexing = await measure(async () => {
  const conn = new Database(db)
  conn.exec('create index predictions_version on predictions (experiment_version)')
  conn.close()
})
process.stdout.write(`created index on experiment_version in ${indexing.ms.toFixed(0)} ms\n`)
const pairFloorIndexed = await floor(
  'select experiment_version, count(*), avg(accuracy) from predictions where experiment_version in (?, ?) group by experiment_version',
  'e0.3.0',
  'e0.17.0',
)
const diffIndexed = await measure(() => diffExperiments({ db, base: 'e0.3.0', exp: 'e0.17.0' }))
report('exp diff with a version index', diffIndexed, {
  label: 'same floor query, indexed',
  m: pairFloorIndexed,
})
const listIndexed = await measure(() => listExperiments({ db }))
report('exp list with a version index', listIndexed, {
  label: 'SELECT count(*), avg(accuracy) GROUP BY version',
  m: groupFloor,
})

done()
