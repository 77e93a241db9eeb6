/**
 * exp commands on bad input (issue 14): `--where` is exactly one expression, a text column is
 * no metric, reading leaves no -wal/-shm behind, a truncated or locked database is named.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openSqlite } from '../../src/engine/sqlite.js'
import { listExperiments, Tracker } from '../../src/index.js'
import { wherePredicateProblem } from '../../src/track/explorer-where.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

/** A tracker-written (WAL mode) results database: two versions, text and numeric columns. */
async function resultsDb(): Promise<string> {
  const db = join(tempDir(), 'experiments.db')
  for (const [version, lr] of [
    ['e1', 0.001],
    ['e2', 0.1],
  ] as const) {
    const tracker = new Tracker({ db, params: { experiment_version: version, model: 'mlp', lr } })
    for (let i = 0; i < 10; i++) tracker.log({ accuracy: i / 10 + lr })
    await tracker.close()
  }
  return db
}

describe('--where is exactly one expression', () => {
  test.each([
    ['lr < 0.01', undefined],
    ["model = 'a)b' and lr in (0.1, 0.2)", undefined],
    ['"odd""name" > 1', undefined],
    ['lr < 0.01) or (1=1', 'a ")" that closes more than it opened'],
    ['1) --', 'a ")" that closes more than it opened'],
    ['1 -- x', 'a comment (--)'],
    ['1 /* x */', 'a comment (/*)'],
    ['(lr < 1', 'an unclosed "("'],
    ["model = 'x", "an unterminated '"],
    ['1; drop table t', 'a second statement (;)'],
    ["load_extension('x')", 'a call to load_extension(), which filters may not use'],
    ["LOAD_EXTENSION ('x') is null", 'a call to LOAD_EXTENSION(), which filters may not use'],
  ])('%s', (where, problem) => expect(wherePredicateProblem(where)).toBe(problem))

  test('through the CLI: VALIDATION_FAILED (exit 1) naming the file, the database unchanged', async () => {
    const db = await resultsDb()
    const before = hashTree(db)
    for (const where of ['lr < 0.01) or (1=1', '1) --', "load_extension('x')"]) {
      const r = runCli(['exp', 'list', '--db', db, '--where', where])
      expect({ where, code: r.code }).toEqual({ where, code: 1 })
      expect(r.stderr).toContain(
        `duckmerge: error [VALIDATION_FAILED]: Invalid where predicate "${where}" on table "default" of ${db}: it holds`,
      )
      expect(r.stderr).toContain('Write --where as one SQL condition.')
    }
    expect(hashTree(db)).toEqual(before)
    const ok = runCli(['exp', 'list', '--db', db, '--where', 'lr < 0.01', '--json'])
    expect(ok.json<{ experiments: { version: string }[] }>().experiments).toMatchObject([
      { version: 'e1' },
    ])
  })
})

test('a text column is refused as --sort and as plot --metric, naming its type', async () => {
  const db = await resultsDb()
  const sort = runCli(['exp', 'list', '--db', db, '--sort', 'model'])
  expect(sort.code).toBe(1)
  expect(sort.stderr.trim()).toBe(
    `duckmerge: error [VALIDATION_FAILED]: Cannot sort by "model": column "model" of table "default" in ${db} is TEXT, not a number. Choose a numeric column (INTEGER or REAL) as --sort.`,
  )
  const plot = runCli([
    'exp',
    'plot',
    '--db',
    db,
    '--metric',
    'model',
    '--by',
    'lr',
    '--output',
    join(tempDir(), 'c.svg'),
  ])
  expect(plot.code).toBe(1)
  expect(plot.stderr).toContain(
    `[VALIDATION_FAILED]: Cannot plot "model": column "model" of table "default" in ${db} is TEXT, not a number. Choose a numeric column (INTEGER or REAL) as --metric.`,
  )
  expect((await listExperiments({ db, sort: 'accuracy' })).experiments).toHaveLength(2)
})

test('read-only exp commands leave no -wal/-shm files behind', async () => {
  const db = await resultsDb()
  const dir = join(db, '..')
  expect(readdirSync(dir)).toEqual(['experiments.db'])
  expect(runCli(['exp', 'list', '--db', db]).code).toBe(0)
  expect(runCli(['exp', 'diff', 'e1', 'e2', '--db', db]).code).toBe(0)
  const svg = join(tempDir(), 'c.svg')
  expect(
    runCli(['exp', 'plot', '--db', db, '--metric', 'accuracy', '--by', 'lr', '--output', svg]).code,
  ).toBe(0)
  expect(readdirSync(dir)).toEqual(['experiments.db'])
})

test('a truncated exp database is INPUT_UNREADABLE naming it', async () => {
  const db = await resultsDb()
  const truncated = join(tempDir(), 'truncated.db')
  writeFileSync(truncated, readFileSync(db).subarray(0, 5000))
  const r = runCli(['exp', 'list', '--db', truncated])
  expect(r.code).toBe(1)
  expect(r.stderr).toContain(`[INPUT_UNREADABLE]: Cannot read ${truncated}:`)
})

test('an exp database another process holds locked is LOCKED naming it', async () => {
  const db = await resultsDb()
  // Another process takes the write lock in rollback-journal mode, so readers are shut out.
  const conn = openSqlite(db)
  conn.pragma('journal_mode = DELETE')
  conn.close()
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
       const db = new D(process.argv[1]); db.exec('begin exclusive'); console.log('locked');
       setInterval(() => {}, 1000)`,
      db,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  try {
    await new Promise<void>((resolve) =>
      holder.stdout.on('data', (d) => String(d).includes('locked') && resolve()),
    )
    const r = runCli(['exp', 'list', '--db', db])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`[LOCKED]: Cannot read ${db}: another process holds its lock`)
  } finally {
    holder.kill()
  }
}, 60_000)

test('hints name the flags in the CLI, library fields in the library', async () => {
  const db = await resultsDb()
  const cli = runCli(['exp', 'list', '--db', db, '--table', 'nope'])
  expect(cli.stderr.trim()).toBe(
    `duckmerge: error [TABLE_NOT_FOUND]: Table "nope" not found in ${db} (tables: default). Choose --table from these tables.`,
  )
  const version = runCli(['exp', 'list', '--db', db, '--version-column', 'run'])
  expect(version.stderr).toContain(
    'Choose --version-column as the column naming your experiments, or a --table.',
  )
  await expect(listExperiments({ db, table: 'nope' })).rejects.toMatchObject({
    message: `Table "nope" not found in ${db} (tables: default).`,
    details: { hint: 'Choose {table} from these tables.' },
  })
})
