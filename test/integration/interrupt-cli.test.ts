/**
 * Ctrl-C and SIGTERM on real child processes at several moments of a write: the command stops at
 * its next safe point, removes or rolls back what it wrote, prints one line, exits 1 (INTERRUPTED
 * in --json); a second signal exits at once and still leaves no temp file.
 */
import type { ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { literal, sql } from '../../src/engine/sql.js'
import { runCli, startCli } from '../support/cli.js'
import { manyRuns } from '../support/runs-db.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

const ROWS = 600_000

/** A SQLite results file with `runs(id primary key, model, score)`, ids from `from`, ROWS rows. */
const resultsDb = (path: string, from: number, rows = ROWS) => manyRuns(path, from, rows)

async function parquet(path: string, from: number): Promise<string> {
  await withDuckDb({}, (db) =>
    db.run(
      sql`copy (select i as id, 'model-' || (i % 97) as model, i * 0.001 as score from range(${from}, ${from + 3 * ROWS}) t(i)) to ${literal(path)} (format parquet)`,
    ),
  )
  return path
}

interface Outcome {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

function collect(child: ChildProcess): Promise<Outcome> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  )
}

/**
 * Waits for a file matching `pattern` in `dir`, then `after` ms; with `after: 'data'`, until the
 * file holds more than Parquet's 4-byte leading magic (a row group written: the command is
 * mid-write) — a fixed delay there raced with the command on a quiet machine, which could finish
 * first.
 */
async function whenFileAppears(
  dir: string,
  pattern: RegExp,
  after: number | 'data' = 0,
): Promise<void> {
  const hasData = after === 'data'
  const deadline = Date.now() + 60_000
  const ready = () =>
    readdirSync(dir).some(
      (name) =>
        // A temp file renamed meanwhile has no size left to read.
        pattern.test(name) &&
        (!hasData || (statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0) > 4),
    )
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`no file matching ${pattern} appeared in ${dir}`)
    await new Promise((r) => setTimeout(r, 2))
  }
  if (typeof after === 'number') await new Promise((r) => setTimeout(r, after))
}

/** Exit 1, one `[INTERRUPTED]` line on stderr, `INTERRUPTED` as the --json error code. */
function expectInterrupted(outcome: Outcome): void {
  expect(outcome, 'the command was not interrupted').toMatchObject({ code: 1 })
  expect(outcome.stderr.trim().split('\n')).toHaveLength(1)
  expect(outcome.stderr).toContain('[INTERRUPTED]')
  expect(outcome.code).toBe(1)
  expect(JSON.parse(outcome.stdout)).toMatchObject({ error: { code: 'INTERRUPTED' } })
}

describe('results rebase --output, interrupted', () => {
  test.each([
    { moment: 'as the output copy starts', signal: 'SIGINT', delayMs: 0 },
    { moment: '300 ms into the write', signal: 'SIGTERM', delayMs: 300 },
    // Not later: unloaded, the whole rebase ends within a second and there is nothing to stop.
    { moment: '150 ms into the write', signal: 'SIGINT', delayMs: 150 },
  ] as const)(
    '$signal $moment: exit 1, no .tmp or -journal left, inputs unchanged',
    async ({ signal, delayMs }) => {
      const dir = tempDir()
      const base = resultsDb(join(dir, 'base.db'), 0)
      const exp = resultsDb(join(dir, 'exp.db'), ROWS / 2)
      const before = hashTree(dir)
      const output = join(dir, 'out.db')
      const child = startCli([
        'results',
        'rebase',
        '--base',
        base,
        '--exp',
        exp,
        '--key',
        'id',
        '--output',
        output,
        '--json',
      ])
      const done = collect(child)
      await whenFileAppears(dir, /^\.out\.db\.tmp-/, delayMs)
      child.kill(signal)
      expectInterrupted(await done)
      expect(hashTree(dir)).toEqual(before)
    },
  )

  test('a second SIGINT exits at once (130) and still removes the temp output', async () => {
    const dir = tempDir()
    const base = resultsDb(join(dir, 'base.db'), 0, 4 * ROWS)
    const exp = resultsDb(join(dir, 'exp.db'), 2 * ROWS, 4 * ROWS)
    const before = hashTree(dir)
    const child = startCli(
      ['results', 'rebase', '--base', base, '--exp', exp, '--key', 'id', '--output'].concat(
        join(dir, 'out.db'),
      ),
    )
    const done = collect(child)
    // The temp copy's journal: SQLite is inside a long statement that blocks the event loop, so
    // both signals are pending when it ends and the first cannot finish before the second.
    await whenFileAppears(dir, /^\.out\.db\.tmp-.*-journal$/, 0)
    child.kill('SIGINT')
    await new Promise((r) => setTimeout(r, 20))
    child.kill('SIGINT')
    const outcome = await done
    expect(outcome.code).toBe(130)
    expect(hashTree(dir)).toEqual(before)
  })
})

describe('in-place results merge, interrupted', () => {
  test.each([
    { moment: 'as the transaction starts writing', delayMs: 0 },
    { moment: '150 ms into the transaction', delayMs: 150 },
  ])('SIGTERM $moment: rolled back, base unchanged, exit 1', async ({ delayMs }) => {
    const dir = tempDir()
    const base = resultsDb(join(dir, 'base.db'), 0, 4 * ROWS)
    const exp = resultsDb(join(dir, 'exp.db'), 2 * ROWS, 4 * ROWS)
    const before = hashTree(dir)
    const child = startCli(['results', 'merge', '--base', base, '--exp', exp, '--json'])
    const done = collect(child)
    await whenFileAppears(dir, /^base\.db-journal$/, delayMs)
    child.kill('SIGTERM')
    expectInterrupted(await done)
    expect(existsSync(`${base}-journal`)).toBe(false)
    expect(hashTree(dir)).toEqual(before)
  })
})

describe('data merge/rebase --output, interrupted', () => {
  test.each([
    { command: 'merge', extra: ['--dedup-key', 'id'], moment: 'appears' },
    { command: 'rebase', extra: ['--key', 'id'], moment: 'appears' },
    { command: 'rebase', extra: ['--key', 'id'], moment: 'holds a row group' },
  ])(
    'data $command, SIGINT once the output $moment: no temp left, exit 1',
    async ({ command, extra, moment }) => {
      const dir = tempDir()
      const base = await parquet(join(dir, 'base.parquet'), 0)
      const exp = await parquet(join(dir, 'exp.parquet'), ROWS)
      const before = hashTree(dir)
      const child = startCli([
        'data',
        command,
        '--base',
        base,
        '--exp',
        exp,
        ...extra,
        '--output',
        join(dir, 'out.parquet'),
        '--json',
      ])
      const done = collect(child)
      await whenFileAppears(dir, /^\.out\.parquet\.tmp-/, moment === 'appears' ? 0 : 'data')
      child.kill('SIGINT')
      expectInterrupted(await done)
      expect(hashTree(dir)).toEqual(before)
    },
  )
})

async function waitUntil(ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the command to start writing')
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Every file under `dir` (relative paths), folders left out. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort()
}

/** A model file of `mb` MiB: copying and hashing it takes long enough to be interrupted. */
function modelFile(path: string, mb: number): string {
  const chunk = Buffer.alloc(1024 * 1024, 7)
  const fd = openSync(path, 'w')
  for (let i = 0; i < mb; i++) writeSync(fd, chunk)
  closeSync(fd)
  return path
}

describe('model merge / promote, interrupted', () => {
  test('SIGINT while the candidate is copied: nothing registered, no models folder left', async () => {
    const dir = tempDir()
    const exp = modelFile(join(dir, 'model.bin'), 300)
    const models = join(dir, 'models')
    const child = startCli(
      ['model', 'merge', '--exp', exp, '--run-id', 'r1'].concat('--models', models, '--json'),
    )
    const done = collect(child)
    await waitUntil(() => existsSync(join(models, 'candidates')))
    child.kill('SIGINT')
    expectInterrupted(await done)
    expect(existsSync(models)).toBe(false)
    expect(filesUnder(dir)).toEqual(['model.bin'])
  })

  test('SIGTERM while the candidate enters the store: production and registry unchanged', async () => {
    const dir = tempDir()
    const exp = modelFile(join(dir, 'model.bin'), 300)
    const models = join(dir, 'models')
    const merged = runCli(['model', 'merge', '--exp', exp, '--run-id', 'r1', '--models', models])
    expect(merged.code).toBe(0)
    const before = hashTree(models)
    const child = startCli([
      'model',
      'promote',
      '--candidate',
      'r1_model.bin',
      '--models',
      models,
      '--json',
    ])
    const done = collect(child)
    const store = join(models, 'store')
    await waitUntil(() => existsSync(store) && readdirSync(store).some((n) => n.startsWith('.')))
    child.kill('SIGTERM')
    expectInterrupted(await done)
    // Only the folders promote made may stay; every file is as it was.
    expect(hashTree(models)).toEqual(before)
  })
})

describe('artifacts, interrupted', () => {
  test('SIGINT during the results step: no output replaced, inputs unchanged', async () => {
    const dir = tempDir()
    const base = resultsDb(join(dir, 'base.db'), 0, 4 * ROWS)
    const exp = resultsDb(join(dir, 'exp.db'), 2 * ROWS, 4 * ROWS)
    const before = hashTree(dir)
    const child = startCli([
      'artifacts',
      '--base-db',
      base,
      '--exp-db',
      exp,
      '--strategy',
      'merge',
      '--json',
    ])
    const done = collect(child)
    await whenFileAppears(dir, /\.base\.tmp-.*\.tmp-/, 0)
    child.kill('SIGINT')
    expectInterrupted(await done)
    expect(hashTree(dir)).toEqual(before)
  })
})
