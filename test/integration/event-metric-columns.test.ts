/** Nested payloads as typed metric columns (metrics_wide) and as dotted metrics (metrics). */
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { EventStore, type NewEvent } from '../../src/index.js'
import { tempDir } from '../support/temp.js'

const log = (i: number, payload: unknown): NewEvent => ({
  eventId: `n-${i}`,
  time: `2024-01-01 00:0${i}:00`,
  experiment: 'e',
  run: 'r',
  type: 'log',
  payload,
})

test('numbers, groups of metrics and open-ended counts become BIGINT/DOUBLE, STRUCT and MAP columns', async () => {
  const store = await EventStore.open({ path: join(tempDir(), 'events.duckdb') })
  await store.append([
    log(1, { loss: 0.1, epoch: 1, eval: { acc: 0.9, f1: 0.8 }, counts: { cat: 3, dog: 5 } }),
    log(2, { loss: 0.05, epoch: 2, eval: { acc: 0.95, f1: 0.85 }, counts: { bird: 1 }, note: 'x' }),
    { ...log(3, { lr: 0.1 }), type: 'params' },
  ])
  const types = await store.query<{ column_name: string; column_type: string }>(
    'select column_name, column_type from (describe metrics_wide)',
  )
  expect(types).toEqual([
    { column_name: 'experiment', column_type: 'VARCHAR' },
    { column_name: 'run', column_type: 'VARCHAR' },
    { column_name: 'step', column_type: 'BIGINT' },
    { column_name: 'time', column_type: 'TIMESTAMP' },
    { column_name: 'event_id', column_type: 'VARCHAR' },
    { column_name: 'loss', column_type: 'DOUBLE' },
    { column_name: 'epoch', column_type: 'BIGINT' },
    { column_name: 'eval', column_type: 'STRUCT(acc DOUBLE, f1 DOUBLE)' },
    { column_name: 'counts', column_type: 'MAP(VARCHAR, BIGINT)' },
  ])
  expect(
    await store.query(
      `select step::INTEGER as step, loss, epoch::INTEGER as epoch, eval.acc as acc, eval.f1 as f1,
        counts['cat']::INTEGER as cat, counts['bird']::INTEGER as bird,
        cardinality(counts)::INTEGER as kinds from metrics_wide order by step`,
    ),
  ).toEqual([
    { step: 1, loss: 0.1, epoch: 1, acc: 0.9, f1: 0.8, cat: 3, bird: null, kinds: 2 },
    { step: 2, loss: 0.05, epoch: 2, acc: 0.95, f1: 0.85, cat: null, bird: 1, kinds: 1 },
  ])
  // The long view names nested fields by their path and leaves text out.
  expect(
    (await store.view<{ metric: string; value: number }>('metrics')).map((r) => [
      r.metric,
      r.value,
    ]),
  ).toEqual([
    ['counts.bird', 1],
    ['counts.cat', 3],
    ['counts.dog', 5],
    ['epoch', 1],
    ['epoch', 2],
    ['eval.acc', 0.9],
    ['eval.acc', 0.95],
    ['eval.f1', 0.8],
    ['eval.f1', 0.85],
    ['loss', 0.1],
    ['loss', 0.05],
  ])
  // A later event with a new field adds a column; a float in an integer field makes it DOUBLE.
  await store.append([log(4, { loss: 0.01, epoch: 2.5, eval: { acc: 1, f1: 1, auc: 0.7 } })])
  const later = await store.query<{ column_name: string; column_type: string }>(
    `select column_name, column_type from (describe metrics_wide) where column_name in ('epoch', 'eval')`,
  )
  expect(later).toEqual([
    { column_name: 'epoch', column_type: 'DOUBLE' },
    // eval's keys now vary between events (auc is new): open-ended, so a MAP.
    { column_name: 'eval', column_type: 'MAP(VARCHAR, DOUBLE)' },
  ])
  store.close()
})

test('arrays, text and booleans get no column; objects inside objects nest as STRUCTs', async () => {
  const store = await EventStore.open({ path: join(tempDir(), 'events.duckdb') })
  await store.append([log(1, { tags: [1, 2], note: 'x', ok: true, nested: { deep: { v: 2 } } })])
  expect(
    (
      await store.query<{ column_name: string; column_type: string }>(
        'select column_name, column_type from (describe metrics_wide)',
      )
    ).map((r) => `${r.column_name} ${r.column_type}`),
  ).toEqual([
    'experiment VARCHAR',
    'run VARCHAR',
    'step BIGINT',
    'time TIMESTAMP',
    'event_id VARCHAR',
    'nested STRUCT(deep STRUCT(v BIGINT))',
  ])
  expect(await store.query('select nested.deep.v::INTEGER as v from metrics_wide')).toEqual([
    { v: 2 },
  ])
  expect((await store.view<{ metric: string }>('metrics')).map((r) => r.metric)).toEqual([
    'nested.deep.v',
  ])
  store.close()
})
