/**
 * `duckmerge delta merge` against DuckDB's own MERGE INTO as the oracle, for every combination of
 * clauses: an omitted clause flag does nothing once any is given, no flag is an upsert. Each
 * combination also runs with --dry-run first: the table stays byte-identical and the dry run's
 * counts equal the real run's.
 */
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { folderState as tree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { createTable, readRows } from './delta-merge.helpers.js'

type Row = { id: number | null; v: string }

// Ours spreads over three files; keys 1..6 plus a NULL key (SQL equality never matches NULL).
const OURS = [
  "select * from (values (1, 'a'), (2, 'b')) t(id, v)",
  "select * from (values (3, 'c'), (4, 'd')) t(id, v)",
  "select * from (values (5, 'e'), (null, 'n')) t(id, v)",
]
const THEIRS = "select * from (values (2, 'B'), (4, 'D'), (7, 'G'), (null, 'N')) s(id, v)"

interface Case {
  readonly matched?: 'update-all' | 'delete'
  readonly notMatched?: 'insert-all'
  readonly bySource?: 'delete'
}

// Every combination of the three clause kinds but the empty one.
const cases: Case[] = []
for (const matched of [undefined, 'update-all', 'delete'] as const)
  for (const notMatched of [undefined, 'insert-all'] as const)
    for (const bySource of [undefined, 'delete'] as const)
      if (matched || notMatched || bySource)
        cases.push({
          ...(matched ? { matched } : {}),
          ...(notMatched ? { notMatched } : {}),
          ...(bySource ? { bySource } : {}),
        })

const nameOf = (c: Case) =>
  [
    c.matched && `--when-matched ${c.matched}`,
    c.notMatched && `--when-not-matched ${c.notMatched}`,
    c.bySource && `--when-not-matched-by-source ${c.bySource}`,
  ]
    .filter(Boolean)
    .join(' ')

/** DuckDB's MERGE INTO with the same clauses, on plain tables holding the same rows. */
async function oracle(c: Case): Promise<Row[]> {
  const clauses = [
    c.matched === 'update-all' && 'when matched then update set *',
    c.matched === 'delete' && 'when matched then delete',
    c.notMatched && 'when not matched then insert *',
    c.bySource && 'when not matched by source then delete',
  ].filter(Boolean)
  return withDuckDb({}, async (db) => {
    await db.run(raw(`create table t as ${OURS.join(' union all ')}`))
    await db.run(raw(`create table s as ${THEIRS}`))
    await db.run(raw(`merge into t using s on t.id = s.id ${clauses.join(' ')}`))
    return db.allJson<Row>(raw('select * from t order by id nulls first, v'))
  })
}

const COUNTS = [
  'numSourceRows',
  'numTargetRowsInserted',
  'numTargetRowsUpdated',
  'numTargetRowsDeleted',
  'numTargetRowsCopied',
  'numOutputRows',
  'numTargetFilesRemoved',
  'numTargetRowsMatchedUpdated',
  'numTargetRowsMatchedDeleted',
  'numTargetRowsNotMatchedBySourceUpdated',
  'numTargetRowsNotMatchedBySourceDeleted',
  'numTargetBytesRemoved',
  'numTargetFilesBeforeSkipping',
  'numTargetFilesAfterSkipping',
] as const

async function setUp(): Promise<{ table: string; source: string }> {
  const dir = tempDir()
  const table = join(dir, 'ours')
  await createTable(
    table,
    OURS.map((q) => raw(q)),
  )
  const source = join(dir, 'theirs.parquet')
  await withDuckDb({}, (db) =>
    db.run(sql`copy (${raw(THEIRS)}) to ${literal(source)} (format parquet)`),
  )
  return { table, source }
}

function merge(table: string, source: string, flags: readonly string[], dryRun: boolean) {
  const args = ['delta', 'merge', table, '--source', source, '--on', 'id', ...flags, '--json']
  return runCli(dryRun ? [...args, '--dry-run'] : args)
}

async function expectLikeOracle(c: Case, flags: readonly string[]): Promise<void> {
  const { table, source } = await setUp()
  const before = tree(table)
  const dry = merge(table, source, flags, true)
  expect(dry.code, dry.stderr).toBe(0)
  expect(tree(table)).toEqual(before)
  const real = merge(table, source, flags, false)
  expect(real.code, real.stderr).toBe(0)
  expect(await readRows<Row>(table, 'id nulls first, v')).toEqual(await oracle(c))
  const pick = (r: Record<string, unknown>) => Object.fromEntries(COUNTS.map((k) => [k, r[k]]))
  expect(pick(dry.json())).toEqual(pick(real.json()))
  expect(dry.json()).toMatchObject({
    dryRun: true,
    committed: false,
    version: 0,
    numTargetFilesAdded: null,
  })
  expect(real.json()).toMatchObject({ dryRun: false })
}

describe('delta merge equals DuckDB MERGE INTO', () => {
  test.each(cases.map((c) => ({ name: nameOf(c), c })))('$name', async ({ c }) => {
    const flags = [
      ...(c.matched ? ['--when-matched', c.matched] : []),
      ...(c.notMatched ? ['--when-not-matched', c.notMatched] : []),
      ...(c.bySource ? ['--when-not-matched-by-source', c.bySource] : []),
    ]
    await expectLikeOracle(c, flags)
  })

  test('no clause flag: upsert (update set *, insert *)', async () => {
    await expectLikeOracle({ matched: 'update-all', notMatched: 'insert-all' }, [])
  })

  test('--when-not-matched insert-all alone leaves matched rows as they were', async () => {
    const { table, source } = await setUp()
    const run = merge(table, source, ['--when-not-matched', 'insert-all'], false)
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ numTargetRowsUpdated: 0, numTargetRowsInserted: 2 })
    expect(await readRows<Row>(table, 'id nulls first, v')).toEqual([
      { id: null, v: 'N' },
      { id: null, v: 'n' },
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
      { id: 4, v: 'd' },
      { id: 5, v: 'e' },
      { id: 7, v: 'G' },
    ])
  })

  test('--help states the clause defaults', () => {
    const help = runCli(['delta', 'merge', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('with no --when-… flag the merge is an upsert')
    expect(help.stdout).toContain('only the clauses given run')
  })
})
