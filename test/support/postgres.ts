/**
 * A throwaway PostgreSQL cluster for the store's second dialect: Debian's binaries
 * (/usr/lib/postgresql/<v>/bin, installed by .ci/run), initdb in a temp dir, a free port on
 * 127.0.0.1, its unix socket in the same temp dir, fsync off. One cluster per test file (started
 * in beforeAll, stopped and removed in afterAll), one fresh database per test.
 *
 * initdb refuses to run as root (CI runs tests as root): then the cluster belongs to the
 * `postgres` system user and its commands run through `runuser`. Tests that need it skip, saying
 * why, only when the binaries are absent.
 *
 * @example
 * const pg = usePostgres()
 * describe.skipIf(!pg.available)(needsPostgres('store on postgres'), () => {
 *   test('x', async () => { const url = await pg.database() })
 * })
 */
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

/** The bin folder of the newest installed PostgreSQL, if any. */
function findBinDir(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin')
}

const binDir = findBinDir()
export const hasPostgres = binDir !== undefined
export const noPostgresReason =
  'PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)'

/** A test or suite title that says why it is skipped when PostgreSQL is absent. */
export function needsPostgres(title: string): string {
  return hasPostgres ? title : `${title} (skipped: ${noPostgresReason})`
}

interface SystemUser {
  readonly uid: number
  readonly gid: number
}

/** Root runs the cluster as `postgres` (initdb refuses root); anyone else as themselves. */
function clusterUser(): SystemUser | undefined {
  if (process.getuid?.() !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
  if (!line)
    throw new Error('tests run as root and there is no "postgres" user to own the test cluster')
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

function run(user: SystemUser | undefined, command: string, args: readonly string[]): void {
  const bin = join(binDir as string, command)
  const [file, argv] = user ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, [...args]]
  execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      )
    })
  })
}

export interface PostgresCluster {
  readonly port: number
  /** A URL to database `name` of this cluster. */
  url(name: string): string
  /** Creates a new empty database and returns its URL. */
  database(): Promise<string>
  stop(): void
}

let databases = 0

/** Starts a cluster (initdb, pg_ctl start) in a new temp dir. */
export async function startPostgres(): Promise<PostgresCluster> {
  if (!binDir) throw new Error(noPostgresReason)
  const user = clusterUser()
  const dir = mkdtempSync(join(tmpdir(), 'duckmerge-pg-'))
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const stop = () => {
    try {
      run(user, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    } catch {
      // never started, or already gone
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    run(user, 'initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'])
    // A port another process grabs between freePort and start: try again with a new one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`
      try {
        run(user, 'pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start'])
      } catch (error) {
        if (attempt < 3) continue
        const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : ''
        throw new Error(`pg_ctl start failed: ${String(error)}\n${log}`)
      }
      const url = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`
      return {
        port,
        url,
        async database() {
          const name = `t_${process.pid}_${++databases}`
          const client = new pg.Client({ connectionString: url('postgres') })
          await client.connect()
          try {
            await client.query(`CREATE DATABASE ${name}`)
          } finally {
            await client.end()
          }
          return url(name)
        },
        stop,
      }
    }
  } catch (error) {
    stop()
    throw error
  }
}

/**
 * One cluster for the calling test file: started before its tests, stopped after them.
 * `available` is false (and nothing starts) when PostgreSQL is not installed.
 */
export function usePostgres(): {
  readonly available: boolean
  database(): Promise<string>
} {
  let cluster: PostgresCluster | undefined
  if (hasPostgres) {
    beforeAll(async () => {
      cluster = await startPostgres()
    })
    afterAll(() => cluster?.stop())
  }
  return {
    available: hasPostgres,
    database() {
      if (!cluster) throw new Error(noPostgresReason)
      return cluster.database()
    },
  }
}

let storeCluster: { database(): Promise<string> } | undefined

/**
 * Puts the data roots of the calling test file on a Postgres store (a fresh database for each
 * `testStore()`). A test file calls this, then imports a suite written against `testStore()`:
 * the same tests, once per store.
 */
export function storeOnPostgres(): void {
  storeCluster = usePostgres()
}

/** openDataRoot options for the store this test file runs on: `{}` is SQLite under the root. */
export async function testStore(): Promise<{ store?: string }> {
  return storeCluster ? { store: await storeCluster.database() } : {}
}

/** Runs one query on the database at `url` (a connection of its own) and returns the rows. */
export async function queryPostgres<T extends Record<string, unknown>>(
  url: string,
  text: string,
  values: readonly unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(text, [...values])).rows
  } finally {
    await client.end()
  }
}
