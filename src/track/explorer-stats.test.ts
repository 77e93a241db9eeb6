import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { openResultsTable } from './explorer-source.js'
import { computeStats, type StatsOptions } from './explorer-stats.js'

type Row = Record<string, string | number | null>

function makeDb(columns: string, rows: readonly Row[]): string {
  const path = join(tempDir(), 'results.db')
  const db = new Database(path)
  db.exec(`create table events (${columns})`)
  const names = Object.keys(rows[0] ?? {})
  const insert = db.prepare(
    `insert into events (${names.map((n) => `"${n}"`).join(', ')}) values (${names.map(() => '?').join(', ')})`,
  )
  db.transaction(() => {
    for (const row of rows) insert.run(...names.map((n) => row[n] ?? null))
  })()
  db.close()
  return path
}

async function stats(db: string, options: StatsOptions = {}) {
  const source = await openResultsTable({ db })
  try {
    return computeStats(source, options)
  } finally {
    source.db.close()
  }
}

const SWEEP_COLUMNS =
  'track_id TEXT, timestamp TEXT, experiment_version TEXT, lr REAL, seed INTEGER, step INTEGER, loss REAL'

function sweepRows(): Row[] {
  const rows: Row[] = []
  const runs = [
    { track_id: 'r1', experiment_version: 'e0.1.0', lr: 0.1, seed: 1, losses: [3, 2, 1] },
    { track_id: 'r2', experiment_version: 'e0.1.0', lr: 0.2, seed: 1, losses: [4, 2, 0] },
    { track_id: 'r3', experiment_version: 'e0.10.0', lr: 0.1, seed: 2, losses: [5, 7] },
  ]
  for (const { losses, ...run } of runs)
    losses.forEach((loss, step) => {
      rows.push({ ...run, timestamp: `t${rows.length}`, step, loss })
    })
  return rows
}

describe('computeStats', () => {
  test('params are constant within each run; a sweep param lists its values; REAL columns are metrics', async () => {
    const s = await stats(makeDb(SWEEP_COLUMNS, sweepRows()))
    expect(s.params).toEqual(['lr', 'seed'])
    expect(s.metrics).toEqual(['loss'])
    expect(s.versions.map((v) => v.version)).toEqual(['e0.1.0', 'e0.10.0'])
    const [a, b] = s.versions
    expect(a).toMatchObject({ rows: 6, params: { seed: 1 }, sweeps: { lr: [0.1, 0.2] } })
    expect(a?.runs).toEqual(['r1', 'r2'])
    // loss 3,2,1,4,2,0: mean 2, sample variance (1+0+1+4+0+4)/5 = 2.
    expect(a?.metrics.loss).toEqual({ count: 6, mean: 2, std: Math.SQRT2 })
    expect(b).toMatchObject({ rows: 2, params: { lr: 0.1, seed: 2 }, sweeps: {} })
    expect(b?.metrics.loss).toEqual({ count: 2, mean: 6, std: Math.SQRT2 })
  })

  test('withRange adds min and max; versions restricts; explicit metrics replace the default', async () => {
    const s = await stats(makeDb(SWEEP_COLUMNS, sweepRows()), {
      withRange: true,
      versions: ['e0.10.0'],
      metrics: ['loss', 'step'],
    })
    expect(s.metrics).toEqual(['loss', 'step'])
    expect(s.versions).toHaveLength(1)
    expect(s.versions[0]?.metrics).toEqual({
      loss: { count: 2, mean: 6, std: Math.SQRT2, min: 5, max: 7 },
      step: { count: 2, mean: 0.5, std: Math.SQRT1_2, min: 0, max: 1 },
    })
  })

  test('a column constant over the 10k-row sample but varying later is a metric, computed over every row', async () => {
    const rows: Row[] = []
    for (let i = 0; i < 12_000; i++)
      rows.push({
        track_id: 'r1',
        timestamp: `t${i}`,
        experiment_version: 'e1',
        lr: 0.1,
        seed: 1,
        step: i,
        loss: i < 11_000 ? 0 : 1,
      })
    const s = await stats(makeDb(SWEEP_COLUMNS, rows))
    expect(s.params).toEqual(['lr', 'seed'])
    expect(s.metrics).toEqual(['loss'])
    expect(s.versions[0]?.metrics.loss?.mean).toBeCloseTo(1000 / 12_000, 12)
  })

  test('without a run column params are the columns constant over the version; NULL versions are "(none)"', async () => {
    const db = makeDb('experiment_version TEXT, model TEXT, score REAL', [
      { experiment_version: 'v1', model: 'a', score: 1 },
      { experiment_version: 'v1', model: 'a', score: 3 },
      { experiment_version: null, model: 'b', score: 5 },
      { experiment_version: null, model: 'b', score: 5 },
    ])
    const s = await stats(db)
    expect(s.params).toEqual(['model'])
    expect(
      s.versions.map((v) => [v.version, v.rows, v.runs.length, v.metrics.score?.mean]),
    ).toEqual([
      ['(none)', 2, 0, 5],
      ['v1', 2, 0, 2],
    ])
  })

  test('rows without a run id count as rows but not as a run; a run named "null" is a run', async () => {
    const rows = sweepRows().slice(0, 3)
    rows.push({ ...rows[0], track_id: null, timestamp: 'x1' } as Row)
    rows.push({ ...rows[0], track_id: 'null', timestamp: 'x2' } as Row)
    const s = await stats(makeDb(SWEEP_COLUMNS, rows))
    expect(s.versions[0]).toMatchObject({ rows: 5, runs: ['null', 'r1'], params: { lr: 0.1 } })
  })

  test('integer metrics far beyond 2^53 in sum do not overflow', async () => {
    const big = 2 ** 62
    const db = makeDb('experiment_version TEXT, bytes INTEGER', [
      { experiment_version: 'v1', bytes: big },
      { experiment_version: 'v1', bytes: big },
      { experiment_version: 'v1', bytes: big },
    ])
    const s = await stats(db, { metrics: ['bytes'] })
    expect(s.versions[0]?.metrics.bytes?.mean).toBe(big)
    expect(s.versions[0]?.metrics.bytes?.std).toBe(0)
  })
})
