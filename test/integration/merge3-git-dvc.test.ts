import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { addRuns, gitIn, initRepo, readRuns } from '../support/runs-db.js'
import { tempDir } from '../support/temp.js'

type Layout = 'dvc2' | 'dvc3'

const md5Of = (file: string) => createHash('md5').update(readFileSync(file)).digest('hex')

function objectPath(dir: string, md5: string, layout: Layout): string {
  const cache = join(dir, '.dvc', 'cache')
  return layout === 'dvc3'
    ? join(cache, 'files', 'md5', md5.slice(0, 2), md5.slice(2))
    : join(cache, md5.slice(0, 2), md5.slice(2))
}

/** What `dvc add NAME` does: the file into the cache (read-only), its pointer beside it. */
function dvcAdd(dir: string, layout: Layout, name = 'results.db'): string {
  const file = join(dir, name)
  const md5 = md5Of(file)
  const object = objectPath(dir, md5, layout)
  mkdirSync(dirname(object), { recursive: true })
  if (!existsSync(object)) {
    copyFileSync(file, object)
    chmodSync(object, 0o444)
  }
  const hash = layout === 'dvc3' ? '  hash: md5\n' : ''
  writeFileSync(
    join(dir, `${name}.dvc`),
    `outs:\n- md5: ${md5}\n  size: ${statSync(file).size}\n${hash}  path: ${name}\n`,
  )
  return md5
}

/** What `dvc checkout` does: the work tree file from the cache object its pointer names. */
function dvcCheckout(dir: string, layout: Layout, name = 'results.db'): void {
  const text = readFileSync(join(dir, `${name}.dvc`), 'utf8')
  const md5 = /md5: (\w+)/.exec(text)?.[1] as string
  rmSync(join(dir, name), { force: true })
  copyFileSync(objectPath(dir, md5, layout), join(dir, name))
  chmodSync(join(dir, name), 0o644)
}

const addRunsIn = (dir: string, runs: readonly [string, number][]) =>
  addRuns(join(dir, 'results.db'), runs)

function setScore(dir: string, id: string, score: number) {
  const db = new Database(join(dir, 'results.db'))
  db.prepare('update runs set score = ? where run_id = ?').run(score, id)
  db.close()
}

const rowsOf = readRuns

/** Every cache object with the md5 of its bytes (cache objects are inputs: never changed). */
function cacheHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) walk(join(d, e.name))
      else out[join(d, e.name)] = md5Of(join(d, e.name))
  }
  walk(join(dir, '.dvc', 'cache'))
  return out
}

/**
 * A DVC project (layout by hand: DVC is not installed) whose results.db is DVC-tracked; branch
 * sweep-a adds runs a1, a2 and branch sweep-b adds b1, each committing its new pointer.
 * `change` runs on each branch before its pointer is committed.
 */
function dvcRepo(layout: Layout, change?: (dir: string, branch: 'a' | 'b') => void) {
  const dir = tempDir()
  initRepo(dir)
  mkdirSync(join(dir, '.dvc'))
  writeFileSync(join(dir, '.dvc', 'config'), '')
  writeFileSync(join(dir, '.dvc', '.gitignore'), '/config.local\n/tmp\n/cache\n')
  writeFileSync(join(dir, '.gitignore'), '/results.db\n')
  addRunsIn(dir, [['r0', 0.1]])
  const base = dvcAdd(dir, layout)
  expect(runCli(['git', 'install'], { cwd: dir }).code).toBe(0)
  gitIn(dir, 'add', '.')
  gitIn(dir, 'commit', '-qm', 'base')
  gitIn(dir, 'checkout', '-qb', 'sweep-a')
  addRunsIn(dir, [
    ['a1', 0.01],
    ['a2', 0.02],
  ])
  change?.(dir, 'a')
  const a = dvcAdd(dir, layout)
  gitIn(dir, 'commit', '-qam', 'sweep a')
  gitIn(dir, 'checkout', '-q', 'main')
  gitIn(dir, 'checkout', '-qb', 'sweep-b')
  dvcCheckout(dir, layout)
  addRunsIn(dir, [['b1', 0.3]])
  change?.(dir, 'b')
  const b = dvcAdd(dir, layout)
  gitIn(dir, 'commit', '-qam', 'sweep b')
  return { dir, md5: { base, a, b } }
}

const merge = (dir: string) =>
  spawnSync('git', ['merge', '--no-edit', 'sweep-a'], { cwd: dir, encoding: 'utf8' })

describe('git merge of a DVC pointer: the data merges from the DVC cache', {
  timeout: 180_000,
}, () => {
  test.each<Layout>(['dvc3', 'dvc2'])(
    '%s layout: both branches added runs → the merged DB is cached, the pointer names it',
    (layout) => {
      const { dir, md5 } = dvcRepo(layout)
      const before = cacheHashes(dir)
      const merged = merge(dir)
      expect(merged.stderr).toBe('')
      expect(merged.status).toBe(0)
      expect(gitIn(dir, 'status', '--porcelain')).toBe('')
      const pointer = readFileSync(join(dir, 'results.db.dvc'), 'utf8')
      const newMd5 = /md5: (\w+)/.exec(pointer)?.[1] as string
      expect([md5.base, md5.a, md5.b]).not.toContain(newMd5)
      const object = objectPath(dir, newMd5, layout)
      expect(pointer).toBe(
        `outs:\n- md5: ${newMd5}\n  size: ${statSync(object).size}\n${layout === 'dvc3' ? '  hash: md5\n' : ''}  path: results.db\n`,
      )
      expect(md5Of(object)).toBe(newMd5)
      expect(statSync(object).mode & 0o777).toBe(0o444)
      // The three versions are untouched; the merged object is the only new file in the cache.
      expect(cacheHashes(dir)).toEqual({ ...before, [object]: newMd5 })
      dvcCheckout(dir, layout)
      expect(rowsOf(join(dir, 'results.db'))).toEqual([
        { run_id: 'a1', score: 0.1 },
        { run_id: 'a2', score: 0.2 },
        { run_id: 'b1', score: 3 },
        { run_id: 'r0', score: 1 },
      ])
    },
  )

  test('a version missing from the cache: conflicted, named with its md5 and dvc fetch; after fetching, resolve finishes', () => {
    const { dir, md5 } = dvcRepo('dvc3')
    const theirs = objectPath(dir, md5.a, 'dvc3')
    const away = join(dir, 'fetched-later')
    renameSync(theirs, away)
    const pointerBefore = readFileSync(join(dir, 'results.db.dvc'), 'utf8')
    const before = cacheHashes(dir)
    const merged = merge(dir)
    expect(merged.status).not.toBe(0)
    expect(merged.stderr).toContain(
      `duckmerge: results.db.dvc: 1 version(s) missing from the DVC cache ${join(dir, '.dvc', 'cache')} (results.db theirs md5 ${md5.a}); run dvc fetch for them`,
    )
    // git's conflicted state: ours' pointer in the work tree, three stages, the report.
    expect(readFileSync(join(dir, 'results.db.dvc'), 'utf8')).toBe(pointerBefore)
    expect(gitIn(dir, 'ls-files', '-u', '--', 'results.db.dvc').trim().split('\n')).toHaveLength(3)
    const report = JSON.parse(
      readFileSync(join(dir, '.duckmerge/conflicts/results.db.dvc.json'), 'utf8'),
    )
    expect(report.missing).toEqual([{ side: 'theirs', path: 'results.db', md5: md5.a }])
    expect(report.written).toBe(false)
    expect(cacheHashes(dir)).toEqual(before)

    const stillMissing = runCli(['git', 'resolve', 'results.db.dvc'], { cwd: dir })
    expect(stillMissing.code).toBe(1)
    expect(stillMissing.stderr).toContain('[MERGE_CONFLICT]')
    expect(stillMissing.stderr).toContain(`results.db theirs md5 ${md5.a}`)

    renameSync(away, theirs) // what dvc fetch does
    const resolved = runCli(['git', 'resolve', 'results.db.dvc'], { cwd: dir })
    expect(resolved.stderr).toBe('')
    expect(resolved.code).toBe(0)
    expect(gitIn(dir, 'ls-files', '-u')).toBe('')
    expect(existsSync(join(dir, '.duckmerge/conflicts/results.db.dvc.json'))).toBe(false)
    dvcCheckout(dir, 'dvc3')
    expect(rowsOf(join(dir, 'results.db')).map((r) => (r as { run_id: string }).run_id)).toEqual([
      'a1',
      'a2',
      'b1',
      'r0',
    ])
  })

  test('the same cell changed on both branches: conflict report, resolve --take theirs', () => {
    const { dir } = dvcRepo('dvc3', (d, branch) => setScore(d, 'r0', branch === 'a' ? 3 : 2))
    const merged = merge(dir)
    expect(merged.status).not.toBe(0)
    expect(merged.stderr).toContain(
      'duckmerge: results.db.dvc: 1 conflict(s), first runs {"run_id":"r0"} score: base 1, ours 2, theirs 3',
    )
    const report = JSON.parse(
      readFileSync(join(dir, '.duckmerge/conflicts/results.db.dvc.json'), 'utf8'),
    )
    expect(report.outs[0].action).toBe('conflicted')
    expect(report.conflicts).toHaveLength(1)
    const resolved = runCli(['git', 'resolve', 'results.db.dvc', '--take', 'theirs'], { cwd: dir })
    expect(resolved.code).toBe(0)
    dvcCheckout(dir, 'dvc3')
    expect(rowsOf(join(dir, 'results.db'))).toEqual([
      { run_id: 'a1', score: 0.1 },
      { run_id: 'a2', score: 0.2 },
      { run_id: 'b1', score: 3 },
      { run_id: 'r0', score: 3 },
    ])
  })

  test('a DVC-tracked Parquet file merges by the duckmerge-key attribute of its data path', async () => {
    const dir = tempDir()
    initRepo(dir)
    mkdirSync(join(dir, '.dvc'))
    writeFileSync(join(dir, '.dvc', 'config'), '')
    writeFileSync(join(dir, '.dvc', '.gitignore'), '/config.local\n/tmp\n/cache\n')
    writeFileSync(join(dir, '.gitignore'), '/runs.parquet\n')
    expect(runCli(['git', 'install'], { cwd: dir }).code).toBe(0)
    expect(
      runCli(['git', 'install', '--path-glob', 'runs.parquet', '--key', 'id'], { cwd: dir }).code,
    ).toBe(0)
    const file = join(dir, 'runs.parquet')
    const db = await DuckDb.open()
    const write = async (rows: string) => {
      rmSync(file, { force: true })
      await db.run(
        sql`copy (select * from (values ${raw(rows)}) t(id, score)) to ${literal(file)} (format parquet)`,
      )
      dvcAdd(dir, 'dvc3', 'runs.parquet')
    }
    try {
      await write('(1, 1.0), (2, 2.0)')
      gitIn(dir, 'add', '.')
      gitIn(dir, 'commit', '-qm', 'base')
      gitIn(dir, 'checkout', '-qb', 'sweep-a')
      await write('(1, 1.5), (2, 2.0), (3, 3.0)')
      gitIn(dir, 'commit', '-qam', 'a')
      gitIn(dir, 'checkout', '-q', 'main')
      gitIn(dir, 'checkout', '-qb', 'sweep-b')
      await write('(1, 1.0), (4, 4.0)')
      gitIn(dir, 'commit', '-qam', 'b')
      const merged = merge(dir)
      expect(merged.stderr).toBe('')
      expect(merged.status).toBe(0)
      dvcCheckout(dir, 'dvc3', 'runs.parquet')
      expect(
        await db.all(sql`select id, score from read_parquet(${literal(file)}) order by id`),
      ).toEqual([
        { id: 1, score: 1.5 },
        { id: 3, score: 3 },
        { id: 4, score: 4 },
      ])
    } finally {
      db.close()
    }
  })
})
