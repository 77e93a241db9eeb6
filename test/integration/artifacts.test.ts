import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { type ArtifactsReport, mergeArtifacts } from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { noTemps, project } from './artifacts-support.js'

const cli = (dir: string, args: string[]) => runCli(['artifacts', ...args], { cwd: dir })

describe.skipIf(!hasFixtures)(needsFixtures('duckmerge artifacts'), () => {
  let dir: string
  beforeEach(async () => {
    dir = await project()
  })

  test('merges the sweep, rebases the data, promotes the model: one JSON report', () => {
    const r = cli(dir, [
      '--strategy',
      'merge',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
      '--output-db',
      'merged.db',
      '--base-data',
      'train.parquet',
      '--exp-data',
      'incoming.parquet',
      '--output-data',
      'out.parquet',
      '--data-strategy',
      'rebase',
      '--key-columns',
      'id',
      '--exp-model',
      'model.bin',
      '--run-id',
      'messy-tuna-4687',
      '--model-strategy',
      'promote',
      '--metrics',
      '{"accuracy": 0.75}',
      '--json',
    ])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const report = r.json<ArtifactsReport>()
    expect(report.strategy).toEqual({ results: 'merge', data: 'rebase', model: 'promote' })
    expect(report.results).toMatchObject({
      strategy: 'merge',
      output: 'merged.db',
      rowsBefore: 41,
      rowsInserted: 63,
      rowsAfter: 104,
    })
    expect(
      Object.fromEntries((report.results?.tables ?? []).map((t) => [t.table, t.rowsAfter])),
    ).toEqual({ metrics: 4, predictions: 100 })
    expect(report.data).toMatchObject({
      strategy: 'rebase',
      output: 'out.parquet',
      rowsBefore: 100,
      rowsReplaced: 50,
      rowsInserted: 70,
      rowsAfter: 120,
    })
    expect(report.model).toMatchObject({
      strategy: 'promote',
      candidate: {
        changed: true,
        candidate: { id: 'messy-tuna-4687_model.bin', metrics: { accuracy: 0.75 } },
      },
      promotion: { changed: true, path: 'models/production/model.bin' },
    })
    expect(report.durationMs).toEqual(expect.any(Number))
    expect(existsSync(join(dir, 'merged.db'))).toBe(true)
    expect(existsSync(join(dir, 'out.parquet'))).toBe(true)
    expect(noTemps(dir)).toEqual([])
  })

  test('params.yaml sets a strategy per artifact; flags override it', async () => {
    writeFileSync(
      join(dir, 'params.yaml'),
      [
        'train:',
        '  lr: 0.01',
        'merge:',
        '  strategy: merge',
        '  key_columns: [experiment_version]',
        '  data:',
        '    strategy: rebase',
        '    key_columns: [id]',
        '  model: merge',
        '',
      ].join('\n'),
    )
    const args = [
      '--params',
      'params.yaml',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'corrected.db',
      '--base-data',
      'train.parquet',
      '--exp-data',
      'incoming.parquet',
      '--output-data',
      'out.parquet',
      '--exp-model',
      'model.bin',
      '--run-id',
      'r1',
      '--json',
    ]
    const byParams = cli(dir, [...args, '--output-db', 'p.db']).json<ArtifactsReport>()
    expect(byParams.strategy).toEqual({ results: 'merge', data: 'rebase', model: 'merge' })
    // merge keeps the default key (track_id, timestamp): the corrected run's 41 rows are new.
    expect(byParams.results).toMatchObject({ rowsInserted: 41, rowsReplaced: 0, rowsAfter: 82 })
    expect(byParams.model?.promotion).toBeNull()

    // --strategy rebase overrides merge.strategy: the corrected re-run replaces e0.1.0's rows.
    const byFlag = cli(dir, [
      ...args,
      '--output-db',
      'f.db',
      '--strategy',
      'rebase',
      '--model-strategy',
      'promote',
    ]).json<ArtifactsReport>()
    expect(byFlag.strategy).toEqual({ results: 'rebase', data: 'rebase', model: 'promote' })
    expect(byFlag.results).toMatchObject({ rowsReplaced: 41, rowsInserted: 41, rowsAfter: 41 })
    expect(byFlag.model?.promotion?.changed).toBe(true)
  })

  test('the data step fails after the db step succeeded: no output at all, inputs untouched', () => {
    const before = hashTree(dir)
    const r = cli(dir, [
      '--strategy',
      'merge',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
      '--output-db',
      'merged.db',
      '--base-data',
      'train.parquet',
      '--exp-data',
      'broken.parquet',
      '--output-data',
      'out.parquet',
      '--exp-model',
      'model.bin',
      '--run-id',
      'r1',
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/broken\.parquet/)
    expect(hashTree(dir)).toEqual(before)
    expect(existsSync(join(dir, 'merged.db'))).toBe(false)
    expect(existsSync(join(dir, 'models'))).toBe(false)
  })

  test('in place (no --output-*): base is replaced on success, untouched on failure', () => {
    const before = hashTree(dir)
    const failed = cli(dir, [
      '--strategy',
      'rebase',
      '--key-columns',
      'id',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'corrected.db',
      '--base-data',
      'train.parquet',
      '--exp-data',
      'incoming.parquet',
    ])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('KEY_COLUMN_MISSING')
    expect(hashTree(dir)).toEqual(before)

    const ok = cli(dir, [
      '--strategy',
      'merge',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
      '--json',
    ])
    expect(ok.json<ArtifactsReport>().results).toMatchObject({
      output: 'experiments.db',
      rowsAfter: 104,
    })
    // DVC re-runs the stage: merging the same theirs again inserts nothing.
    const again = cli(dir, [
      '--strategy',
      'merge',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
      '--json',
    ])
    expect(again.json<ArtifactsReport>().results).toMatchObject({
      rowsInserted: 0,
      rowsSkipped: 63,
      rowsAfter: 104,
    })
    expect(noTemps(dir)).toEqual([])
  })

  test('a failing model step leaves no results or data output', async () => {
    const models = join(dir, 'models')
    const first = await mergeArtifacts({
      results: {
        ours: join(dir, 'experiments.db'),
        theirs: join(dir, 'sweep.db'),
        output: join(dir, 'merged.db'),
        strategy: 'merge',
      },
      model: { exp: join(dir, 'model.bin'), runId: 'r1', models, strategy: 'promote' },
    })
    expect(first.results?.rowsAfter).toBe(104)
    expect(first.model?.promotion?.changed).toBe(true)
    // Same run id, same file name, new content: the candidate id clashes.
    writeFileSync(join(dir, 'model.bin'), 'retrained, different weights')
    const before = hashTree(dir)
    const clash = cli(dir, [
      '--strategy',
      'merge',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
      '--output-db',
      'merged2.db',
      '--base-data',
      'train.parquet',
      '--exp-data',
      'incoming.parquet',
      '--output-data',
      'out.parquet',
      '--exp-model',
      'model.bin',
      '--run-id',
      'r1',
      '--model-strategy',
      'promote',
    ])
    expect(clash.code).toBe(1)
    expect(clash.stderr).toContain('DUPLICATE_KEY')
    expect(hashTree(dir)).toEqual(before)
  })

  test('--tables limits the results tables; --metrics comes from a file', () => {
    writeFileSync(join(dir, 'metrics.json'), '{"accuracy": 0.9}')
    const r = cli(dir, [
      '--strategy',
      'merge',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
      '--output-db',
      'p.db',
      '--tables',
      'predictions',
      '--exp-model',
      'model.bin',
      '--run-id',
      'r1',
      '--metrics',
      'metrics.json',
      '--json',
    ])
    expect(r.code).toBe(0)
    const report = r.json<ArtifactsReport>()
    expect(report.results?.tables?.map((t) => t.table)).toEqual(['predictions'])
    expect(report.results?.rowsInserted).toBe(60)
    expect(report.model?.candidate.candidate.metrics).toEqual({ accuracy: 0.9 })
    expect(report.data).toBeNull()
  })

  test('usage errors exit 2 and change nothing', () => {
    const before = hashTree(dir)
    const noKey = cli(dir, [
      '--strategy',
      'rebase',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'corrected.db',
    ])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain(
      'Rebase of results needs key columns, and none were given. Give --key-columns, or set',
    )
    const nothing = cli(dir, ['--strategy', 'merge'])
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toContain(
      'Nothing to do: give at least one artifact group (results, data or model). Give --base-db and --exp-db, --base-data and --exp-data, or --exp-model and --run-id.',
    )
    const noStrategy = cli(dir, ['--base-db', 'experiments.db', '--exp-db', 'sweep.db'])
    expect(noStrategy.code).toBe(2)
    expect(noStrategy.stderr).toContain('no strategy for the results database')
    const onExp = cli(dir, [
      '--strategy',
      'merge',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
      '--output-db',
      'sweep.db',
    ])
    expect(onExp.code).toBe(1)
    expect(onExp.stderr).toContain(
      '[OUTPUT_IS_INPUT]: The results output sweep.db is the input sweep.db, whose rows are merged in: inputs are never replaced. Leave out --output-db to write into experiments.db, or give a new path.',
    )
    const half = cli(dir, ['--strategy', 'merge', '--base-db', 'experiments.db'])
    expect(half.code).toBe(2)
    writeFileSync(join(dir, 'bad.yaml'), 'merge:\n  strategy: squash\n')
    const badParams = cli(dir, [
      '--params',
      'bad.yaml',
      '--base-db',
      'experiments.db',
      '--exp-db',
      'sweep.db',
    ])
    expect(badParams.code).toBe(1)
    expect(badParams.stderr).toContain('[VALIDATION_FAILED]: ')
    expect(badParams.stderr).toContain('merge.strategy: must be merge or rebase, got "squash"')
    const after = hashTree(dir)
    delete after['bad.yaml']
    expect(after).toEqual(before)
  })
})
