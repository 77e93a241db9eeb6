import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { hashTree } from '../../test/support/snapshot.js'
import { tempDir } from '../../test/support/temp.js'
import { mergeModel } from './model.js'
import { promoteModel } from './model-promote.js'
import { captureModelState, restoreModelState } from './model-state.js'

const sha = (text: string) => createHash('sha256').update(text).digest('hex')

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

describe('undoing a model step', () => {
  test('a registration and promotion are reverted byte for byte', async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    await promoteModel({ models, candidate: 'r1_model.bin' })
    const before = hashTree(models)
    const state = await captureModelState(models)
    const merged = await mergeModel({ models, exp: file('model2.bin', 'B'), runId: 'r2' })
    const promoted = await promoteModel({ models, candidate: merged.candidate.id })
    expect(hashTree(join(models, 'production'))).toEqual({ 'model.bin': sha('B') })
    await restoreModelState(state, { merged, promoted })
    expect(hashTree(models)).toEqual(before)
  })

  test('a step into a fresh folder leaves no folder behind', async () => {
    const { dir, models, file } = setup()
    const state = await captureModelState(models)
    const merged = await mergeModel({ models, exp: file('model.bin', 'A'), runId: 'r1' })
    const promoted = await promoteModel({ models, candidate: merged.candidate.id })
    await restoreModelState(state, { merged, promoted })
    expect(existsSync(models)).toBe(false)
    expect(Object.keys(hashTree(dir))).toEqual(['runs/model.bin'])
  })

  test("only the step's own candidate is removed; one registered meanwhile stays", async () => {
    const { models, file } = setup()
    await mergeModel({ models, exp: file('a.bin', 'A'), runId: 'r1' })
    const state = await captureModelState(models)
    const merged = await mergeModel({ models, exp: file('b.bin', 'B'), runId: 'r2' })
    await mergeModel({ models, exp: file('c.bin', 'C'), runId: 'r3' }) // another process
    await restoreModelState(state, { merged })
    expect(Object.keys(hashTree(join(models, 'candidates')))).toEqual(['r1_a.bin', 'r3_c.bin'])
    expect(existsSync(join(models, 'registry.lock'))).toBe(false)
  })
})
