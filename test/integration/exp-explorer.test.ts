import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { DuckmergeError, diffExperiments, listExperiments } from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { mergedFixtureDb, xetrack } from './exp-fixtures.js'

/** Mean and sample std computed the plain way, from every value, as the reference. */
function reference(db: string, version: string, metric: string) {
  const conn = new Database(db, { readonly: true })
  const values = conn
    .prepare(`select "${metric}" as v from predictions where experiment_version = ?`)
    .all(version)
    .map((r) => (r as { v: number }).v)
  conn.close()
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1))
  return { count: values.length, mean, std }
}

describe.skipIf(!hasFixtures)(needsFixtures('exp list and diff on the xetrack fixtures'), () => {
  const merged = () => mergedFixtureDb(join(tempDir(), 'results', 'experiments.db'))

  test('list ranks e0.3.0, e0.2.0, e0.1.0 by accuracy with the exact means of MANIFEST.md', async () => {
    const db = merged()
    const list = await listExperiments({ db, sort: 'accuracy', descending: true })
    expect(list.table).toBe('predictions')
    expect(list.otherTables).toEqual(['metrics'])
    expect(list.params).toEqual(['model', 'lr', 'batch_size'])
    expect(list.metrics).toEqual(['function_time', 'accuracy', 'latency'])
    expect(list.experiments.map((e) => [e.rank, e.version, e.rows])).toEqual([
      [1, 'e0.3.0', 30],
      [2, 'e0.2.0', 60],
      [3, 'e0.1.0', 40],
    ])
    const [c, b, a] = list.experiments
    expect(a?.metrics.accuracy?.mean).toBe(30 / 40)
    expect(b?.metrics.accuracy?.mean).toBeCloseTo(52 / 60, 12)
    expect(c?.metrics.accuracy?.mean).toBeCloseTo(29 / 30, 12)
    expect(a?.metrics.accuracy).toEqual({ count: 40, mean: 0.75 })
    expect(b?.metrics.latency?.mean).toBeCloseTo(reference(db, 'e0.2.0', 'latency').mean, 12)
    expect(a?.params).toEqual({ model: 'tiny-mlp', lr: 0.01 })
    expect(c?.params).toEqual({ model: 'tiny-mlp', lr: 0.01, batch_size: 32 })
    // The parallel sweep: lr is constant within each run, three values over the version.
    expect(b?.params).toEqual({ model: 'tiny-mlp' })
    expect(b?.sweeps).toEqual({ lr: [0.0003, 0.003, 0.03] })
    expect(b?.runs).toEqual(['academic-ferret-9106', 'malachite-pig-2059', 'platinum-weasel-3225'])
  })

  test('without --sort experiments come in version order; --limit keeps the first ones', async () => {
    const db = merged()
    const list = await listExperiments({ db, limit: 2 })
    expect(list.sort).toBeNull()
    expect(list.experiments.map((e) => e.version)).toEqual(['e0.1.0', 'e0.2.0'])
  })

  test('--where filters rows before aggregation', async () => {
    const list = await listExperiments({ db: merged(), where: 'lr < 0.01' })
    expect(list.experiments).toHaveLength(1)
    expect(list.experiments[0]).toMatchObject({
      version: 'e0.2.0',
      rows: 40,
      sweeps: { lr: [0.0003, 0.003] },
    })
  })

  test('--table metrics lists the per-run summaries; --param names params a one-row-per-run table cannot show', async () => {
    const db = merged()
    const detected = await listExperiments({ db, table: 'metrics' })
    expect(detected.metrics).toContain('lr')
    const list = await listExperiments({ db, table: 'metrics', params: ['model', 'lr'] })
    expect(list.metrics).toEqual(['accuracy', 'latency_mean', 'latency_p50'])
    const e2 = list.experiments.find((e) => e.version === 'e0.2.0')
    expect(e2?.rows).toBe(3)
    expect(e2?.metrics.accuracy?.mean).toBeCloseTo(2.6 / 3, 6)
    expect(e2?.sweeps).toEqual({ lr: [0.0003, 0.003, 0.03] })
  })

  test('the quirks DB: table "default" found by its version column, odd columns as params', async () => {
    const list = await listExperiments({ db: xetrack.e() })
    expect(list.table).toBe('default')
    const [e] = list.experiments
    expect(e?.version).toBe('e0.4.0')
    expect(e?.rows).toBe(6)
    expect(e?.runs).toEqual(['ingenious-iguana-7701', 'manual-run-0001'])
    expect(e?.metrics.accuracy?.mean).toBeCloseTo(4.55 / 6, 12)
    expect(e?.params).toMatchObject({ '7': 'seven', reviewed: 'yes', dropout: 0.1 })
  })

  test('diff uses every row of each version: e0.1.0 from a and its re-run d (80 rows) against e0.2.0', async () => {
    const db = mergedFixtureDb(join(tempDir(), 'r.db'), [xetrack.b(), xetrack.d()])
    const d = await diffExperiments({ db, base: 'e0.1.0', exp: 'e0.2.0' })
    expect(d.rows).toEqual({ base: 80, exp: 60 })
    expect(d.params).toEqual([{ param: 'lr', base: 0.01, exp: [0.0003, 0.003, 0.03] }])
    expect(d.sameParams).toEqual({ model: 'tiny-mlp' })
    const accuracy = d.metrics.find((m) => m.metric === 'accuracy')
    expect(accuracy?.base.count).toBe(80)
    expect(accuracy?.base.mean).toBeCloseTo((30 + 38) / 80, 12)
    expect(accuracy?.exp.mean).toBeCloseTo(52 / 60, 12)
    expect(accuracy?.delta).toBeCloseTo(52 / 60 - 68 / 80, 12)
    expect(accuracy?.base.std).toBeCloseTo(reference(db, 'e0.1.0', 'accuracy').std, 12)
    const latency = d.metrics.find((m) => m.metric === 'latency')
    expect(latency?.exp.std).toBeCloseTo(reference(db, 'e0.2.0', 'latency').std, 10)
    expect(accuracy?.base).toMatchObject({ min: 0, max: 1 })
    expect(d.runs.onlyInBase).toEqual(['attractive-swine-6553', 'messy-tuna-4687'])
    expect(d.runs.onlyInExp).toHaveLength(3)
    expect(d.git).toBeNull()
  })

  test('diff of a version with itself: no param change, zero deltas, every run in both', async () => {
    const d = await diffExperiments({ db: merged(), base: 'e0.2.0', exp: 'e0.2.0' })
    expect(d.params).toEqual([])
    expect(d.metrics.every((m) => m.delta === 0)).toBe(true)
    expect(d.runs.inBoth).toHaveLength(3)
  })

  test('a version that does not exist: NOT_FOUND naming it and the versions there are', async () => {
    const db = merged()
    const error = await diffExperiments({ db, base: 'e0.1.0', exp: 'e9.9.9' }).catch((e) => e)
    expect(error).toBeInstanceOf(DuckmergeError)
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toMatchInlineSnapshot(
      `"Version "e9.9.9" has no rows in table "predictions" of ${db} (experiment_version: e0.1.0, e0.2.0, e0.3.0). Pass one of these versions."`,
    )
  })

  test('unknown metric and unknown param: COLUMN_NOT_FOUND listing the columns', async () => {
    const db = merged()
    const metric = await listExperiments({ db, sort: 'acc' }).catch((e) => e)
    expect(metric.code).toBe('COLUMN_NOT_FOUND')
    expect(metric.message).toMatch(
      /^Unknown metric "acc": table "predictions" in .* has no such column \(columns: track_id, timestamp, /,
    )
    const param = await listExperiments({ db, params: ['learning_rate'] }).catch((e) => e)
    expect(param.code).toBe('COLUMN_NOT_FOUND')
    expect(param.message).toContain('Unknown param "learning_rate"')
  })

  test('a bad --where is VALIDATION_FAILED; a second statement never runs and the DB is unchanged', async () => {
    const db = merged()
    const before = hashTree(db)
    const bad = await listExperiments({ db, where: 'no_such_column > 1' }).catch((e) => e)
    expect(bad.code).toBe('VALIDATION_FAILED')
    expect(bad.message).toContain('no such column: no_such_column')
    const sneaky = await listExperiments({ db, where: '1); drop table predictions; --' }).catch(
      (e) => e,
    )
    expect(sneaky.code).toBe('VALIDATION_FAILED')
    expect(hashTree(db)).toEqual(before)
    expect((await listExperiments({ db })).experiments).toHaveLength(3)
  })

  test('--version-column, --run-column and --table name other columns and tables', async () => {
    const byModel = await listExperiments({ db: xetrack.b(), versionColumn: 'model' })
    expect(byModel.experiments.map((e) => [e.version, e.rows, e.runs.length])).toEqual([
      ['tiny-mlp', 60, 3],
    ])
    const noRuns = await listExperiments({ db: xetrack.b(), runColumn: 'experiment_version' })
    expect(noRuns.runColumn).toBe('experiment_version')
    const badRun = await listExperiments({ db: xetrack.b(), runColumn: 'run_id' }).catch((e) => e)
    expect(badRun.code).toBe('COLUMN_NOT_FOUND')
    expect(badRun.message).toContain('has no run column "run_id"')
    const badTable = await listExperiments({ db: xetrack.b(), table: 'runs' }).catch((e) => e)
    expect(badTable.code).toBe('TABLE_NOT_FOUND')
    expect(badTable.message).toContain('Table "runs" not found in')
    expect(badTable.message).toContain('(tables: metrics, predictions)')
  })

  test('no table with the version column; a file that is not SQLite; a missing file', async () => {
    const dir = tempDir()
    const noVersion = await listExperiments({ db: xetrack.a(), versionColumn: 'run' }).catch(
      (e) => e,
    )
    expect(noVersion.code).toBe('TABLE_NOT_FOUND')
    expect(noVersion.message).toContain('No table in')
    expect(noVersion.message).toContain(
      'has the version column "run" (tables: metrics, predictions)',
    )
    writeFileSync(join(dir, 'notes.db'), 'not a database')
    const text = await listExperiments({ db: join(dir, 'notes.db') }).catch((e) => e)
    expect(text.code).toBe('INPUT_UNREADABLE')
    const missing = await listExperiments({ db: join(dir, 'missing.db') }).catch((e) => e)
    expect(missing.code).toBe('INPUT_NOT_FOUND')
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('duckmerge exp list / diff (CLI)'), () => {
  test('list --json ranks, text mode shows a table with means and params', () => {
    const dir = tempDir()
    const db = mergedFixtureDb(join(dir, 'results', 'experiments.db'))
    const json = runCli(['exp', 'list', '--db', db, '--sort', 'accuracy', '--desc', '--json'])
    expect(json.code).toBe(0)
    const report = json.json<{
      experiments: { version: string; metrics: { accuracy: { mean: number } } }[]
    }>()
    expect(report.experiments.map((e) => e.version)).toEqual(['e0.3.0', 'e0.2.0', 'e0.1.0'])
    expect(report.experiments[2]?.metrics.accuracy.mean).toBe(0.75)
    // --db defaults to results/experiments.db under the current folder.
    const text = runCli(['exp', 'list', '--metric', 'accuracy', '--sort', 'accuracy'], { cwd: dir })
    expect(text.code).toBe(0)
    const lines = text.stdout.trim().split('\n')
    expect(lines[0]).toContain('3 experiment(s) in')
    expect(lines[1]).toMatch(/^rank\s+version\s+rows\s+runs\s+accuracy\s+params$/)
    expect(lines[3]).toMatch(/^\s*1\s+e0\.1\.0\s+40\s+1\s+0\.75\s+model=tiny-mlp lr=0\.01$/)
    expect(lines[4]).toContain('lr=[0.0003, 0.003, 0.03]')
  })

  test('diff prints params, metric table and runs; --json carries the numbers', () => {
    const db = mergedFixtureDb(join(tempDir(), 'm.db'))
    const r = runCli(['exp', 'diff', 'e0.1.0', 'e0.3.0', '--db', db, '--metric', 'accuracy'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('e0.1.0 → e0.3.0')
    expect(r.stdout).toContain('batch_size: (none) → 32')
    expect(r.stdout).toMatch(/accuracy\s+40\s+0\.75\s+0\.438529\s+30\s+0\.966667/)
    expect(r.stdout).toContain('runs only in e0.3.0: daffy-chimera-6843')
    const j = runCli(['exp', 'diff', 'e0.1.0', 'e0.3.0', '--db', db, '--json'])
    const report = j.json<{ metrics: { metric: string; delta: number }[] }>()
    expect(report.metrics.find((m) => m.metric === 'accuracy')?.delta).toBeCloseTo(
      29 / 30 - 0.75,
      12,
    )
  })

  test('errors are one line with a code and exit 1; usage errors exit 2', () => {
    const db = mergedFixtureDb(join(tempDir(), 'm.db'))
    const version = runCli(['exp', 'diff', 'e0.1.0', 'nope', '--db', db])
    expect(version.code).toBe(1)
    expect(version.stderr.trim().split('\n')).toHaveLength(1)
    expect(version.stderr).toContain('duckmerge: error [NOT_FOUND]: Version "nope" has no rows')
    const metric = runCli(['exp', 'list', '--db', db, '--sort', 'nope'])
    expect(metric.code).toBe(1)
    expect(metric.stderr).toContain('[COLUMN_NOT_FOUND]: Unknown metric "nope"')
    const missing = runCli(['exp', 'diff', 'e0.1.0', '--db', db])
    expect(missing.code).toBe(2)
    const limit = runCli(['exp', 'list', '--db', db, '--limit', 'many'])
    expect(limit.code).toBe(2)
  })
})
