import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  DuckmergeError,
  listModels,
  mergeModel,
  promoteModel,
  rollbackModel,
} from '../../src/index.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

const sha = (text: string) => createHash('sha256').update(text).digest('hex')

type Op = { kind: 'promote'; candidate: number } | { kind: 'rollback' }

describe('model registry invariants', () => {
  test('any sequence of promotions and rollbacks behaves like a stack, on disk and in the registry', async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('promote' as const),
        candidate: fc.integer({ min: 0, max: 2 }),
      }),
      fc.constant({ kind: 'rollback' as const }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops: Op[]) => {
        const dir = tempDir()
        const models = join(dir, 'models')
        mkdirSync(join(dir, 'runs'))
        // Two candidates share a file name, one differs: production/ must hold exactly one file.
        const names = ['model.bin', 'model.bin', 'other.pt']
        for (const [i, name] of names.entries()) {
          mkdirSync(join(dir, 'runs', String(i)))
          const path = join(dir, 'runs', String(i), name)
          writeFileSync(path, `weights ${i}`)
          await mergeModel({ models, exp: path, runId: `r${i}` })
        }
        const stack: number[] = []
        for (const o of ops) {
          if (o.kind === 'promote') {
            const report = await promoteModel({
              models,
              candidate: `r${o.candidate}_${names[o.candidate]}`,
            })
            expect(report.changed).toBe(stack.at(-1) !== o.candidate)
            if (report.changed) stack.push(o.candidate)
          } else if (stack.length >= 2) {
            await rollbackModel({ models })
            stack.pop()
          } else {
            const before = hashTree(models)
            await expect(rollbackModel({ models })).rejects.toBeInstanceOf(DuckmergeError)
            expect(hashTree(models)).toEqual(before)
          }
          const top = stack.at(-1)
          const listing = await listModels({ models })
          if (top === undefined) {
            expect(listing.production).toBeNull()
            continue
          }
          const name = names[top] ?? ''
          // The production copy keeps a stable name, model<ext>, whichever candidate it is.
          expect(hashTree(join(models, 'production'))).toEqual({
            [`model${extname(name)}`]: sha(`weights ${top}`),
          })
          expect(listing.production?.sha256).toBe(sha(`weights ${top}`))
          const below = stack.at(-2)
          expect(listing.rollbackTo?.sha256).toBe(
            below === undefined ? undefined : sha(`weights ${below}`),
          )
          // Every model that was ever in production is in the store.
          for (const i of new Set(stack))
            expect(readFileSync(join(models, 'store', sha(`weights ${i}`)), 'utf8')).toBe(
              `weights ${i}`,
            )
        }
      }),
      { numRuns: 25 },
    )
  })
})
