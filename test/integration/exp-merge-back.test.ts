import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import {
  createExperimentWorktree,
  type MergeBackResult,
  mergeBackExperiment,
} from '../../src/index.js'
import { dvcCacheDir } from '../../src/track/dvc.js'
import { runCli } from '../support/cli.js'
import { readRuns } from '../support/runs-db.js'
import { commitFiles, git, makeRepo } from './exp-fixtures.js'

const DB = 'results/experiments.db'

function write(db: string, sql: string) {
  const conn = new Database(db)
  try {
    conn.exec(sql)
  } finally {
    conn.close()
  }
}

const rows = readRuns

const md5Of = (file: string) => createHash('md5').update(readFileSync(file)).digest('hex')

/** A repository with the results DB committed (runs r0, r1), so the fork point has a version. */
function projectWithCommittedDb(): { repo: string; db: string } {
  const repo = makeRepo()
  const db = join(repo, DB)
  mkdirSync(dirname(db), { recursive: true })
  write(
    db,
    `create table runs (run_id text primary key, score real);
     insert into runs values ('r0', 1), ('r1', 1);`,
  )
  git(repo, 'add', DB)
  git(repo, 'commit', '-q', '-m', 'results')
  return { repo, db }
}

function threeWay(result: MergeBackResult) {
  if (result.mode !== 'three-way') throw new Error(`expected three-way, got ${result.mode}`)
  return result
}

describe('exp merge-back from the fork point', { timeout: 180_000 }, () => {
  test('changes and deletions made in the worktree carry over; main keeps its own new rows; --remove cleans up', async () => {
    const { repo, db } = projectWithCommittedDb()
    const wt = await createExperimentWorktree({ repo, name: 'rescore' })
    expect(wt.dbFromGit).toBe(true)
    expect(wt.dvcCache).toBeNull()
    write(
      wt.db,
      "update runs set score = 5 where run_id = 'r0'; delete from runs where run_id = 'r1'; insert into runs values ('e1', 2);",
    )
    write(db, "insert into runs values ('m1', 3);")
    const fork = git(repo, 'rev-parse', 'HEAD')

    const dry = threeWay(await mergeBackExperiment({ repo, name: 'rescore', dryRun: true }))
    expect(dry.report.written).toBe(true)
    expect(rows(db)).toEqual([
      { run_id: 'm1', score: 3 },
      { run_id: 'r0', score: 1 },
      { run_id: 'r1', score: 1 },
    ])

    const result = threeWay(await mergeBackExperiment({ repo, name: 'rescore', remove: true }))
    expect(result.forkPoint).toBe(fork)
    expect(result.baseFrom).toBe('git')
    expect(result.report.tables[0]).toMatchObject({ table: 'runs', upserts: 2, deletes: 1 })
    // Two-way would have kept r1 and r0's old score: the experiment's edits are lost there.
    expect(rows(db)).toEqual([
      { run_id: 'e1', score: 2 },
      { run_id: 'm1', score: 3 },
      { run_id: 'r0', score: 5 },
    ])
    expect(result.removed).toEqual({ worktree: true, branch: true, reasons: [] })
    expect(existsSync(wt.path)).toBe(false)
    expect(git(repo, 'branch', '--list', 'exp/rescore')).toBe('')
  })

  test('a conflict stops it: main DB untouched, the worktree kept despite --remove (CLI: MERGE_CONFLICT)', async () => {
    const { repo, db } = projectWithCommittedDb()
    const wt = await createExperimentWorktree({ repo, name: 'clash' })
    write(wt.db, "update runs set score = 5 where run_id = 'r0'")
    write(db, "update runs set score = 7 where run_id = 'r0'")
    const before = md5Of(db)
    const cli = runCli(['exp', 'merge-back', 'clash', '--remove'], { cwd: repo })
    expect(cli.code).toBe(1)
    expect(cli.stderr).toContain('[MERGE_CONFLICT]')
    expect(cli.stderr).toContain('runs {"run_id":"r0"} score: base 1, ours 7, theirs 5')
    expect(md5Of(db)).toBe(before)
    expect(existsSync(wt.path)).toBe(true)
    // '+': checked out in another worktree
    expect(git(repo, 'branch', '--list', 'exp/clash')).toBe('+ exp/clash')
  })

  test('--remove keeps a worktree with uncommitted code, and a branch that is not merged', async () => {
    const { repo } = projectWithCommittedDb()
    const dirty = await createExperimentWorktree({ repo, name: 'dirty' })
    writeFileSync(join(dirty.path, 'train.py'), 'lr = 0.1\n')
    const kept = await mergeBackExperiment({ repo, name: 'dirty', remove: true })
    expect(kept.removed).toEqual({
      worktree: false,
      branch: false,
      reasons: [
        `${dirty.path} has uncommitted changes (train.py); commit or discard them, then remove it.`,
      ],
    })
    expect(existsSync(dirty.path)).toBe(true)

    const ahead = await createExperimentWorktree({ repo, name: 'ahead' })
    commitFiles(ahead.path, { 'train.py': 'lr = 0.2\n' }, 'experiment code')
    const cli = runCli(['exp', 'merge-back', 'ahead', '--remove'], { cwd: repo })
    expect(cli.code).toBe(0)
    expect(cli.stdout).toContain(
      `removed worktree ${ahead.path}\n  branch exp/ahead is kept: it is not merged into main.`,
    )
    expect(existsSync(ahead.path)).toBe(false)
    expect(git(repo, 'branch', '--list', 'exp/ahead')).toBe('exp/ahead')
  })
})

describe('exp worktree in a DVC project', { timeout: 180_000 }, () => {
  test('the worktree uses the main DVC cache; a DVC-tracked DB merges back three-way from its cached fork version', async () => {
    const repo = makeRepo({
      '.dvc/config': '',
      '.dvc/.gitignore': '/config.local\n/tmp\n/cache\n',
      '.gitignore': '/results/experiments.db\n',
    })
    const db = join(repo, DB)
    mkdirSync(dirname(db), { recursive: true })
    write(
      db,
      "create table runs (run_id text primary key, score real); insert into runs values ('r0', 1), ('r1', 1);",
    )
    // dvc add results/experiments.db, by hand (DVC 3 layout)
    const md5 = md5Of(db)
    const object = join(repo, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2))
    mkdirSync(dirname(object), { recursive: true })
    copyFileSync(db, object)
    chmodSync(object, 0o444)
    commitFiles(
      repo,
      {
        [`${DB}.dvc`]: `outs:\n- md5: ${md5}\n  size: ${readFileSync(db).length}\n  hash: md5\n  path: experiments.db\n`,
      },
      'track results with dvc',
    )

    const wt = await createExperimentWorktree({ repo, name: 'shared' })
    const cache = join(repo, '.dvc', 'cache')
    expect(wt.dvcCache).toBe(cache)
    expect(readFileSync(join(wt.path, '.dvc', 'config.local'), 'utf8')).toBe(
      `[cache]\n    dir = ${cache}\n`,
    )
    expect(await dvcCacheDir(wt.path)).toBe(cache)
    expect(wt.copiedFrom).toBe(db)

    write(wt.db, "delete from runs where run_id = 'r1'; insert into runs values ('e1', 2);")
    const result = threeWay(await mergeBackExperiment({ repo, name: 'shared', remove: true }))
    expect(result.baseFrom).toBe('dvc')
    expect(rows(db)).toEqual([
      { run_id: 'e1', score: 2 },
      { run_id: 'r0', score: 1 },
    ])
    // The cached base is an input: unchanged. config.local is ours, so the worktree could go.
    expect(md5Of(object)).toBe(md5)
    expect(result.removed?.worktree).toBe(true)
  })
})
