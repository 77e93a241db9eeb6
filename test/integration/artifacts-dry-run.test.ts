import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import {
  type ArtifactsOptions,
  type ArtifactsReport,
  DuckmergeError,
  mergeArtifacts,
} from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { project } from './artifacts-support.js'

/**
 * A report without what legitimately differs between a dry run and a real run: timings, the
 * dryRun flags, the times a candidate or promotion is stamped with, and the production file's
 * stamp (which exists only once a file is placed).
 */
function figures(report: ArtifactsReport): unknown {
  const omit = new Set(['durationMs', 'dryRun', 'registeredAt', 'promotedAt', 'stamp'])
  return JSON.parse(JSON.stringify(report), (key, value) => (omit.has(key) ? undefined : value))
}

async function errorOf(promise: Promise<unknown>): Promise<DuckmergeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DuckmergeError)
  return error as DuckmergeError
}

describe.skipIf(!hasFixtures)(needsFixtures('duckmerge artifacts --dry-run'), () => {
  let dir: string
  beforeEach(async () => {
    dir = await project()
  })

  test('reports the figures a real run then produces, and writes nothing', async () => {
    const models = join(dir, 'models')
    // A production model to replace, so the promotion step has something to report.
    writeFileSync(join(dir, 'old.bin'), 'old weights')
    await mergeArtifacts({
      model: { exp: join(dir, 'old.bin'), runId: 'r0', models, strategy: 'promote' },
    })
    const options: ArtifactsOptions = {
      results: {
        ours: join(dir, 'experiments.db'),
        theirs: join(dir, 'sweep.db'),
        output: join(dir, 'merged.db'),
        strategy: 'merge',
      },
      data: {
        ours: join(dir, 'train.parquet'),
        theirs: join(dir, 'incoming.parquet'),
        strategy: 'rebase',
        key: ['id'],
      },
      model: {
        exp: join(dir, 'model.bin'),
        runId: 'r1',
        models,
        strategy: 'promote',
        metrics: { accuracy: 0.9 },
      },
    }
    const before = hashTree(dir)
    const dry = await mergeArtifacts({ ...options, dryRun: true })
    expect(hashTree(dir)).toEqual(before)
    expect(dry.dryRun).toBe(true)
    expect(dry.results).toMatchObject({ dryRun: true, rowsInserted: 63, rowsAfter: 104 })
    expect(dry.data).toMatchObject({ dryRun: true, rowsReplaced: 50, rowsAfter: 120 })
    expect(dry.model?.candidate).toMatchObject({ dryRun: true, changed: true })
    expect(dry.model?.promotion).toMatchObject({
      dryRun: true,
      changed: true,
      replaced: { fileName: 'model.bin', candidateId: 'r0_old.bin' },
    })

    const real = await mergeArtifacts(options)
    expect(real.dryRun).toBe(false)
    expect(figures(dry)).toEqual(figures(real))
    expect(hashTree(dir)).not.toEqual(before)
  })

  test('in place and into a models folder that does not exist yet: still nothing written', async () => {
    const options: ArtifactsOptions = {
      results: {
        ours: join(dir, 'experiments.db'),
        theirs: join(dir, 'sweep.db'),
        strategy: 'merge',
      },
      data: {
        ours: join(dir, 'train.parquet'),
        theirs: join(dir, 'incoming.parquet'),
        strategy: 'merge',
      },
      model: {
        exp: join(dir, 'model.bin'),
        runId: 'r1',
        models: join(dir, 'models'),
        strategy: 'merge',
      },
    }
    const before = hashTree(dir)
    const dry = await mergeArtifacts({ ...options, dryRun: true })
    expect(hashTree(dir)).toEqual(before)
    expect(existsSync(join(dir, 'models'))).toBe(false)
    expect(dry.model?.promotion).toBeNull()
    expect(figures(dry)).toEqual(figures(await mergeArtifacts(options)))
  })

  test('a dry run fails where the real run would, with the same error, changing nothing', async () => {
    const models = join(dir, 'models')
    await mergeArtifacts({
      model: { exp: join(dir, 'model.bin'), runId: 'r1', models, strategy: 'merge' },
    })
    // Same run id and file name, new content: the real run refuses it, so must the dry run.
    writeFileSync(join(dir, 'model.bin'), 'retrained, different weights')
    const clash: ArtifactsOptions = {
      results: {
        ours: join(dir, 'experiments.db'),
        theirs: join(dir, 'sweep.db'),
        output: join(dir, 'merged.db'),
        strategy: 'merge',
      },
      model: { exp: join(dir, 'model.bin'), runId: 'r1', models, strategy: 'promote' },
    }
    const broken: ArtifactsOptions = {
      data: {
        ours: join(dir, 'train.parquet'),
        theirs: join(dir, 'broken.parquet'),
        output: join(dir, 'out.parquet'),
        strategy: 'merge',
      },
    }
    const before = hashTree(dir)
    for (const options of [clash, broken]) {
      const dry = await errorOf(mergeArtifacts({ ...options, dryRun: true }))
      expect(hashTree(dir)).toEqual(before)
      const real = await errorOf(mergeArtifacts(options))
      expect([dry.code, dry.message]).toEqual([real.code, real.message])
      expect(hashTree(dir)).toEqual(before)
    }
  })

  test('CLI: --dry-run --json says dryRun and what each step would do; text says so too', () => {
    const args = [
      '--strategy',
      'rebase',
      '--key-columns',
      'id',
      '--base-data',
      'train.parquet',
      '--exp-data',
      'incoming.parquet',
      '--exp-model',
      'model.bin',
      '--run-id',
      'r1',
      '--dry-run',
    ]
    const before = hashTree(dir)
    const json = runCli(['artifacts', ...args, '--json'], { cwd: dir })
    expect(json.code).toBe(0)
    expect(json.json<ArtifactsReport>()).toMatchObject({
      dryRun: true,
      strategy: { data: 'rebase', model: 'promote' },
      data: { dryRun: true, output: 'train.parquet', rowsReplaced: 50, rowsAfter: 120 },
      model: {
        candidate: { dryRun: true, changed: true, candidate: { id: 'r1_model.bin' } },
        promotion: { dryRun: true, changed: true, replaced: null },
      },
    })
    const text = runCli(['artifacts', ...args], { cwd: dir })
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('rebase (dry run, nothing written): incoming.parquet')
    expect(text.stdout).toMatch(
      /candidate r1_model\.bin would be registered \(sha256 [0-9a-f]{12}…\)/,
    )
    expect(text.stdout).toContain('would be promoted to models/production/model.bin')
    expect(text.stdout).toMatch(/dry run: nothing written/)
    expect(hashTree(dir)).toEqual(before)
  })
})
