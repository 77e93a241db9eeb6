import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  DuckmergeError,
  hintOf,
  listModels,
  mergeModel,
  promoteModel,
  pruneModels,
  rollbackModel,
} from '../../src/index.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

const sha = (text: string) => createHash('sha256').update(text).digest('hex')

/** What the registry records of a production file it placed (see FileStamp). */
function stampOf(path: string) {
  const st = statSync(path, { bigint: true })
  return {
    size: Number(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    ino: String(st.ino),
  }
}

/** Model files with known bytes, and a models folder inside the temp dir. */
function setup() {
  const dir = tempDir()
  const models = join(dir, 'models')
  const file = (name: string, text: string) => {
    mkdirSync(join(dir, 'runs'), { recursive: true })
    const path = join(dir, 'runs', name)
    writeFileSync(path, text)
    return path
  }
  return { dir, models, file }
}

async function expectError(promise: Promise<unknown>, code: string, message: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DuckmergeError)
  expect((error as DuckmergeError).code).toBe(code)
  expect((error as DuckmergeError).message).toMatch(message)
}

describe('model registry round trip', () => {
  test('merge → promote best → promote another → rollback → list → prune → rollback from store', async () => {
    const { models, file } = setup()
    const a = file('model.bin', 'weights A')
    const b = file('model-b.bin', 'weights B')
    const c = file('model.bin.c', 'weights C')

    const ma = await mergeModel({ models, exp: a, runId: 'run-a', metrics: { acc: 0.8 } })
    await mergeModel({ models, exp: b, runId: 'run-b', metrics: { acc: 0.9, loss: 0.2 } })
    await mergeModel({ models, exp: c, runId: 'run-c', metrics: { acc: 0.85 } })
    expect(ma).toMatchObject({ strategy: 'merge', changed: true })
    expect(readFileSync(join(models, 'candidates', 'run-a_model.bin'), 'utf8')).toBe('weights A')

    const best = await promoteModel({ models, best: 'acc' })
    expect(best.production.candidateId).toBe('run-b_model-b.bin')
    expect(best.replaced).toBeNull()
    // One production path whichever candidate wins: production/model<ext>.
    expect(readFileSync(join(models, 'production', 'model.bin'), 'utf8')).toBe('weights B')

    const second = await promoteModel({ models, candidate: 'run-a_model.bin' })
    expect(second.replaced).toEqual({
      fileName: 'model.bin',
      sha256: sha('weights B'),
      size: 9,
      candidateId: 'run-b_model-b.bin',
    })
    // Production holds exactly the new model; the replaced one is in the store by its hash.
    expect(hashTree(join(models, 'production'))).toEqual({ 'model.bin': sha('weights A') })
    expect(hashTree(join(models, 'store'))).toEqual({
      [sha('weights A')]: sha('weights A'),
      [sha('weights B')]: sha('weights B'),
    })

    const back = await rollbackModel({ models })
    expect(back).toMatchObject({ strategy: 'rollback', changed: true })
    expect(hashTree(join(models, 'production'))).toEqual({ 'model.bin': sha('weights B') })

    const registry = JSON.parse(readFileSync(join(models, 'registry.json'), 'utf8'))
    const time = expect.any(String)
    const refA = {
      fileName: 'model.bin',
      sha256: sha('weights A'),
      size: 9,
      candidateId: 'run-a_model.bin',
    }
    const refB = {
      fileName: 'model.bin',
      sha256: sha('weights B'),
      size: 9,
      candidateId: 'run-b_model-b.bin',
    }
    expect(registry).toEqual({
      version: 1,
      production: {
        ...refB,
        source: join(models, 'store', sha('weights B')),
        promotedAt: time,
        stamp: stampOf(join(models, 'production', 'model.bin')),
      },
      candidates: [
        {
          id: 'run-a_model.bin',
          runId: 'run-a',
          fileName: 'model.bin',
          sha256: sha('weights A'),
          size: 9,
          source: a,
          metrics: { acc: 0.8 },
          registeredAt: time,
        },
        {
          id: 'run-b_model-b.bin',
          runId: 'run-b',
          fileName: 'model-b.bin',
          sha256: sha('weights B'),
          size: 9,
          source: b,
          metrics: { acc: 0.9, loss: 0.2 },
          registeredAt: time,
        },
        {
          id: 'run-c_model.bin.c',
          runId: 'run-c',
          fileName: 'model.bin.c',
          sha256: sha('weights C'),
          size: 9,
          source: c,
          metrics: { acc: 0.85 },
          registeredAt: time,
        },
      ],
      history: [
        { action: 'promote', at: time, model: refB, replaced: null },
        { action: 'promote', at: time, model: refA, replaced: refB },
        { action: 'rollback', at: time, model: refB, replaced: refA },
      ],
    })

    const listing = await listModels({ models })
    expect(listing.candidates.map((x) => [x.id, x.isProduction])).toEqual([
      ['run-a_model.bin', false],
      ['run-b_model-b.bin', true],
      ['run-c_model.bin.c', false],
    ])
    expect(listing.rollbackTo).toBeNull()

    // Promote C, then prune to the single best by acc: B is kept (best), C is kept (production),
    // A is removed. Rolling back from C restores B.
    await promoteModel({ models, candidate: 'run-c_model.bin.c' })
    const dry = await pruneModels({ models, keep: 1, metric: 'acc', dryRun: true })
    expect(dry).toMatchObject({
      dryRun: true,
      kept: ['run-b_model-b.bin', 'run-c_model.bin.c'],
      removed: ['run-a_model.bin'],
      protected: ['run-c_model.bin.c'],
      bytesFreed: 9,
    })
    expect(existsSync(join(models, 'candidates', 'run-a_model.bin'))).toBe(true)

    const pruned = await pruneModels({ models, keep: 0, metric: 'acc' })
    expect(pruned).toMatchObject({
      removed: ['run-b_model-b.bin', 'run-a_model.bin'],
      protected: ['run-c_model.bin.c'],
    })
    expect(Object.keys(hashTree(join(models, 'candidates')))).toEqual(['run-c_model.bin.c'])
    expect((await listModels({ models })).candidates.map((x) => x.id)).toEqual([
      'run-c_model.bin.c',
    ])

    // B's candidate is gone, but rollback restores it from the store.
    await rollbackModel({ models })
    expect(hashTree(join(models, 'production'))).toEqual({ 'model.bin': sha('weights B') })
  })

  test('--best --min picks the lowest value; candidates without the metric are ignored', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('a.bin', 'A'), runId: 'r1', metrics: { loss: 0.5 } })
    await mergeModel({ models, exp: file('b.bin', 'B'), runId: 'r2', metrics: { loss: 0.3 } })
    await mergeModel({ models, exp: file('c.bin', 'C'), runId: 'r3', metrics: { acc: 1 } })
    const report = await promoteModel({ models, best: 'loss', minimize: true })
    expect(report.production.candidateId).toBe('r2_b.bin')
  })

  test('registering the same file under the same run id twice changes nothing', async () => {
    const { models, file } = setup()
    const a = file('model.bin', 'weights A')
    await mergeModel({ models, exp: a, runId: 'r1', metrics: { acc: 0.8 } })
    const before = hashTree(models)
    const again = await mergeModel({ models, exp: a, runId: 'r1', metrics: { acc: 0.1 } })
    expect(again.changed).toBe(false)
    expect(again.candidate.metrics).toEqual({ acc: 0.8 })
    expect(hashTree(models)).toEqual(before)
  })

  test('promoting the production model again changes nothing', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    await promoteModel({ models, candidate: 'r1_model.bin' })
    const before = hashTree(models)
    const again = await promoteModel({ models, candidate: 'r1_model.bin' })
    expect(again.changed).toBe(false)
    expect(hashTree(models)).toEqual(before)
  })

  test('a production file placed by hand is kept in the store and restored by rollback', async () => {
    const { models, file } = setup()
    mkdirSync(join(models, 'production'), { recursive: true })
    writeFileSync(join(models, 'production', 'model.bin'), 'hand-placed')
    await promoteModel({ models, exp: file('model.bin', 'trained') })
    expect(readFileSync(join(models, 'production', 'model.bin'), 'utf8')).toBe('trained')
    expect(readFileSync(join(models, 'store', sha('hand-placed')), 'utf8')).toBe('hand-placed')
    await rollbackModel({ models })
    expect(readFileSync(join(models, 'production', 'model.bin'), 'utf8')).toBe('hand-placed')
  })
})

describe('what promotion reads', () => {
  test('a production file edited after promotion is kept in the store under its new hash', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'weights A'), runId: 'r1' })
    await mergeModel({ models, exp: file('model.bin', 'weights B'), runId: 'r2' })
    await promoteModel({ models, candidate: 'r1_model.bin' })
    writeFileSync(join(models, 'production', 'model.bin'), 'weights A, fine-tuned by hand')
    const report = await promoteModel({ models, candidate: 'r2_model.bin' })
    expect(report.replaced).toEqual({
      fileName: 'model.bin',
      sha256: sha('weights A, fine-tuned by hand'),
      size: 29,
      candidateId: null,
    })
    expect(hashTree(join(models, 'store'))).toEqual({
      [sha('weights A')]: sha('weights A'),
      [sha('weights B')]: sha('weights B'),
      [sha('weights A, fine-tuned by hand')]: sha('weights A, fine-tuned by hand'),
    })
    // Rollback goes back to the model promoted before (the stack of promotions); the edit is
    // kept by its hash.
    await rollbackModel({ models })
    expect(readFileSync(join(models, 'production', 'model.bin'), 'utf8')).toBe('weights A')
  })

  test('a production file with the stamp the registry recorded is trusted, not read', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'weights A'), runId: 'r1' })
    await mergeModel({ models, exp: file('model.bin', 'weights B'), runId: 'r2' })
    await promoteModel({ models, candidate: 'r1_model.bin' })
    // Make the registry vouch for bytes it never saw: the stamp is all promotion looks at.
    const production = join(models, 'production', 'model.bin')
    writeFileSync(production, 'unseen')
    const registry = JSON.parse(readFileSync(join(models, 'registry.json'), 'utf8'))
    registry.production.stamp = stampOf(production)
    writeFileSync(join(models, 'registry.json'), JSON.stringify(registry))
    const report = await promoteModel({ models, candidate: 'r2_model.bin' })
    expect(report.replaced?.sha256).toBe(sha('weights A'))
    expect(existsSync(join(models, 'store', sha('unseen')))).toBe(false)
  })

  test('a model the store has is promoted from the store, whatever its candidate file holds', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'weights A'), runId: 'r1' })
    await mergeModel({ models, exp: file('model.bin', 'weights B'), runId: 'r2' })
    await promoteModel({ models, candidate: 'r1_model.bin' })
    await promoteModel({ models, candidate: 'r2_model.bin' })
    writeFileSync(join(models, 'candidates', 'r1_model.bin'), 'tampered')
    const report = await promoteModel({ models, candidate: 'r1_model.bin' })
    expect(report.production.sha256).toBe(sha('weights A'))
    expect(hashTree(join(models, 'production'))).toEqual({ 'model.bin': sha('weights A') })
  })

  test('promoting a file identical to production changes nothing and leaves no copy behind', async () => {
    const { models, file } = setup()
    await promoteModel({ models, exp: file('model.bin', 'weights A') })
    const before = hashTree(models)
    const again = await promoteModel({ models, exp: file('model.bin', 'weights A') })
    expect(again.changed).toBe(false)
    expect(hashTree(models)).toEqual(before)
  })
})

describe('dry runs', () => {
  test('merge and promote report what the real calls then do, and write nothing', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'weights A'), runId: 'r1' })
    await promoteModel({ models, candidate: 'r1_model.bin' })
    writeFileSync(join(models, 'production', 'model.bin'), 'edited by hand')
    const exp = file('model-b.bin', 'weights B')
    const before = hashTree(models)
    const dryMerge = await mergeModel({ models, exp, runId: 'r2', dryRun: true })
    expect(hashTree(models)).toEqual(before)
    const merged = await mergeModel({ models, exp, runId: 'r2' })
    const drop = ({ durationMs, dryRun, ...rest }: { durationMs: number; dryRun: boolean }) => rest
    expect({ ...drop(dryMerge), candidate: { ...dryMerge.candidate, registeredAt: 0 } }).toEqual({
      ...drop(merged),
      candidate: { ...merged.candidate, registeredAt: 0 },
    })

    const afterMerge = hashTree(models)
    const dry = await promoteModel({ models, candidate: 'r2_model-b.bin', dryRun: true })
    expect(hashTree(models)).toEqual(afterMerge)
    const real = await promoteModel({ models, candidate: 'r2_model-b.bin' })
    // The edited production file is what both report as replaced (hashed, candidateId lost).
    expect(dry.replaced).toEqual({
      fileName: 'model.bin',
      sha256: sha('edited by hand'),
      size: 14,
      candidateId: null,
    })
    expect(dry.replaced).toEqual(real.replaced)
    const { stamp, promotedAt, ...placed } = real.production
    expect(stamp).toBeDefined()
    expect({ ...dry.production, promotedAt }).toEqual({ ...placed, promotedAt })
    expect([dry.changed, dry.path, dry.dryRun, real.dryRun]).toEqual([true, real.path, true, false])
  })

  test('a dry run refuses a changed candidate as the real promotion does', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    writeFileSync(join(models, 'candidates', 'r1_model.bin'), 'tampered')
    const before = hashTree(models)
    await expectError(
      promoteModel({ models, candidate: 'r1_model.bin', dryRun: true }),
      'INPUT_UNREADABLE',
      /changed since it was registered/,
    )
    expect(hashTree(models)).toEqual(before)
  })
})

describe('model registry failures change nothing', () => {
  test('missing model file', async () => {
    const { dir, models } = setup()
    await expectError(
      mergeModel({ models, exp: join(dir, 'nope.bin'), runId: 'r1' }),
      'INPUT_NOT_FOUND',
      /model file not found: .*nope\.bin/,
    )
    expect(existsSync(models)).toBe(false)
  })

  test('same run id and file name with different content is DUPLICATE_KEY', async () => {
    const { dir, models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    const before = hashTree(dir)
    const changed = file('model.bin', 'A changed')
    const after = hashTree(dir) // the source file itself changed; models/ must not
    await expectError(
      mergeModel({ models, exp: changed, runId: 'r1' }),
      'DUPLICATE_KEY',
      /Candidate r1_model\.bin is already registered .* with different content /,
    )
    const error = await mergeModel({ models, exp: changed, runId: 'r1' }).catch((e: unknown) => e)
    expect(hintOf(error)).toBe('Register it under a new `runId`.')
    expect(hashTree(models)).toEqual(
      Object.fromEntries(
        Object.entries(before)
          .filter(([k]) => k.startsWith('models/'))
          .map(([k, v]) => [k.slice('models/'.length), v]),
      ),
    )
    expect(hashTree(dir)).toEqual(after)
  })

  test('unknown candidate id', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    const before = hashTree(models)
    await expectError(
      promoteModel({ models, candidate: 'r9_model.bin' }),
      'NOT_FOUND',
      /No candidate "r9_model\.bin" in .*registry\.json \(candidates: r1_model\.bin\)/,
    )
    expect(hashTree(models)).toEqual(before)
  })

  test('--best with a metric no candidate has', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1', metrics: { acc: 1 } })
    const before = hashTree(models)
    await expectError(
      promoteModel({ models, best: 'f1' }),
      'NOT_FOUND',
      /No candidate in .* has a numeric metric "f1" \(metrics seen: acc\)/,
    )
    const error = await promoteModel({ models, best: 'f1' }).catch((e: unknown) => e)
    expect(hintOf(error)).toBe('Choose `best` among them, or register candidates with `metrics`.')
    expect(hashTree(models)).toEqual(before)
  })

  test('corrupt registry', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    writeFileSync(join(models, 'registry.json'), '{"version": 1, "candidates": [')
    const before = hashTree(models)
    await expectError(
      mergeModel({ models, exp: file('b.bin', 'B'), runId: 'r2' }),
      'INPUT_UNREADABLE',
      /Model registry .*registry\.json is corrupt/,
    )
    await expectError(promoteModel({ models, best: 'acc' }), 'INPUT_UNREADABLE', /corrupt/)
    await expectError(listModels({ models }), 'INPUT_UNREADABLE', /corrupt/)
    expect(hashTree(models)).toEqual(before)
  })

  test('a registry with a wrong field names the field', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    const registry = JSON.parse(readFileSync(join(models, 'registry.json'), 'utf8'))
    registry.candidates[0].sha256 = 'xyz'
    writeFileSync(join(models, 'registry.json'), JSON.stringify(registry))
    await expectError(listModels({ models }), 'INPUT_UNREADABLE', /candidates\.0\.sha256/)
  })

  test('a candidate file changed after registration is refused', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    writeFileSync(join(models, 'candidates', 'r1_model.bin'), 'tampered')
    const before = hashTree(models)
    await expectError(
      promoteModel({ models, candidate: 'r1_model.bin' }),
      'INPUT_UNREADABLE',
      /changed since it was registered/,
    )
    expect(hashTree(models)).toEqual(before)
    // Not even an empty folder is left behind.
    expect(readdirSync(models).sort()).toEqual(['candidates', 'registry.json'])
  })

  test('rollback with nothing to roll back to', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    await promoteModel({ models, candidate: 'r1_model.bin' })
    const before = hashTree(models)
    await expectError(
      rollbackModel({ models }),
      'NOT_FOUND',
      /the production model is the first one promoted/,
    )
    expect(hashTree(models)).toEqual(before)
  })

  test('a missing models folder', async () => {
    const { models } = setup()
    await expectError(listModels({ models }), 'INPUT_NOT_FOUND', /Models folder not found/)
    await expectError(rollbackModel({ models }), 'INPUT_NOT_FOUND', /Models folder not found/)
    // The advice is a hint in library words; the CLI renders {models} as --models.
    const error = await listModels({ models }).catch((e: unknown) => e)
    expect(hintOf(error)).toBe(
      'Register a model first: a model merge with `models` set to that folder.',
    )
    expect(existsSync(models)).toBe(false)
  })

  test('promote without exactly one of exp, candidate, best: USAGE with the fields in its hint', async () => {
    const { models } = setup()
    const error = await promoteModel({ models, candidate: 'a', best: 'acc' }).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({
      code: 'USAGE',
      message:
        'Say which model to promote: a model file, a candidate or the best by a metric (2 given).',
    })
    expect(hintOf(error)).toBe('Give exactly one of `exp`, `candidate` or `best`.')
    await expectError(promoteModel({ models }), 'USAGE', /\(0 given\)/)
  })
})
