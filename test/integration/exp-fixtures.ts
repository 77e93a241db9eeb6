/** Shared setup of the exp tests: real git repositories and xetrack results DBs in temp dirs. */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { fixture } from '../support/fixtures.js'
import { tempDir } from '../support/temp.js'

export const xetrack = {
  a: () => fixture('xetrack', 'a_base_e0.1.0.db'),
  b: () => fixture('xetrack', 'b_sweep_e0.2.0.db'),
  c: () => fixture('xetrack', 'c_extra_param_e0.3.0.db'),
  d: () => fixture('xetrack', 'd_rebase_e0.1.0_corrected.db'),
  e: () => fixture('xetrack', 'e_quirks_default_table.db'),
}

/** Runs git in `repo` (argument array, no shell) and returns its trimmed stdout. */
export function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
  }).trim()
}

/** A fresh repository with identity set in its own config, and one commit of `files`. */
export function makeRepo(
  files: Record<string, string | Buffer> = { 'README.md': 'exp\n' },
): string {
  const repo = join(tempDir('duckmerge-exp-'), 'project')
  mkdirSync(repo)
  git(repo, 'init', '-q', '-b', 'main')
  git(repo, 'config', 'user.name', 'Exp Tester')
  git(repo, 'config', 'user.email', 'exp@example.com')
  git(repo, 'config', 'commit.gpgsign', 'false')
  git(repo, 'config', 'tag.gpgsign', 'false')
  commitFiles(repo, files, 'initial')
  return repo
}

export function commitFiles(repo: string, files: Record<string, string | Buffer>, message: string) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true })
    writeFileSync(join(repo, path), content)
    git(repo, 'add', '--', path)
  }
  git(repo, 'commit', '-q', '-m', message)
}

/**
 * a, b and c merged into one xetrack DB (both tables), as `xt copy` would: rows appended by
 * column name, c's extra `batch_size` column added. Plain SQLite, independent of mergeResults.
 */
export function mergedFixtureDb(path: string, sources = [xetrack.b(), xetrack.c()]): string {
  mkdirSync(dirname(path), { recursive: true })
  copyFileSync(xetrack.a(), path)
  const db = new Database(path)
  try {
    for (const source of sources) {
      db.prepare('attach ? as x').run(source)
      for (const table of ['predictions', 'metrics']) {
        const mine = new Set(
          db
            .prepare('select name from pragma_table_info(?)')
            .all(table)
            .map((r) => (r as { name: string }).name),
        )
        const theirs = db
          .prepare("select name, type from pragma_table_info(?, 'x')")
          .all(table) as { name: string; type: string }[]
        for (const c of theirs)
          if (!mine.has(c.name))
            db.exec(`alter table main."${table}" add column "${c.name}" ${c.type}`)
        const cols = theirs.map((c) => `"${c.name}"`).join(', ')
        db.exec(`insert into main."${table}" (${cols}) select ${cols} from x."${table}"`)
      }
      db.exec('detach x')
    }
  } finally {
    db.close()
  }
  return path
}
