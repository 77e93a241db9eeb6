/** The small `runs` results DB (run_id, lr, score) the git merge-driver tests sweep into. */
import { execFileSync } from 'node:child_process'
import Database from 'better-sqlite3'

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
