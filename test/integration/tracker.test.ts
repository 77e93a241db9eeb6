/** The Tracker on real SQLite files: rows, params, tracked calls, the result cache, bad input. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openSqlite } from '../../src/engine/sqlite.js'
import { isDuckmergeError, Tracker } from '../../src/index.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

function read(db: string, query: string): Record<string, unknown>[] {
  const conn = openSqlite(db, { readonly: true })
  try {
    return conn.prepare(query).all() as Record<string, unknown>[]
  } finally {
    conn.close()
  }
}

function schema(db: string, table: string): string {
  const row = read(db, `select sql from sqlite_master where name = '${table}'`)[0]
  return String(row?.sql)
}

describe('log', () => {
  test('rows land in xetrack layout: key, params, then values as columns appear', async () => {
    const db = join(tempDir(), 'experiments.db')
    const tracker = new Tracker({
      db,
      table: 'metrics',
      params: { experiment_version: 'e0.1.0', model: 'tiny-mlp', lr: 0.01 },
      trackId: 'brave-otter-0001',
    })
    tracker.log({ n: 40, accuracy: 0.75, 'my-metric x': 1, ok: true, tags: ['a', 'b'] })
    tracker.logBatch([
      { n: 41, note: null },
      { n: 42, cfg: { depth: 2 } },
    ])
    await tracker.close()

    expect(schema(db, 'metrics')).toBe(
      'CREATE TABLE "metrics" (track_id TEXT, timestamp TEXT, "experiment_version" TEXT, ' +
        '"model" TEXT, "lr" REAL, "n" INTEGER, "accuracy" REAL, "my_metric_x" INTEGER, ' +
        '"ok" INTEGER, "tags" TEXT, "cfg" TEXT, PRIMARY KEY (track_id, timestamp))',
    )
    const rows = read(db, 'select * from metrics order by timestamp')
    expect(rows.map(({ timestamp, ...rest }) => rest)).toEqual([
      {
        track_id: 'brave-otter-0001',
        experiment_version: 'e0.1.0',
        model: 'tiny-mlp',
        lr: 0.01,
        n: 40,
        accuracy: 0.75,
        my_metric_x: 1,
        ok: 1,
        tags: '["a","b"]',
        cfg: null,
      },
      { ...nulls(), n: 41 },
      { ...nulls(), n: 42, cfg: '{"depth":2}' },
    ])
    for (const row of rows) {
      expect(row.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/)
    }
  })

  test('rows of changing shapes: a column appears with its first non-null value', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1', params: { a: 0 } })
    tracker.log({ a: 1, b: null })
    tracker.log({ a: 2, b: null })
    tracker.log({ a: 3, b: 'x' })
    tracker.log({ a: 4, b: null })
    tracker.log({ b: 5, a: 6 })
    tracker.log({ track_id: 'not-mine', timestamp: 'never', c: 7 })
    tracker.log({ c: 8 })
    await tracker.close()
    expect(schema(db, 'default')).toBe(
      'CREATE TABLE "default" (track_id TEXT, timestamp TEXT, "a" INTEGER, "b" TEXT, ' +
        '"c" INTEGER, PRIMARY KEY (track_id, timestamp))',
    )
    expect(read(db, 'select track_id, a, b, c from "default" order by timestamp')).toEqual([
      { track_id: 'r1', a: 1, b: null, c: null },
      { track_id: 'r1', a: 2, b: null, c: null },
      { track_id: 'r1', a: 3, b: 'x', c: null },
      { track_id: 'r1', a: 4, b: null, c: null },
      // TEXT affinity, as in xetrack's quirks table: a number in a TEXT column becomes text,
      // and a JavaScript number is a double, so 5 reads back as '5.0'.
      { track_id: 'r1', a: 6, b: '5.0', c: null },
      { track_id: 'r1', a: 0, b: null, c: 7 },
      { track_id: 'r1', a: 0, b: null, c: 8 },
    ])
  })

  test('setParams adds a param column; older rows keep NULL there', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, params: { model: 'a' }, trackId: 'r1' })
    tracker.log({ score: 1 })
    tracker.setParams({ dropout: 0.1, model: 'b' })
    tracker.log({ score: 2 })
    expect(tracker.params).toEqual({ model: 'b', dropout: 0.1 })
    await tracker.close()
    expect(read(db, 'select model, dropout, score from "default" order by timestamp')).toEqual([
      { model: 'a', dropout: null, score: 1 },
      { model: 'b', dropout: 0.1, score: 2 },
    ])
  })

  test('many rows in one microsecond keep unique (track_id, timestamp) keys', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1', batchSize: 1000 })
    for (let i = 0; i < 20_000; i++) tracker.log({ i })
    await tracker.flush()
    expect(read(db, 'select count(*) as n, sum(i) as s from "default"')).toEqual([
      { n: 20_000, s: (19_999 * 20_000) / 2 },
    ])
    await tracker.close()
  })

  test('flush() resolves only once rows are committed (a second connection sees them)', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 'r1' })
    tracker.log({ a: 1 })
    await tracker.flush()
    expect(read(db, 'select a from "default"')).toEqual([{ a: 1 }])
    tracker.log({ a: 2 })
    await tracker.flush()
    expect(read(db, 'select a from "default" order by a')).toEqual([{ a: 1 }, { a: 2 }])
    await tracker.close()
  })

  test('two trackers given the same track id lose no row', async () => {
    const db = join(tempDir(), 'e.db')
    const a = new Tracker({ db, trackId: 'same' })
    const b = new Tracker({ db, trackId: 'same' })
    for (let i = 0; i < 2000; i++) {
      a.log({ i })
      b.log({ i })
    }
    await Promise.all([a.close(), b.close()])
    expect(read(db, 'select count(*) as n from "default"')).toEqual([{ n: 4000 }])
  })
})

describe('track', () => {
  test('records name, args, result fields and time; returns the result', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, table: 'predictions', params: { lr: 0.1 }, trackId: 't1' })
    const predict = (item: { id: number; x: number }) => ({
      input_id: item.id,
      prediction: item.x > 0.5 ? 1 : 0,
    })
    expect(tracker.track(predict, [{ id: 7, x: 0.9 }])).toEqual({ input_id: 7, prediction: 1 })
    const double = tracker.wrap((n: number) => n * 2)
    expect(double(21)).toBe(42)
    await tracker.close()
    const rows = read(db, 'select * from predictions order by timestamp')
    expect(rows.map(({ timestamp, function_time, ...rest }) => rest)).toEqual([
      {
        track_id: 't1',
        lr: 0.1,
        function_name: 'predict',
        args: '[{"id":7,"x":0.9}]',
        kwargs: '{}',
        error: '',
        input_id: 7,
        prediction: 1,
        function_result: null,
      },
      {
        track_id: 't1',
        lr: 0.1,
        function_name: 'anonymous',
        args: '[21]',
        kwargs: '{}',
        error: '',
        input_id: null,
        prediction: null,
        function_result: 42,
      },
    ])
    expect(rows.every((r) => typeof r.function_time === 'number' && r.function_time >= 0)).toBe(
      true,
    )
    const columns = read(db, `select name from pragma_table_info('predictions')`).map((c) => c.name)
    expect(columns.slice(0, 8)).toEqual([
      'track_id',
      'timestamp',
      'lr',
      'function_name',
      'args',
      'kwargs',
      'error',
      'function_time',
    ])
  })

  test('async functions: the promise resolves to the result after the row is recorded', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 't1' })
    async function fetchScore(id: number) {
      await new Promise((r) => setTimeout(r, 20))
      return { id, score: id / 10 }
    }
    await expect(tracker.track(fetchScore, [3])).resolves.toEqual({ id: 3, score: 0.3 })
    await tracker.close()
    const [row] = read(db, 'select function_name, args, id, score, function_time from "default"')
    expect(row).toMatchObject({ function_name: 'fetchScore', args: '[3]', id: 3, score: 0.3 })
    expect(Number(row?.function_time)).toBeGreaterThanOrEqual(0.015)
  })

  test('a thrown error is recorded, then rethrown (sync and async)', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 't1' })
    const boom = (_x: number): number => {
      throw new Error('bad input 1')
    }
    const boomLater = async (_x: number): Promise<number> => {
      throw new Error('bad input 2')
    }
    expect(() => tracker.track(boom, [1])).toThrow('bad input 1')
    await expect(tracker.track(boomLater, [2])).rejects.toThrow('bad input 2')
    await tracker.close()
    expect(read(db, 'select function_name, error from "default" order by timestamp')).toEqual([
      { function_name: 'boom', error: 'bad input 1' },
      { function_name: 'boomLater', error: 'bad input 2' },
    ])
  })
})

describe('result cache', () => {
  test('a call seen before, even by an earlier tracker, returns the stored result', async () => {
    const db = join(tempDir(), 'e.db')
    let calls = 0
    const predict = (item: { id: number }) => {
      calls++
      return { input_id: item.id, prediction: item.id % 2 }
    }
    const first = new Tracker({ db, table: 'predictions', cache: true, trackId: 'first-run-0001' })
    expect(first.track(predict, [{ id: 1 }])).toEqual({ input_id: 1, prediction: 1 })
    expect(first.track(predict, [{ id: 1 }])).toEqual({ input_id: 1, prediction: 1 })
    expect(calls).toBe(1)
    await first.close()

    // A new process would open the database afresh: the cache is in it.
    const second = new Tracker({
      db,
      table: 'predictions',
      cache: true,
      trackId: 'second-run-0002',
    })
    expect(second.track(predict, [{ id: 1 }])).toEqual({ input_id: 1, prediction: 1 })
    expect(second.track(predict, [{ id: 2 }])).toEqual({ input_id: 2, prediction: 0 })
    expect(calls).toBe(2)
    const cachedAsync = async (n: number) => {
      calls++
      return n + 1
    }
    await expect(second.track(cachedAsync, [1])).resolves.toBe(2)
    await second.close()
    const third = new Tracker({ db, table: 'predictions', cache: true, trackId: 'third-run-0003' })
    const hit = third.track(cachedAsync, [1])
    expect(hit).toBeInstanceOf(Promise)
    await expect(hit).resolves.toBe(2)
    expect(calls).toBe(3)
    await third.close()

    expect(
      read(
        db,
        'select track_id, input_id, cache from predictions where input_id is not null order by timestamp',
      ),
    ).toEqual([
      { track_id: 'first-run-0001', input_id: 1, cache: '' },
      { track_id: 'first-run-0001', input_id: 1, cache: 'first-run-0001' },
      { track_id: 'second-run-0002', input_id: 1, cache: 'first-run-0001' },
      { track_id: 'second-run-0002', input_id: 2, cache: '' },
    ])
    expect(read(db, 'select count(*) as n from tracker_cache')).toEqual([{ n: 3 }])
  })

  test('errors and non-data arguments are never cached', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, cache: true, trackId: 't' })
    let calls = 0
    const flaky = (_n: number) => {
      calls++
      if (calls === 1) throw new Error('first call fails')
      return calls
    }
    expect(() => tracker.track(flaky, [1])).toThrow('first call fails')
    expect(tracker.track(flaky, [1])).toBe(2)
    expect(tracker.track(flaky, [1])).toBe(2)
    const withCallback = (cb: () => number) => cb()
    expect(tracker.track(withCallback, [() => 5])).toBe(5)
    await tracker.close()
    expect(read(db, 'select function_name, result from tracker_cache')).toEqual([
      { function_name: 'flaky', result: '{"value":2,"isAsync":false}' },
    ])
    expect(
      read(db, 'select function_name, error, cache from "default" order by timestamp'),
    ).toEqual([
      { function_name: 'flaky', error: 'first call fails', cache: '' },
      { function_name: 'flaky', error: '', cache: '' },
      { function_name: 'flaky', error: '', cache: 't' },
      { function_name: 'withCallback', error: '', cache: null },
    ])
  })
})

describe('bad input', () => {
  test('a function value is rejected naming the key; the row is not written', async () => {
    const db = join(tempDir(), 'e.db')
    const tracker = new Tracker({ db, trackId: 't' })
    tracker.log({ ok: 1 })
    let caught: unknown
    try {
      tracker.log({ fine: 2, 'my callback': () => 1 })
    } catch (error) {
      caught = error
    }
    expect(isDuckmergeError(caught, 'VALIDATION_FAILED')).toBe(true)
    expect((caught as Error).message).toMatch(/^Cannot track "my callback": a function cannot/)
    expect(() => tracker.log({ s: Symbol('x') })).toThrow(/Cannot track "s": a symbol/)
    expect(() => tracker.setParams({ p: () => 1 })).toThrow(/Cannot track "p"/)
    await tracker.close()
    expect(read(db, 'select * from "default"').map(({ timestamp, ...r }) => r)).toEqual([
      { track_id: 't', ok: 1 },
    ])
  })

  test('a db path in a missing folder is a clear error and creates nothing', () => {
    const dir = tempDir()
    const before = hashTree(dir)
    let caught: unknown
    try {
      new Tracker({ db: join(dir, 'results', 'experiments.db') })
    } catch (error) {
      caught = error
    }
    expect(isDuckmergeError(caught, 'OUTPUT_UNWRITABLE')).toBe(true)
    expect((caught as Error).message).toBe(
      `Cannot track into ${join(dir, 'results', 'experiments.db')}: folder ${join(dir, 'results')} ` +
        'does not exist. Create it first (mkdir -p).',
    )
    expect(hashTree(dir)).toEqual(before)
  })

  test('a file that is not SQLite is refused and left unchanged', () => {
    const dir = tempDir()
    const db = join(dir, 'notes.db')
    writeFileSync(db, 'these are my notes, not a database\n')
    const before = hashTree(dir)
    expect(() => new Tracker({ db })).toThrow(
      `Cannot track into ${db}: it is neither a SQLite nor a DuckDB database.`,
    )
    expect(hashTree(dir)).toEqual(before)
  })

  test('a write the database refuses rejects flush() naming the file; nothing is written', async () => {
    const dir = tempDir()
    const db = join(dir, 'e.db')
    const setup = openSqlite(db, { fileMustExist: false })
    setup.exec(`create table source (x INTEGER); create view "default" as select x from source`)
    setup.close()
    const tracker = new Tracker({ db, trackId: 't' })
    tracker.log({ x: 1 })
    let caught: unknown
    try {
      await tracker.flush()
    } catch (error) {
      caught = error
    }
    expect(isDuckmergeError(caught)).toBe(true)
    expect((caught as Error).message).toBe(
      `Cannot write tracked rows to ${db}, table "default": Cannot add a column to a view`,
    )
    await tracker.close()
    expect(read(db, 'select count(*) as n from source')).toEqual([{ n: 0 }])
  })

  test('log after close is a usage error', async () => {
    const tracker = new Tracker({ db: join(tempDir(), 'e.db'), trackId: 't' })
    await tracker.close()
    expect(() => tracker.log({ a: 1 })).toThrow('Tracker t on')
  })
})

function nulls() {
  return {
    track_id: 'brave-otter-0001',
    experiment_version: 'e0.1.0',
    model: 'tiny-mlp',
    lr: 0.01,
    n: null,
    accuracy: null,
    my_metric_x: null,
    ok: null,
    tags: null,
    cfg: null,
  }
}
