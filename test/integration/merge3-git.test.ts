import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/temp.js'

const gitIn = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

function sweep(path: string, runs: readonly [string, number][]) {
  const db = new Database(path)
  db.exec('create table if not exists runs (run_id text primary key, lr real, score real)')
  const insert = db.prepare('insert into runs values (?, ?, ?)')
  for (const [id, lr] of runs) insert.run(id, lr, lr * 10)
  db.close()
}

function repoWithBranches(dir: string) {
  gitIn(dir, 'init', '-q', '-b', 'main')
  gitIn(dir, 'config', 'user.email', 't@example.com')
  gitIn(dir, 'config', 'user.name', 'T')
  const db = join(dir, 'results.db')
  sweep(db, [['r0', 0.1]])
  const install = runCli(['git', 'install', '--json'], { cwd: dir })
  expect(install.code).toBe(0)
  expect(runCli(['git', 'install'], { cwd: dir }).stdout).toContain('already installed')
  gitIn(dir, 'add', '.')
  gitIn(dir, 'commit', '-qm', 'base')
  gitIn(dir, 'checkout', '-qb', 'sweep-a')
  sweep(db, [
    ['a1', 0.01],
    ['a2', 0.02],
  ])
  gitIn(dir, 'commit', '-qam', 'sweep a')
  gitIn(dir, 'checkout', '-q', 'main')
  gitIn(dir, 'checkout', '-qb', 'sweep-b')
  sweep(db, [['b1', 0.3]])
  gitIn(dir, 'commit', '-qam', 'sweep b')
  return db
}

const rows = (db: string) => {
  const d = new Database(db, { readonly: true })
  try {
    return d.prepare('select run_id, score from runs order by run_id').all()
  } finally {
    d.close()
  }
}

describe('duckmerge as git merge driver', () => {
  test('two branches adding sweep runs to one SQLite DB merge with every run', () => {
    const dir = tempDir()
    const db = repoWithBranches(dir)
    gitIn(dir, 'merge', '-q', '--no-edit', 'sweep-a')
    expect(rows(db).map((r) => (r as { run_id: string }).run_id)).toEqual(['a1', 'a2', 'b1', 'r0'])
    expect(gitIn(dir, 'status', '--porcelain')).toBe('')
  })

  test('the same cell changed on both branches: conflicted, report, resolve stages it', () => {
    const dir = tempDir()
    const db = repoWithBranches(dir)
    const set = (score: number) => {
      const d = new Database(db)
      d.prepare("update runs set score = ? where run_id = 'r0'").run(score)
      d.close()
    }
    set(2)
    gitIn(dir, 'commit', '-qam', 'b rescored')
    gitIn(dir, 'checkout', '-q', 'sweep-a')
    set(3)
    gitIn(dir, 'commit', '-qam', 'a rescored')
    gitIn(dir, 'checkout', '-q', 'sweep-b')
    const merge = spawnSync('git', ['merge', '--no-edit', 'sweep-a'], {
      cwd: dir,
      encoding: 'utf8',
    })
    expect(merge.status).not.toBe(0)
    expect(merge.stderr).toContain('duckmerge: results.db: 1 conflict(s)')
    const report = JSON.parse(
      readFileSync(join(dir, '.duckmerge/conflicts/results.db.json'), 'utf8'),
    )
    expect(report.conflicts).toEqual([
      {
        kind: 'cell',
        table: 'runs',
        key: { run_id: 'r0' },
        column: 'score',
        base: 1,
        ours: 2,
        theirs: 3,
      },
    ])
    expect(gitIn(dir, 'ls-files', '-u').trim().split('\n')).toHaveLength(3)
    const resolved = runCli(['git', 'resolve', 'results.db', '--take', 'theirs'], { cwd: dir })
    expect(resolved.code).toBe(0)
    expect(gitIn(dir, 'ls-files', '-u')).toBe('')
    expect(rows(db)).toEqual([
      { run_id: 'a1', score: 0.1 },
      { run_id: 'a2', score: 0.2 },
      { run_id: 'b1', score: 3 },
      { run_id: 'r0', score: 3 },
    ])
    expect(existsSync(join(dir, '.duckmerge/conflicts/results.db.json'))).toBe(false)
    expect(runCli(['git', 'uninstall'], { cwd: dir }).code).toBe(0)
    expect(readFileSync(join(dir, '.gitattributes'), 'utf8')).not.toContain('merge=duckmerge')
  })
})
