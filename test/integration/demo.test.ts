import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { DemoReport } from '../../src/demo/demo.js'
import { sql } from '../../src/engine/sql.js'
import { allSync, openSqlite } from '../../src/engine/sqlite.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

describe('duckmerge demo', () => {
  test('runs end to end: six steps, the expected rows in the real files', () => {
    const dir = join(tempDir(), 'walk')
    const r = runCli(['demo', '--dir', dir, '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const report = r.json<DemoReport>()
    expect(report.steps.map((s) => s.number)).toEqual([1, 2, 3, 4, 5, 6])
    expect(report.summary).toEqual({
      resultsDb: join(dir, 'results.db'),
      predictionsRows: 150,
      metricsRows: 6,
      datasetRows: 120,
      productionModel: expect.stringMatching(/_model\.json$/),
    })
    const [, sweep, extra, rebase, data] = report.steps
    expect(sweep?.reports.mergeSweep).toMatchObject({
      strategy: 'merge',
      rowsInserted: 84,
      rowsAfter: 125,
    })
    expect(extra?.reports.mergeExtraColumn).toMatchObject({
      columnsAdded: ['predictions.batch_size', 'metrics.batch_size'],
    })
    expect(rebase?.reports.rebaseCorrected).toMatchObject({
      strategy: 'rebase',
      rowsReplaced: 41,
      rowsInserted: 41,
    })
    expect(data?.reports.mergeNewSamples).toMatchObject({
      rowsInserted: 20,
      rowsSkipped: 10,
      rowsAfter: 120,
    })
    expect(data?.reports.rebaseReprocessed).toMatchObject({ rowsReplaced: 50, rowsAfter: 120 })

    // The results database itself: 4 sweep runs of 20, e0.3.0 with batch_size, e0.1.0 corrected.
    const db = openSqlite(join(dir, 'results.db'), { readonly: true })
    try {
      const byVersion = allSync<{ v: string; n: number; runs: number; batch: number | null }>(
        db,
        sql`select experiment_version as v, count(*) as n, count(distinct track_id) as runs, max(batch_size) as batch from predictions group by 1 order by 1`,
      )
      expect(byVersion).toEqual([
        { v: 'e0.1.0', n: 40, runs: 1, batch: null },
        { v: 'e0.2.0', n: 80, runs: 4, batch: null },
        { v: 'e0.3.0', n: 30, runs: 1, batch: 32 },
      ])
      const [metrics] = allSync<{ n: number }>(db, sql`select count(*) as n from metrics`)
      expect(metrics?.n).toBe(6)
    } finally {
      db.close()
    }
    const production = hashTree(join(dir, 'models', 'production'))
    expect(Object.keys(production)).toEqual(['model.json'])
    expect(existsSync(join(dir, 'data', 'train-v2.parquet'))).toBe(true)
  })

  test('prints a walk-through a new user can follow', () => {
    const dir = tempDir()
    const r = runCli(['demo', '--dir', dir])
    expect(r.code).toBe(0)
    const steps = r.stdout.match(/^step \d\/6: .+$/gm)
    expect(steps).toEqual([
      'step 1/6: a baseline experiment (e0.1.0)',
      'step 2/6: a 4-way parallel sweep (e0.2.0), merged into the baseline',
      'step 3/6: an experiment with a new param (batch_size), merged',
      'step 4/6: a corrected re-run of e0.1.0, rebased',
      'step 5/6: a Parquet dataset: merge new samples, rebase a preprocessing fix',
      'step 6/6: two model candidates, the best promoted',
    ])
    expect(r.stdout).toContain('merge: sweep.db → results.db')
    expect(r.stdout).toContain(
      'results.db holds 150 predictions and 6 metrics rows, the dataset 120 rows',
    )
  })

  test('refuses a folder that is not empty, touching nothing', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'keep.txt'), 'mine')
    const before = hashTree(dir)
    const r = runCli(['demo', '--dir', dir])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`Demo folder ${dir} is not empty (keep.txt)`)
    expect(hashTree(dir)).toEqual(before)
  })
})
