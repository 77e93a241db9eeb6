import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { addRuns, gitIn, initRepo, readRuns } from '../support/runs-db.js'
import { tempDir } from '../support/temp.js'

const sweep = addRuns

function repoWithBranches(dir: string) {
  initRepo(dir)
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

const rows = readRuns

describe('duckmerge as git merge driver', { timeout: 180_000 }, () => {
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

  test('a Parquet file changed on both branches merges by the key its attribute declares', async () => {
    const dir = tempDir()
    initRepo(dir)
    const file = join(dir, 'runs.parquet')
    const db = await DuckDb.open()
    const write = (rows: string) =>
      db.run(
        sql`copy (select * from (values ${raw(rows)}) t(id, score)) to ${literal(file)} (format parquet)`,
      )
    const read = () => db.all(sql`select id, score from read_parquet(${literal(file)}) order by id`)
    try {
      expect(runCli(['git', 'install'], { cwd: dir }).code).toBe(0)
      const keyed = runCli(['git', 'install', '--path-glob', '*.parquet', '--key', 'id'], {
        cwd: dir,
      })
      expect(keyed.code).toBe(0)
      expect(readFileSync(join(dir, '.gitattributes'), 'utf8')).toContain(
        '*.parquet merge=duckmerge duckmerge-key=id\n',
      )
      await write('(1, 1.0), (2, 2.0)')
      gitIn(dir, 'add', '.')
      gitIn(dir, 'commit', '-qm', 'base')
      gitIn(dir, 'checkout', '-qb', 'a')
      await write('(1, 1.5), (2, 2.0), (3, 3.0)')
      gitIn(dir, 'commit', '-qam', 'a rescored 1, added 3')
      gitIn(dir, 'checkout', '-q', 'main')
      await write('(1, 1.0), (4, 4.0)')
      gitIn(dir, 'commit', '-qam', 'main deleted 2, added 4')
      const oursBytes = readFileSync(file)

      // Without the key the driver refuses, naming the attribute; ours stays as it was.
      // .git/info/attributes outranks .gitattributes: here it unsets the key.
      writeFileSync(join(dir, '.git', 'info', 'attributes'), '*.parquet -duckmerge-key\n')
      const unkeyed = spawnSync('git', ['merge', '--no-edit', 'a'], { cwd: dir, encoding: 'utf8' })
      expect(unkeyed.status).not.toBe(0)
      expect(unkeyed.stderr).toContain(
        'runs.parquet is a Parquet file and .gitattributes declares no key to match its rows by. Add its key columns to its line, e.g. "runs.parquet merge=duckmerge duckmerge-key=run_id".',
      )
      expect(readFileSync(file)).toEqual(oursBytes)
      gitIn(dir, 'merge', '--abort')

      writeFileSync(join(dir, '.git', 'info', 'attributes'), '')
      gitIn(dir, 'merge', '-q', '--no-edit', 'a')
      expect(await read()).toEqual([
        { id: 1, score: 1.5 },
        { id: 3, score: 3 },
        { id: 4, score: 4 },
      ])
      expect(gitIn(dir, 'status', '--porcelain')).toBe('')
    } finally {
      db.close()
    }
  })
})
