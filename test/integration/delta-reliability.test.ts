import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { literal, sql } from '../../src/engine/sql.js'
import { createTable, loadSnapshot, scanSql } from '../../src/formats/delta/index.js'
import { cliPath, runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { expectValidLog } from './delta-write.helpers.js'

const ROWS = 20

/** A child process that appends batches (`batch` = its argument + i) until killed or done. */
function appender(dir: string, table: string, proc: number, count: number): ChildProcess {
  const lib = pathToFileURL(join(dirname(dirname(cliPath())), 'formats', 'delta', 'index.js'))
  const script = join(dir, 'appender.mjs')
  writeFileSync(
    script,
    `import { appendTable } from ${JSON.stringify(lib.href)}
const [table, proc, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
for (let i = 0; i < count; i++) {
  await appendTable({ path: table, checkpointInterval: 5, source: { query:
    \`select \${proc}::bigint as proc, \${i}::bigint as batch, range as id from range(${ROWS})\` } })
  process.stdout.write('committed\\n')
}
`,
  )
  return spawn(process.execPath, [script, table, String(proc), String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

async function newTable(dir: string): Promise<string> {
  const table = join(dir, 't')
  await createTable({
    path: table,
    source: {
      query: `select 0::bigint as proc, 0::bigint as batch, range as id from range(${ROWS})`,
    },
  })
  return table
}

/** Rows per (proc, batch) at `version`: each must be exactly ROWS, or absent. */
async function batches(db: DuckDb, table: string, version?: number) {
  const snapshot = await loadSnapshot(table, version === undefined ? {} : { version, db })
  const rows = await db.all<{ proc: bigint; batch: bigint; n: bigint }>(
    sql`select proc, batch, count(*) as n from (${scanSql(snapshot)}) group by all order by all`,
  )
  return { version: snapshot.version, rows }
}

const firstCommit = (child: ChildProcess) =>
  new Promise<void>((done) => child.stdout?.once('data', () => done()))

const exited = (child: ChildProcess) =>
  new Promise<number | null>((done) => child.on('exit', (code) => done(code)))

describe('Delta writer reliability', () => {
  test('SIGKILL at random moments leaves every version whole (21 kill points)', async () => {
    const dir = tempDir()
    const table = await newTable(dir)
    const db = await DuckDb.open()
    try {
      let proc = 1
      for (let kill = 0; kill < 21; kill++, proc++) {
        const child = appender(dir, table, proc, 1000)
        const done = exited(child)
        // Wait until the child is in its loop (first commit done), then kill it somewhere in a
        // later commit: writing Parquet, linking N.json, or writing a checkpoint (every 5).
        await firstCommit(child)
        await new Promise((r) => setTimeout(r, Math.random() * 150))
        child.kill('SIGKILL')
        await done
        const { rows } = await batches(db, table)
        for (const r of rows) expect(Number(r.n), `proc ${r.proc} batch ${r.batch}`).toBe(ROWS)
      }
      const latest = (await loadSnapshot(table)).version
      expect(latest).toBeGreaterThanOrEqual(21) // each child committed at least once
      for (let v = 0; v <= latest; v++) {
        const { rows } = await batches(db, table, v)
        // Version v holds the create's batch plus exactly v appended batches, each whole.
        expect(rows.length, `version ${v}`).toBe(v + 1)
        expect(
          rows.every((r) => Number(r.n) === ROWS),
          `version ${v}`,
        ).toBe(true)
      }
      expectValidLog(table)
    } finally {
      db.close()
    }
  }, 90_000)

  test('4 processes appending 25 commits each get 100 contiguous versions, every row once', async () => {
    const dir = tempDir()
    const table = await newTable(dir)
    const children = [1, 2, 3, 4].map((p) => appender(dir, table, p, 25))
    const codes = await Promise.all(children.map(exited))
    expect(codes).toEqual([0, 0, 0, 0])
    const versions = readdirSync(join(table, '_delta_log'))
      .filter((n) => /^\d{20}\.json$/.test(n))
      .map((n) => Number(n.slice(0, 20)))
    expect(versions.map((_, i) => i)).toEqual(versions.sort((a, b) => a - b))
    expect(versions.at(-1)).toBe(100)
    const db = await DuckDb.open()
    try {
      const { version, rows } = await batches(db, table)
      expect(version).toBe(100)
      expect(rows).toHaveLength(101)
      for (const p of [1, 2, 3, 4])
        expect(rows.filter((r) => Number(r.proc) === p).map((r) => Number(r.batch))).toEqual(
          Array.from({ length: 25 }, (_, i) => i),
        )
      expect(rows.every((r) => Number(r.n) === ROWS)).toBe(true)
    } finally {
      db.close()
    }
    expectValidLog(table)
  }, 90_000)

  test('append to a folder without _delta_log: a clear error, nothing created', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'rows.csv'), 'a\n1\n')
    const r = runCli(['delta', 'append', join(dir, 'nope'), '--from', join(dir, 'rows.csv')])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('INPUT_NOT_FOUND')
    expect(r.stderr).toContain('no _delta_log folder found')
    expect(readdirSync(dir)).toEqual(['rows.csv'])
  })

  test('a corrupt input file: INPUT_UNREADABLE naming it, table byte-identical', async () => {
    const dir = tempDir()
    const table = await newTable(dir)
    writeFileSync(join(dir, 'broken.parquet'), 'PAR1 this is not parquet')
    const before = hashTree(table)
    const r = runCli(['delta', 'append', table, '--from', join(dir, 'broken.parquet')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/INPUT_UNREADABLE.*broken\.parquet/)
    expect(hashTree(table)).toEqual(before)
  })

  test('a corrupt commit in the log: DELTA_LOG_INVALID naming the file, nothing written', async () => {
    const dir = tempDir()
    const table = await newTable(dir)
    writeFileSync(join(dir, 'rows.csv'), 'proc,batch,id\n1,1,1\n')
    writeFileSync(join(table, '_delta_log', `${'1'.padStart(20, '0')}.json`), '{"add":{"path":')
    const before = hashTree(table)
    const r = runCli(['delta', 'append', table, '--from', join(dir, 'rows.csv')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/DELTA_LOG_INVALID.*00000000000000000001\.json/)
    expect(hashTree(table)).toEqual(before)
  })

  test('append with a schema mismatch: SCHEMA_MISMATCH, table byte-identical', async () => {
    const dir = tempDir()
    const table = await newTable(dir)
    writeFileSync(join(dir, 'bad.csv'), 'proc,batch,id\nx,1,2\n')
    const before = hashTree(table)
    const r = runCli(['delta', 'append', table, '--from', join(dir, 'bad.csv')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/SCHEMA_MISMATCH.*"proc" is string/)
    expect(hashTree(table)).toEqual(before)
  })
})

/**
 * Runs the CLI as a user who cannot write where root can. Tests may run as root, for whom
 * chmod 555 prevents nothing; the child then runs as `nobody` (setpriv), for whom the root-owned
 * 0555 folder really is read-only. Not root: chmod alone is the trigger.
 */
function runUnprivileged(args: readonly string[]) {
  const asRoot = process.getuid?.() === 0
  const command = asRoot ? 'setpriv' : process.execPath
  const prefix = asRoot
    ? ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath]
    : []
  const r = spawnSync(command, [...prefix, cliPath(), ...args], { encoding: 'utf8' })
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) }
}
const hasSetpriv = process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status === 0
/**
 * `nobody` must be able to reach the CLI: a clone under a 0700 folder (mktemp -d) hides it, and
 * the test then says so in its name instead of failing on an empty stdout.
 */
const nobodyRunsCli = hasSetpriv && runUnprivileged(['--help']).code === 0
const readOnlyTest = nobodyRunsCli
  ? 'create, append, checkpoint in a read-only folder: OUTPUT_UNWRITABLE naming it'
  : 'create, append, checkpoint in a read-only folder (skipped: `nobody` cannot reach the CLI under this checkout, or setpriv is missing)'

describe('expected conditions are not internal errors (exit 1, never 70)', () => {
  /** A temp dir `nobody` can enter and read (mkdtemp makes it 0700). */
  function openDir(): string {
    const dir = tempDir()
    chmodSync(dir, 0o755)
    return dir
  }

  test.skipIf(!nobodyRunsCli)(readOnlyTest, async () => {
    const dir = openDir()
    writeFileSync(join(dir, 'rows.csv'), 'proc,batch,id\n1,1,1\n')
    chmodSync(join(dir, 'rows.csv'), 0o644)
    const readOnly = join(dir, 'ro')
    mkdirSync(readOnly, { mode: 0o555 })
    const created = runUnprivileged([
      'delta',
      'create',
      join(readOnly, 't'),
      '--from',
      join(dir, 'rows.csv'),
      '--json',
    ])
    expect(created.code, created.stderr).toBe(1)
    expect(JSON.parse(created.stdout).error).toMatchObject({
      code: 'OUTPUT_UNWRITABLE',
      details: { path: join(readOnly, 't') },
    })
    expect(readdirSync(readOnly)).toEqual([])

    const table = await newTable(dir)
    const lock = (p: string) => {
      chmodSync(p, 0o555)
      for (const e of readdirSync(p, { withFileTypes: true }))
        if (e.isDirectory()) lock(join(p, e.name))
        else chmodSync(join(p, e.name), 0o444)
    }
    lock(table)
    const before = hashTree(table)
    for (const args of [
      ['append', table, '--from', join(dir, 'rows.csv')],
      ['checkpoint', table],
    ]) {
      const r = runUnprivileged(['delta', ...args])
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toMatch(
        new RegExp(
          `OUTPUT_UNWRITABLE.*Cannot write Delta table ${table}: ${table}/\\S+ is not writable`,
        ),
      )
    }
    expect(hashTree(table)).toEqual(before)
  })

  test('create under a path whose parent is a file: OUTPUT_UNWRITABLE', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'rows.csv'), 'id\n1\n')
    writeFileSync(join(dir, 'afile'), 'x')
    const r = runCli(['delta', 'create', join(dir, 'afile', 't'), '--from', join(dir, 'rows.csv')])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `OUTPUT_UNWRITABLE]: Cannot write Delta table ${join(dir, 'afile', 't')}`,
    )
  })

  test('create --from a Parquet file with corrupt pages: INPUT_UNREADABLE naming it, no table left', async () => {
    const dir = tempDir()
    const good = join(dir, 'good.parquet')
    const db = await DuckDb.open()
    try {
      await db.run(
        sql`COPY (select i::bigint as id, md5(i::varchar) as s from range(50000) t(i)) TO ${literal(good)} (FORMAT parquet, COMPRESSION zstd)`,
      )
    } finally {
      db.close()
    }
    // Footer and schema intact (so the file opens), data pages scrambled.
    const bytes = readFileSync(good)
    for (let i = 1000; i < bytes.length - 4000; i += 7) bytes[i] = (bytes[i] ?? 0) ^ 0x5a
    const corrupt = join(dir, 'corrupt.parquet')
    writeFileSync(corrupt, bytes)
    const r = runCli(['delta', 'create', join(dir, 't'), '--from', corrupt, '--json'])
    expect(r.code, r.stderr).toBe(1)
    expect(
      r.json<{ error: { code: string; message: string; details: unknown } }>().error,
    ).toMatchObject({
      code: 'INPUT_UNREADABLE',
      message: expect.stringContaining(`Cannot read ${corrupt}: it is corrupt or truncated`),
      details: { file: corrupt },
    })
    expect(readdirSync(dir).sort()).toEqual(['corrupt.parquet', 'good.parquet'])
  })
})
