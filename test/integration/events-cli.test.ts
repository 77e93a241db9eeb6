/** `duckmerge events …` as a subprocess: import (files, globs) twice = once, query, refresh, dashboard, search, tail (follow), archive. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { runCli, startCli } from '../support/cli.js'
import { tempDir } from '../support/temp.js'

function jsonl(path: string, events: readonly Record<string, unknown>[]): string {
  writeFileSync(path, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`)
  return path
}

const first = [
  {
    event_id: 'a1',
    time: '2024-01-01 00:00:00',
    experiment: 'e1',
    run: 'r1',
    type: 'params',
    payload: { lr: 0.1 },
  },
  {
    event_id: 'a2',
    time: '2024-01-01 00:01:00',
    experiment: 'e1',
    run: 'r1',
    type: 'log',
    payload: { loss: 4, message: 'the agents made a deal' },
  },
  {
    event_id: 'a3',
    time: '2024-01-01 00:02:00',
    experiment: 'e1',
    run: 'r1',
    type: 'log',
    payload: { loss: 2, message: 'no deal today, no deal tomorrow' },
  },
  {
    event_id: 'a4',
    time: '2024-01-02 00:00:00',
    experiment: 'e2',
    run: 'r2',
    type: 'log',
    payload: { loss: 1, note: 'compression run' },
  },
]

test('import twice = once; refresh folds only new events; dashboard reads the summary', () => {
  const dir = tempDir()
  const store = join(dir, 'events.duckdb')
  const file = jsonl(join(dir, 'a.jsonl'), first)
  const once = runCli(['events', 'import', store, file, '--json'])
  expect(once.stderr).toBe('')
  expect(once.json()).toEqual({ files: [{ file, imported: 4, skipped: 0 }] })
  expect(runCli(['events', 'import', store, file, '--json']).json()).toEqual({
    files: [{ file, imported: 0, skipped: 4 }],
  })
  const count = runCli([
    'events',
    'query',
    store,
    'select count(*)::INTEGER as n from events_all',
    '--json',
  ])
  expect(count.json()).toEqual({ rows: [{ n: 4 }] })

  expect(runCli(['events', 'refresh', store, '--json']).json()).toEqual({
    events: 4,
    points: 3,
    summaries: 2,
  })
  expect(runCli(['events', 'refresh', store, '--json']).json()).toEqual({
    events: 0,
    points: 0,
    summaries: 2,
  })
  const more = jsonl(join(dir, 'b.jsonl'), [
    {
      event_id: 'b1',
      time: '2023-12-31 00:00:00',
      experiment: 'e1',
      run: 'r3',
      type: 'log',
      payload: { loss: 6 },
    },
  ])
  runCli(['events', 'import', store, more])
  // A late event (older time than every counted one) is still folded in, once.
  expect(runCli(['events', 'refresh', store, '--json']).json()).toEqual({
    events: 1,
    points: 1,
    summaries: 2,
  })
  const dash = runCli(['events', 'dashboard', store, '--experiment', 'e1', '--json']).json<{
    source: string
    rows: Record<string, unknown>[]
  }>()
  expect(dash.source).toBe('metric_summary')
  expect(dash.rows).toEqual([
    {
      experiment: 'e1',
      metric: 'loss',
      points: '3',
      mean: 4,
      stddev: expect.closeTo(1.633, 3),
      min: 2,
      max: 6,
    },
  ])
  const live = runCli([
    'events',
    'dashboard',
    store,
    '--experiment',
    'e1',
    '--live',
    '--json',
  ]).json<{
    source: string
    rows: { points: string; mean: number }[]
  }>()
  expect(live.source).toBe('dashboard')
  expect(live.rows[0]).toMatchObject({ points: '3', mean: 4 })
}, 300_000)

test('search ranks by BM25; tail --once shows the latest; archive keeps events_all whole; --jsonl reads files in place', () => {
  const dir = tempDir()
  const store = join(dir, 'events.duckdb')
  const file = jsonl(join(dir, 'a.jsonl'), first)
  runCli(['events', 'import', store, file])
  const hits = runCli(['events', 'search', store, 'deal', '--json']).json<{
    hits: { eventId: string; snippet: string; score: number }[]
  }>().hits
  // "no deal today, no deal tomorrow" says deal twice: it ranks first.
  expect(hits.map((h) => h.eventId)).toEqual(['a3', 'a2'])
  expect(hits[0]?.snippet).toContain('[deal]')
  expect(hits[0]?.score ?? 0).toBeLessThan(hits[1]?.score ?? 0)
  // Searching again indexes nothing twice.
  expect(
    runCli(['events', 'search', store, 'deal', '--json']).json<{ hits: unknown[] }>().hits,
  ).toHaveLength(2)
  const bad = runCli(['events', 'search', store, '"unbalanced'])
  expect(bad.code).toBe(2)

  const tail = runCli(['events', 'tail', store, '--count', '2', '--once', '--json']).json<{
    events: { event_id: string }[]
  }>()
  expect(tail.events.map((e) => e.event_id)).toEqual(['a3', 'a4'])
  const tailE1 = runCli([
    'events',
    'tail',
    store,
    '--count',
    '2',
    '--experiment',
    'e1',
    '--once',
    '--json',
  ]).json<{ events: { event_id: string }[] }>()
  expect(tailE1.events.map((e) => e.event_id)).toEqual(['a2', 'a3'])

  const archived = runCli(['events', 'archive', store, '--older-than', '30', '--json']).json<{
    runs: number
    events: number
  }>()
  expect(archived).toMatchObject({ runs: 2, events: 4 })
  const all = runCli([
    'events',
    'query',
    store,
    'select count(*)::INTEGER as n, count(distinct event_id)::INTEGER as ids from events_all',
    '--json',
  ])
  expect(all.json()).toEqual({ rows: [{ n: 4, ids: 4 }] })

  const inPlace = runCli([
    'events',
    'query',
    store,
    'select count(*)::INTEGER as n from jsonl',
    '--jsonl',
    join(dir, '*.jsonl'),
    '--json',
  ])
  expect(inPlace.json()).toEqual({ rows: [{ n: 4 }] })
}, 300_000)

test('import expands a quoted glob, twice = once (lines without event_id too); tail follows events another process imports; Ctrl-C stops it cleanly', async () => {
  const dir = tempDir()
  const store = join(dir, 'events.duckdb')
  mkdirSync(join(dir, 'runs', 'a'), { recursive: true })
  mkdirSync(join(dir, 'runs', 'b'), { recursive: true })
  jsonl(join(dir, 'runs', 'a', 'events.jsonl'), first.slice(0, 2))
  const { event_id: _, ...noId } = first[3] as Record<string, unknown>
  jsonl(join(dir, 'runs', 'b', 'events.jsonl'), [first[2] as Record<string, unknown>, noId])
  const once = runCli(['events', 'import', 'events.duckdb', 'runs/*/events.jsonl', '--json'], {
    cwd: dir,
  })
  expect(once.stderr).toBe('')
  expect(once.json()).toEqual({
    files: [
      { file: join(dir, 'runs', 'a', 'events.jsonl'), imported: 2, skipped: 0 },
      { file: join(dir, 'runs', 'b', 'events.jsonl'), imported: 2, skipped: 0 },
    ],
  })
  const twice = runCli(['events', 'import', store, join(dir, 'runs', '**', '*.jsonl'), '--json'])
  expect(twice.json<{ files: { imported: number; skipped: number }[] }>().files).toEqual([
    expect.objectContaining({ imported: 0, skipped: 2 }),
    expect.objectContaining({ imported: 0, skipped: 2 }),
  ])
  const none = runCli(['events', 'import', store, join(dir, 'nothing', '*.jsonl')])
  expect(none.code).toBe(1)
  expect(none.stderr).toContain(`No events files match ${join(dir, 'nothing', '*.jsonl')}`)

  const tail = startCli(['events', 'tail', store, '--count', '1', '--interval-ms', '100', '--json'])
  let out = ''
  tail.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const exited = new Promise<number | null>((done) => tail.on('exit', (code) => done(code)))
  const waitFor = async (text: string) => {
    for (let i = 0; i < 600 && !out.includes(text); i++)
      await new Promise((r) => setTimeout(r, 100))
    expect(out).toContain(text)
  }
  await waitFor('"event_id":"md5-')
  // Another process appends while tail polls: its import waits for tail's poll to let go.
  const later = jsonl(join(dir, 'later.jsonl'), [
    {
      event_id: 'c1',
      time: '2024-02-01 00:00:00',
      experiment: 'e3',
      run: 'r9',
      type: 'log',
      payload: { loss: 9 },
    },
    {
      event_id: 'c2',
      time: '2024-02-01 00:00:01',
      experiment: 'e3',
      run: 'r9',
      type: 'log',
      payload: { loss: 8 },
    },
  ])
  const imported = startCli(['events', 'import', store, later, '--json'])
  expect(await new Promise((done) => imported.on('exit', done))).toBe(0)
  await waitFor('"event_id":"c2"')
  tail.kill('SIGINT')
  expect(await exited).toBe(0)
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  expect(lines.map((l) => l.event_id ?? l)).toEqual([
    expect.stringMatching(/^md5-/),
    'c1',
    'c2',
    { followed: 2 },
  ])
  expect(lines[1]).toMatchObject({ experiment: 'e3', run: 'r9', payload: '{"loss":9}' })
}, 300_000)
