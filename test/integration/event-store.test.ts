/** The DuckDB event store: events in, exact views out, JSON Lines import, archive, one writer. */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, test } from 'vitest'
import { EventStore, isDuckmergeError, type NewEvent } from '../../src/index.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

const events: NewEvent[] = [
  {
    time: '2024-01-01 00:00:00',
    experiment: 'e1',
    run: 'r1',
    type: 'params',
    payload: { lr: 0.1 },
  },
  {
    time: '2024-01-01 00:01:00',
    experiment: 'e1',
    run: 'r1',
    type: 'log',
    payload: { loss: 4, note: 'x', ok: true },
  },
  { time: '2024-01-01 00:02:00', experiment: 'e1', run: 'r1', type: 'log', payload: { loss: 3 } },
  {
    time: '2024-01-01 00:03:00',
    experiment: 'e1',
    run: 'r1',
    type: 'log',
    payload: { loss: 2, acc: 0.5 },
  },
  {
    time: '2024-01-02 00:00:00',
    experiment: 'e1',
    run: 'r2',
    type: 'params',
    payload: { lr: 0.2 },
  },
  { time: '2024-01-02 00:01:00', experiment: 'e1', run: 'r2', type: 'log', payload: { loss: 5 } },
  { time: '2024-01-02 00:02:00', experiment: 'e1', run: 'r2', type: 'log', payload: { loss: 1 } },
  { time: '2024-03-01 12:00:00', experiment: 'e2', run: 'r3', type: 'log', payload: { loss: 10 } },
]

async function openWith(dir: string): Promise<EventStore> {
  const store = await EventStore.open({ path: join(dir, 'events.duckdb'), rollingWindow: 2 })
  await store.append(events.map((e, i) => ({ ...e, eventId: `ev-${i}` })))
  return store
}

describe('views', () => {
  test('runs: time span, event counts and latest params per run', async () => {
    const store = await openWith(tempDir())
    expect(await store.view('runs')).toEqual([
      {
        experiment: 'e1',
        run: 'r1',
        started: '2024-01-01 00:00:00',
        ended: '2024-01-01 00:03:00',
        events: '4',
        logs: '3',
        params: '{"lr":0.1}',
      },
      {
        experiment: 'e1',
        run: 'r2',
        started: '2024-01-02 00:00:00',
        ended: '2024-01-02 00:02:00',
        events: '3',
        logs: '2',
        params: '{"lr":0.2}',
      },
      {
        experiment: 'e2',
        run: 'r3',
        started: '2024-03-01 12:00:00',
        ended: '2024-03-01 12:00:00',
        events: '1',
        logs: '1',
        params: null,
      },
    ])
    store.close()
  })

  test('metrics: numeric fields only, steps in time order, rolling average over the window', async () => {
    const store = await openWith(tempDir())
    const rows = await store.view<Record<string, unknown>>('metrics')
    expect(
      rows.map((r) => [r.experiment, r.run, r.metric, r.step, r.time, r.value, r.rolling_avg]),
    ).toEqual([
      ['e1', 'r1', 'acc', '1', '2024-01-01 00:03:00', 0.5, 0.5],
      ['e1', 'r1', 'loss', '1', '2024-01-01 00:01:00', 4, 4],
      ['e1', 'r1', 'loss', '2', '2024-01-01 00:02:00', 3, 3.5],
      ['e1', 'r1', 'loss', '3', '2024-01-01 00:03:00', 2, 2.5],
      ['e1', 'r2', 'loss', '1', '2024-01-02 00:01:00', 5, 5],
      ['e1', 'r2', 'loss', '2', '2024-01-02 00:02:00', 1, 3],
      ['e2', 'r3', 'loss', '1', '2024-03-01 12:00:00', 10, 10],
    ])
    store.close()
  })

  test('metrics: keys that look like JSON paths are read as keys', async () => {
    const store = await EventStore.open({ path: join(tempDir(), 'events.duckdb') })
    await store.append([
      {
        time: '2024-01-01 00:00:00',
        experiment: 'e',
        run: 'r',
        type: 'log',
        payload: { $x: 1, '/y': 2, 'a.b': 3, 'q"t': 4, '[0]': 5 },
      },
    ])
    const rows = await store.view<Record<string, unknown>>('metrics')
    expect(rows.map((r) => [r.metric, r.value])).toEqual([
      ['$x', 1],
      ['/y', 2],
      ['[0]', 5],
      ['a.b', 3],
      ['q"t', 4],
    ])
    store.close()
  })

  test('dashboard: runs, points, mean / median / p90 and regr_slope trend per metric', async () => {
    const store = await openWith(tempDir())
    const rows = await store.view<Record<string, unknown>>('dashboard')
    expect(rows).toHaveLength(3)
    const [acc, loss, other] = rows
    expect(acc).toMatchObject({
      experiment: 'e1',
      metric: 'acc',
      runs: '1',
      points: '1',
      mean: 0.5,
      median: 0.5,
      p90: 0.5,
      trend: null,
    })
    // loss in e1: values 4, 3, 2 (steps 1-3) and 5, 1 (steps 1-2).
    expect(loss).toMatchObject({
      experiment: 'e1',
      metric: 'loss',
      runs: '2',
      points: '5',
      mean: 3,
      median: 3,
      min: 1,
      max: 5,
    })
    expect(loss?.p90).toBeCloseTo(4.6, 12)
    expect(loss?.trend).toBeCloseTo(-4 / 2.8, 12)
    expect(other).toMatchObject({
      experiment: 'e2',
      metric: 'loss',
      runs: '1',
      points: '1',
      mean: 10,
    })
    store.close()
  })
})

describe('importJsonl', () => {
  test('imports lines read by DuckDB directly; a second import adds nothing', async () => {
    const dir = tempDir()
    const store = await openWith(dir)
    const file = join(dir, 'events.jsonl')
    writeFileSync(
      file,
      [
        {
          event_id: 'j-1',
          time: '2024-01-05T02:00:00+02:00',
          experiment: 'e3',
          run: 'r9',
          type: 'log',
          payload: { loss: 7 },
        },
        {
          event_id: 'j-2',
          time: '2024-01-05 00:05:00',
          experiment: 'e3',
          run: 'r9',
          type: 'log',
          payload: { loss: 6 },
        },
        {
          event_id: 'ev-0',
          time: '2024-01-01 00:00:00',
          experiment: 'e1',
          run: 'r1',
          type: 'params',
          payload: { lr: 0.1 },
        },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    )
    expect(await store.importJsonl(file)).toEqual({ file, imported: 2, skipped: 1 })
    expect(await store.importJsonl(file)).toEqual({ file, imported: 0, skipped: 3 })
    expect(
      await store.query(
        `select event_id, time, run, payload from events where experiment = 'e3' order by time`,
      ),
    ).toEqual([
      { event_id: 'j-1', time: '2024-01-05 00:00:00', run: 'r9', payload: '{"loss":7}' },
      { event_id: 'j-2', time: '2024-01-05 00:05:00', run: 'r9', payload: '{"loss":6}' },
    ])
    store.close()
  })

  test('a line without a run is refused naming the line; nothing is imported', async () => {
    const dir = tempDir()
    const store = await openWith(dir)
    const file = join(dir, 'bad.jsonl')
    writeFileSync(
      file,
      '{"time":"2024-01-05 00:00:00","experiment":"e3","run":"r9","type":"log","payload":{}}\n' +
        '{"time":"2024-01-05 00:00:01","experiment":"e3","type":"log","payload":{}}\n',
    )
    let caught: unknown
    try {
      await store.importJsonl(file)
    } catch (error) {
      caught = error
    }
    expect(isDuckmergeError(caught, 'VALIDATION_FAILED')).toBe(true)
    expect((caught as Error).message).toBe(
      `Cannot import ${file}: 1 line(s) lack a readable time, experiment, run or type ` +
        '(first: line 2, time "2024-01-05 00:00:01"). Fix those lines; nothing was imported.',
    )
    expect(await store.query('select count(*) as n from events')).toEqual([{ n: '8' }])
    await expect(store.importJsonl(join(dir, 'missing.jsonl'))).rejects.toThrow(
      `Events file not found: ${join(dir, 'missing.jsonl')}`,
    )
    store.close()
  })
})

test('a file that is not JSON Lines is refused naming it; nothing is imported', async () => {
  const dir = tempDir()
  const store = await openWith(dir)
  const file = join(dir, 'broken.jsonl')
  writeFileSync(
    file,
    '{"time":"2024-01-05 00:00:00","experiment":"e3","run":"r","type":"log"}\nnot json at all\n',
  )
  await expect(store.importJsonl(file)).rejects.toMatchObject({
    code: 'INPUT_UNREADABLE',
    message: expect.stringMatching(
      new RegExp(`^Cannot import ${file}: it is not JSON Lines of events \\(`),
    ),
  })
  expect(await store.query('select count(*) as n from events')).toEqual([{ n: '8' }])
  store.close()
})

describe('archive', () => {
  test('old runs move to date-partitioned Parquet; every view reads the same before and after', async () => {
    const dir = tempDir()
    const store = await openWith(dir)
    const snapshot = async () => ({
      all: await store.query(
        'select event_id, time, experiment, run, type, payload from events_all order by event_id',
      ),
      runs: await store.view('runs'),
      metrics: await store.view('metrics'),
      dashboard: await store.view('dashboard'),
    })
    const before = await snapshot()
    const phases: string[] = []
    const report = await store.archive({
      olderThanDays: 30,
      now: new Date('2024-03-02T00:00:00Z'),
      onProgress: (p) => phases.push(`${p.phase} ${p.done}/${p.total}`),
    })
    expect(phases).toEqual([
      'selecting runs 0/3',
      'writing parquet 1/3',
      'deleting archived events 2/3',
      'deleting archived events 3/3',
    ])
    expect(report.runs).toBe(2)
    expect(report.events).toBe(7)
    expect(report.files.map((f) => f.split('/')[0]).sort()).toEqual([
      'date=2024-01-01',
      'date=2024-01-02',
    ])
    expect(readdirSync(store.archiveDir).sort()).toEqual(['date=2024-01-01', 'date=2024-01-02'])
    expect(await store.query('select run, count(*) as n from events group by run')).toEqual([
      { run: 'r3', n: '1' },
    ])
    expect(await snapshot()).toEqual(before)
    expect(
      await store.query(
        'select source, count(*) as n from events_all group by source order by source',
      ),
    ).toEqual([
      { source: 'archive', n: '7' },
      { source: 'live', n: '1' },
    ])

    // Archiving again finds nothing new.
    expect(
      await store.archive({ olderThanDays: 30, now: new Date('2024-03-02T00:00:00Z') }),
    ).toEqual({ runs: 0, events: 0, files: [] })

    // An event both archived and live (a crash between rename and delete) is seen once.
    await store.append([{ ...events[2], eventId: 'ev-2' } as NewEvent])
    expect(await snapshot()).toEqual(before)
    store.close()

    // The archive is found again on reopen.
    const reopened = await EventStore.open({ path: join(dir, 'events.duckdb'), rollingWindow: 2 })
    expect(await reopened.view('dashboard')).toEqual(before.dashboard)
    reopened.close()
  })
})

describe('one writer', () => {
  test('a second writer in another process gets LOCKED naming the file', async () => {
    const dir = tempDir()
    const path = join(dir, 'events.duckdb')
    const index = pathToFileURL(fileURLToPath(new URL('../../src/index.ts', import.meta.url))).href
    const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'))
    const script = join(dir, 'hold.mts')
    writeFileSync(
      script,
      `import { EventStore } from ${JSON.stringify(index)}
       const store = await EventStore.open({ path: ${JSON.stringify(path)} })
       process.stdout.write('open\\n')
       setTimeout(() => store.close(), 60_000)`,
    )
    const holder = spawn(
      process.execPath,
      ['--import', pathToFileURL(join(tsx, 'dist', 'loader.mjs')).href, script],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    try {
      await new Promise<void>((resolve) =>
        holder.stdout?.on('data', (d) => String(d).includes('open') && resolve()),
      )
      const before = hashTree(dir)
      let caught: unknown
      try {
        await EventStore.open({ path })
      } catch (error) {
        caught = error
      }
      expect(isDuckmergeError(caught, 'LOCKED')).toBe(true)
      expect((caught as Error).message).toMatch(
        new RegExp(
          `^Cannot open event store ${path} for writing: .*\\(PID ${holder.pid}\\) holds its lock\\. DuckDB allows one writing process per file`,
        ),
      )
      expect(hashTree(dir)).toEqual(before)
    } finally {
      holder.kill()
    }
  })

  test('a second writer in the same process gets LOCKED too', async () => {
    const path = join(tempDir(), 'events.duckdb')
    const store = await EventStore.open({ path })
    await expect(EventStore.open({ path })).rejects.toThrow(
      `Cannot open event store ${path} for writing: this process holds its lock.`,
    )
    store.close()
    const again = await EventStore.open({ path })
    again.close()
    // Two opens racing: exactly one wins.
    const raced = await Promise.allSettled([EventStore.open({ path }), EventStore.open({ path })])
    expect(raced.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    for (const r of raced) if (r.status === 'fulfilled') r.value.close()
  })

  test('a store in a missing folder is a clear error and creates nothing', async () => {
    const dir = tempDir()
    await expect(
      EventStore.open({ path: join(dir, 'nope', 'events.duckdb') }),
    ).rejects.toMatchObject({
      code: 'OUTPUT_UNWRITABLE',
      message: `Cannot open event store ${join(dir, 'nope', 'events.duckdb')}: folder ${join(dir, 'nope')} does not exist. Create it first.`,
    })
    expect(existsSync(join(dir, 'nope'))).toBe(false)
  })
})
