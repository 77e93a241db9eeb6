/**
 * The change-request merge against a JS model of the three-way cell rule (issue 9): for random
 * edits on both sides of a small table, `ours` is merged first as one change request, then
 * `theirs` (started from the same base version) either merges to exactly the model's table, or is
 * refused with the model's conflicting keys and the table left as ours made it; forced, it takes
 * theirs' side of every conflict and keeps every change that did not conflict.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, test } from 'vitest'
import { readRows } from '../../src/changes/dataset-rows.js'
import {
  createChangeRequest,
  createDataset,
  type DataRoot,
  getDataset,
  mergeChangeRequest,
  openDataRoot,
} from '../../src/index.js'
import { tempDir } from '../support/temp.js'

type Value = number | null
type Row = { a: Value; b: Value }
type Table = Map<number, Row>
type Edit = { op: 'keep' } | { op: 'delete' } | { op: 'upsert'; row: Row }

const COLUMNS = ['a', 'b'] as const
const value = fc.constantFrom<Value>(0, 1, 2, null)
const row = fc.record({ a: value, b: value })
const edit = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Edit>({ op: 'keep' }) },
  { weight: 1, arbitrary: fc.constant<Edit>({ op: 'delete' }) },
  { weight: 3, arbitrary: row.map<Edit>((r) => ({ op: 'upsert', row: r })) },
)
/** Base rows hold only numbers, so every column is typed BIGINT from the CSV. */
const baseRow = fc.record({ a: fc.constantFrom(0, 1, 2), b: fc.constantFrom(0, 1, 2) })
// Keys 1..n exist in base; n+1 and n+2 are new keys either side may insert (the same one too).
const scenario = fc.array(baseRow, { minLength: 2, maxLength: 5 }).chain((base) => {
  const keys = base.length + 2
  return fc.record({
    base: fc.constant(base),
    ours: fc.array(edit, { minLength: keys, maxLength: keys }),
    theirs: fc.array(edit, { minLength: keys, maxLength: keys }),
  })
})

function apply(base: Table, edits: readonly Edit[]): Table {
  const out = new Map(base)
  edits.forEach((e, i) => {
    const key = i + 1
    if (e.op === 'upsert') out.set(key, e.row)
    // A delete of a key base lacks is not staged (see patchCsv).
    if (e.op === 'delete') out.delete(key)
  })
  return out
}

/** Only edits that change something reach a patch: deletes of existing keys, upserts. */
function patchCsv(base: Table, edits: readonly Edit[]): string | undefined {
  const cell = (v: Value) => (v === null ? '' : String(v))
  const lines = edits.flatMap((e, i) => {
    const key = i + 1
    if (e.op === 'upsert') return [`${key},${cell(e.row.a)},${cell(e.row.b)},upsert`]
    if (e.op === 'delete' && base.has(key)) return [`${key},,,delete`]
    return []
  })
  return lines.length === 0 ? undefined : `id,a,b,_op\n${lines.join('\n')}\n`
}

const same = (x: Row | undefined, y: Row | undefined) =>
  x === undefined || y === undefined ? x === y : x.a === y.a && x.b === y.b

/**
 * The three-way cell rule (Dolt's), NULL-aware: the keys that conflict, and the table a forced
 * merge makes (theirs' side of every conflict, every other change kept).
 */
function model(base: Table, ours: Table, theirs: Table) {
  const merged: Table = new Map()
  const conflicts: number[] = []
  const keys = [...new Set([...base.keys(), ...ours.keys(), ...theirs.keys()])].sort(
    (x, y) => x - y,
  )
  for (const key of keys) {
    const [b, o, t] = [base.get(key), ours.get(key), theirs.get(key)]
    let out: Row | undefined
    if (same(o, t) || same(b, t)) out = o
    else if (same(b, o)) out = t
    else if (b === undefined || o === undefined || t === undefined) {
      // insert/insert with different values, delete/update, update/delete
      conflicts.push(key)
      out = t
    } else {
      const cells = { ...o }
      for (const c of COLUMNS) {
        if (o[c] === t[c] || b[c] === t[c]) continue
        if (b[c] === o[c]) cells[c] = t[c]
        else {
          if (!conflicts.includes(key)) conflicts.push(key)
          cells[c] = t[c]
        }
      }
      out = cells
    }
    if (out !== undefined) merged.set(key, out)
  }
  return { conflicts, forced: merged }
}

const asRows = (table: Table) =>
  [...table.entries()].sort(([x], [y]) => x - y).map(([id, r]) => ({ id, ...r }))

const opened: DataRoot[] = []
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close()
})

describe('change-request merge against a JS model of the three-way rule', () => {
  test('merged rows, conflicting keys and forced merges equal the model', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        async ({ base: baseRows, ours: oursEdits, theirs: theirsEdits }) => {
          const base: Table = new Map(baseRows.map((r, i) => [i + 1, r]))
          const theirsCsv = patchCsv(base, theirsEdits)
          fc.pre(theirsCsv !== undefined)
          const dir = tempDir()
          const file = (name: string, text: string) => {
            writeFileSync(join(dir, name), text)
            return join(dir, name)
          }
          const root = await openDataRoot({ root: join(dir, 'root') })
          opened.push(root)
          await createDataset(root, {
            name: 't',
            from: file(
              'base.csv',
              `id,a,b\n${asRows(base)
                .map((r) => `${r.id},${r.a},${r.b}`)
                .join('\n')}\n`,
            ),
            key: ['id'],
          })
          const cr = (name: string, csv: string) =>
            createChangeRequest(root, {
              dataset: 't',
              from: file(name, csv),
              title: name,
              baseVersion: 0,
            })
          const oursCsv = patchCsv(base, oursEdits)
          const ours = oursCsv === undefined ? base : apply(base, oursEdits)
          if (oursCsv !== undefined)
            await mergeChangeRequest(root, (await cr('ours.csv', oursCsv)).id)
          const theirs = apply(base, theirsEdits)
          const expected = model(base, ours, theirs)
          const rows = async () => {
            const { rows } = await readRows(await getDataset(root, 't'), { limit: 100 })
            return rows
              .map((r) => ({
                id: Number(r.id),
                a: r.a === null ? null : Number(r.a),
                b: r.b === null ? null : Number(r.b),
              }))
              .sort((x, y) => x.id - y.id)
          }

          const change = await cr('theirs.csv', theirsCsv as string)
          const outcome = await mergeChangeRequest(root, change.id).catch((error: unknown) => error)
          if (expected.conflicts.length === 0) {
            expect(outcome).toMatchObject({ status: 'merged' })
          } else {
            const error = outcome as {
              code: string
              details: { conflicts: { key: { id: number } }[] }
            }
            expect(error.code).toBe('MERGE_CONFLICT')
            const keys = error.details.conflicts.map((c) => Number(c.key.id)).sort((x, y) => x - y)
            expect(keys).toEqual(expected.conflicts)
            expect(await rows()).toEqual(asRows(ours))
            await mergeChangeRequest(root, change.id, { force: true })
          }
          expect(await rows()).toEqual(asRows(expected.forced))
          await root.close()
          opened.pop()
        },
      ),
      { numRuns: 25 },
    )
  }, 600_000)
})
