/**
 * `runs` results DBs: the small one (run_id, lr, score) the git merge-driver tests sweep into,
 * and large ones (id, model, score) the damage and signal tests need a long write for.
 */
import { execFileSync } from 'node:child_process'
import Database from 'better-sqlite3'

/**
 * A SQLite `runs(id integer primary key, model, score)` of `rows` rows with ids from `from`,
 * in journal mode DELETE (SQLite's default), built inside SQLite.
 */
export function manyRuns(path: string, from: number, rows: number): string {
  const db = new Database(path)
  try {
    db.exec('create table runs (id integer primary key, model text, score real)')
    db.exec(`with recursive n(i) as (select ${from} union all select i + 1 from n where i < ${from + rows - 1})
      insert into runs select i, 'model-' || (i % 97), i * 0.001 from n`)
  } finally {
    db.close()
  }
  return path
}

/** Adds runs `[run_id, lr]` (score = lr × 10), creating the table when needed. */
export function addRuns(path: string, runs: readonly [string, number][]): void {
  const db = new Database(path)
  try {
    db.exec('create table if not exists runs (run_id text primary key, lr real, score real)')
    const insert = db.prepare('insert into runs values (?, ?, ?)')
    for (const [id, lr] of runs) insert.run(id, lr, lr * 10)
  } finally {
    db.close()
  }
}

/** Every run as `{ run_id, score }`, by run_id. */
export function readRuns(path: string): unknown[] {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare('select run_id, score from runs order by run_id').all()
  } finally {
    db.close()
  }
}

/** git in `cwd` (argument array, no shell); returns stdout. */
export const gitIn = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** A new repository on branch main with an identity in its own config. */
export function initRepo(dir: string): void {
  gitIn(dir, 'init', '-q', '-b', 'main')
  gitIn(dir, 'config', 'user.email', 't@example.com')
  gitIn(dir, 'config', 'user.name', 'T')
}
