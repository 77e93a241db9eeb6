/**
 * One read-only query on a SQLite file in a worker thread, for scans long enough to run beside
 * other work (a migration counts a table's values while it copies it). The worker opens its own
 * connection, so it reads the file as committed when it starts: callers that need their own
 * snapshot check the answer against it.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads'
import { messageOf } from '../errors.js'
import { Sql, type SqlValue } from './sql.js'
import { allSync, openSqlite } from './sqlite.js'
import { workerScript } from './worker-script.js'

const marker = 'duckmerge-sqlite-query'

interface Job {
  readonly marker: typeof marker
  readonly path: string
  readonly text: string
  readonly values: readonly SqlValue[]
}

type Outcome =
  | { readonly ok: true; readonly rows: Record<string, unknown>[] }
  | { readonly ok: false; readonly message: string }

/**
 * Starts `query` on `path` in a worker; the promise settles with its rows.
 *
 * @example
 * const counting = querySqliteInWorker('runs.db', sql`select count(*) as n from runs`)
 * // … other work …
 * const [{ n }] = await counting
 */
export function querySqliteInWorker<T = Record<string, unknown>>(
  path: string,
  query: Sql,
): Promise<T[]> {
  const script = workerScript(import.meta.url, 'sqlite-query-worker')
  const job: Job = { marker, path, text: query.text, values: query.values }
  const worker = new Worker(script.source, { eval: script.isEval, workerData: job })
  return new Promise<T[]>((resolve, reject) => {
    worker.once('message', (outcome: Outcome) => {
      if (outcome.ok) resolve(outcome.rows as T[])
      else reject(new Error(outcome.message))
      void worker.terminate()
    })
    worker.once('error', reject)
    worker.once('exit', (code) =>
      reject(new Error(`the SQLite query worker stopped (exit ${code})`)),
    )
  })
}

const job = workerData as Job | undefined
if (parentPort !== null && job?.marker === marker) {
  let outcome: Outcome
  try {
    const db = openSqlite(job.path, { readonly: true })
    try {
      outcome = { ok: true, rows: allSync(db, new Sql(job.text, job.values)) }
    } finally {
      db.close()
    }
  } catch (error) {
    outcome = { ok: false, message: messageOf(error) }
  }
  parentPort.postMessage(outcome)
}
