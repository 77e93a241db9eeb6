import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import {
  createExperimentWorktree,
  listExperiments,
  type MergeBackResult,
  mergeBackExperiment,
} from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { git, makeRepo, xetrack } from './exp-fixtures.js'

/** What an experiment run does to its results DB: append its own rows (here: fixture c's). */
function runExperiment(db: string, source: string) {
  const conn = new Database(db)
  try {
    conn.prepare('attach ? as x').run(source)
    for (const table of ['predictions', 'metrics']) {
      const theirs = conn
        .prepare("select name, type from pragma_table_info(?, 'x')")
        .all(table) as {
        name: string
        type: string
      }[]
      const mine = new Set(
        (
          conn.prepare('select name from pragma_table_info(?)').all(table) as { name: string }[]
        ).map((c) => c.name),
      )
      for (const c of theirs)
        if (!mine.has(c.name))
          conn.exec(`alter table main."${table}" add column "${c.name}" ${c.type}`)
      const cols = theirs.map((c) => `"${c.name}"`).join(', ')
      conn.exec(`insert into main."${table}" (${cols}) select ${cols} from x."${table}"`)
    }
  } finally {
    conn.close()
  }
}

function twoWay(result: MergeBackResult) {
  if (result.mode !== 'two-way')
    throw new Error(`expected a two-way merge-back, got ${result.mode}`)
  return result
}

function projectWithResults() {
  const repo = makeRepo({ '.gitignore': 'results/\n', 'train.py': 'lr = 0.01\n' })
  const db = join(repo, 'results', 'experiments.db')
  mkdirSync(dirname(db), { recursive: true })
  copyFileSync(xetrack.a(), db)
  return { repo, db }
}

describe.skipIf(!hasFixtures)(needsFixtures('exp worktree and merge-back'), () => {
  test('the worktree gets branch exp/NAME and a copy of the results DB; merge-back adds only the new rows', async () => {
    const { repo, db } = projectWithResults()
    const wt = await createExperimentWorktree({ repo, name: 'extra-param' })
    expect(wt.branch).toBe('exp/extra-param')
    expect(wt.path).toBe(join(dirname(repo), 'exp-extra-param'))
    expect(wt.db).toBe(join(wt.path, 'results', 'experiments.db'))
    expect(wt.copiedFrom).toBe(db)
    expect(wt.dbFromGit).toBe(false)
    expect(git(wt.path, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('exp/extra-param')
    expect(git(repo, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main')

    runExperiment(wt.db, xetrack.c())
    const dry = twoWay(await mergeBackExperiment({ repo, name: 'extra-param', dryRun: true }))
    // results/ is ignored, so git has no version of the DB at the fork point: two-way.
    expect(dry.mode).toBe('two-way')
    expect(dry.report.dryRun).toBe(true)
    expect((await listExperiments({ db })).experiments).toHaveLength(1)

    const { report } = twoWay(await mergeBackExperiment({ repo, name: 'extra-param' }))
    // The copied base rows (40 + 1) are already in main: only c's 30 + 1 rows are new.
    expect(report.rowsInserted).toBe(31)
    expect(report.rowsSkipped).toBe(41)
    const list = await listExperiments({ db, sort: 'accuracy' })
    expect(list.experiments.map((e) => [e.version, e.rows])).toEqual([
      ['e0.1.0', 40],
      ['e0.3.0', 30],
    ])
    expect(list.experiments[1]?.params).toMatchObject({ batch_size: 32 })
    // Merging back twice changes nothing.
    const again = twoWay(await mergeBackExperiment({ repo, name: 'extra-param' }))
    expect(again.report.rowsInserted).toBe(0)
  })

  test('CLI: worktree then merge-back prints the merge report', () => {
    const { repo } = projectWithResults()
    const created = runCli(['exp', 'worktree', 'sweep'], { cwd: repo })
    expect(created.code).toBe(0)
    expect(created.stdout).toContain(
      `created worktree ${join(dirname(repo), 'exp-sweep')} on branch exp/sweep`,
    )
    runExperiment(join(dirname(repo), 'exp-sweep', 'results', 'experiments.db'), xetrack.b())
    const merged = runCli(['exp', 'merge-back', 'sweep', '--json'], { cwd: repo })
    expect(merged.code).toBe(0)
    const out = merged.json<{ report: { rowsInserted: number; rowsAfter: number } }>()
    expect(out.report.rowsInserted).toBe(63)
    expect(out.report.rowsAfter).toBe(104)
  })

  test('without a main results DB the worktree still gets its results folder', async () => {
    const repo = makeRepo()
    const wt = await createExperimentWorktree({ repo, name: 'fresh' })
    expect(wt.copiedFrom).toBeNull()
    expect(existsSync(dirname(wt.db))).toBe(true)
    expect(existsSync(wt.db)).toBe(false)
  })

  test('failures: name taken, bad name, unknown experiment, no results in the worktree; nothing changed', async () => {
    const { repo, db } = projectWithResults()
    await createExperimentWorktree({ repo, name: 'one' })
    const branches = git(repo, 'branch', '--list')
    const taken = await createExperimentWorktree({ repo, name: 'one' }).catch((e) => e)
    expect(taken.code).toBe('VALIDATION_FAILED')
    expect(taken.message).toContain('Branch exp/one already exists')
    const bad = await createExperimentWorktree({ repo, name: 'a..b' }).catch((e) => e)
    expect(bad.code).toBe('USAGE')
    expect(git(repo, 'branch', '--list')).toBe(branches)

    const before = hashTree(dirname(db))
    const unknown = await mergeBackExperiment({ repo, name: 'nope' }).catch((e) => e)
    expect(unknown.code).toBe('NOT_FOUND')
    expect(unknown.message).toContain('No worktree of experiment "nope" (branch exp/nope)')
    expect(unknown.message).toContain('(experiments: one)')
    const fresh = makeRepo()
    await createExperimentWorktree({ repo: fresh, name: 'empty' })
    const noResults = await mergeBackExperiment({ repo: fresh, name: 'empty' }).catch((e) => e)
    expect(noResults.code).toBe('INPUT_NOT_FOUND')
    expect(noResults.message).toContain('has no results database at')
    expect(hashTree(dirname(db))).toEqual(before)
    const cli = runCli(['exp', 'merge-back', 'nope'], { cwd: repo })
    expect(cli.code).toBe(1)
    expect(cli.stderr).toContain('[NOT_FOUND]')
  })
})
