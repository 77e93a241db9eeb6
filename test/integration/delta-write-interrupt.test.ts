/**
 * Ctrl-C and SIGTERM during `delta create` / `delta append`, through a real child process and a
 * real signal at several moments of the write: exit 1 with INTERRUPTED, no staging folder or
 * data file left, the table readable at the version it had (or, for create, no table at all).
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { literal, sql } from '../../src/engine/sql.js'
import { createTable, loadSnapshot } from '../../src/formats/delta/index.js'
import { startCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { readRows } from './delta-write.helpers.js'

/** Enough rows that DuckDB's COPY runs for a few seconds on a busy 2-core machine. */
const ROWS = 2_000_000
let inputDir: string
let input: string

// Made once for the file (tempDir() folders go after each test).
beforeAll(async () => {
  inputDir = mkdtempSync(join(tmpdir(), 'duckmerge-interrupt-'))
  input = join(inputDir, 'big.parquet')
  const db = await DuckDb.open()
  try {
    await db.run(
      sql`COPY (select i::bigint as id, md5(i::varchar) as s from range(${ROWS}) t(i)) TO ${literal(input)} (FORMAT parquet)`,
    )
  } finally {
    db.close()
  }
}, 120_000)
afterAll(() => rmSync(inputDir, { recursive: true, force: true }))

const stagingIn = (table: string) =>
  existsSync(table) ? readdirSync(table).filter((n) => n.startsWith('.duckmerge-staging-')) : []

async function waitFor(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** When to signal, once the write has begun (its staging folder exists). */
type Moment = 'staging appears' | 'DuckDB writes a file' | '300 ms into the copy'

async function reach(moment: Moment, table: string): Promise<void> {
  await waitFor('the staging folder', () => stagingIn(table).length > 0)
  if (moment === '300 ms into the copy') await new Promise((r) => setTimeout(r, 300))
  if (moment === 'DuckDB writes a file')
    await waitFor('a file in staging', () =>
      stagingIn(table).some((s) => readdirSync(join(table, s)).length > 0),
    )
}

function finish(child: ChildProcess) {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => {
    stdout += String(d)
  })
  child.stderr?.on('data', (d) => {
    stderr += String(d)
  })
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) =>
    child.on('exit', (code) => done({ code, stdout, stderr })),
  )
}

const cases: [NodeJS.Signals, Moment][] = [
  ['SIGINT', 'staging appears'],
  ['SIGTERM', 'DuckDB writes a file'],
  ['SIGINT', '300 ms into the copy'],
]

describe('a signal during delta create', () => {
  test.each(cases)('%s when %s: exit 1, INTERRUPTED, no table folder left', async (sig, moment) => {
    const table = join(tempDir(), 'runs')
    const child = startCli(['delta', 'create', table, '--from', input, '--json'])
    const result = finish(child)
    await reach(moment, table)
    child.kill(sig)
    const { code, stdout, stderr } = await result
    expect(code, stderr).toBe(1)
    expect(JSON.parse(stdout).error).toMatchObject({
      code: 'INTERRUPTED',
      message: `Interrupted: nothing was committed to ${table}.`,
    })
    expect(existsSync(table)).toBe(false)
  })
})

describe('a signal during delta append', () => {
  test.each(cases)(
    '%s when %s: the table stays at version 0, nothing left',
    async (sig, moment) => {
      const table = join(tempDir(), 'runs')
      await createTable({
        path: table,
        source: { query: "select 1::bigint as id, 'a' as s" },
      })
      const before = hashTree(table)
      const child = startCli(['delta', 'append', table, '--from', input])
      const result = finish(child)
      await reach(moment, table)
      child.kill(sig)
      const { code, stderr } = await result
      expect(code, stderr).toBe(1)
      expect(stderr).toContain(`duckmerge: ${sig} received, stopping`)
      expect(stderr).toContain(
        `error [INTERRUPTED]: Interrupted: nothing was committed to ${table}.`,
      )
      // No staging folder, no data file, no commit temp: byte for byte the table it was.
      expect(hashTree(table)).toEqual(before)
      expect(stagingIn(table)).toEqual([])
      expect((await loadSnapshot(table)).version).toBe(0)
      expect(await readRows(table, 'id')).toEqual([{ id: 1, s: 'a' }])
    },
  )

  test('a second signal exits at once (130) and still removes the staging folder', async () => {
    const table = join(tempDir(), 'runs')
    await createTable({ path: table, source: { query: "select 1::bigint as id, 'a' as s" } })
    const before = hashTree(table)
    const child = startCli(['delta', 'append', table, '--from', input])
    const result = finish(child)
    await reach('DuckDB writes a file', table)
    child.kill('SIGINT')
    child.kill('SIGINT')
    const { code } = await result
    expect([1, 130]).toContain(code) // 1 when the first stop completed before the second arrived
    expect(stagingIn(table)).toEqual([])
    expect(hashTree(table)).toEqual(before)
  })
})

describe('a signal during delta merge', () => {
  test.each(cases)(
    '%s when %s: nothing committed, no file left, the table as it was',
    async (sig, moment) => {
      const dir = tempDir()
      const table = join(dir, 'runs')
      await createTable({ path: table, source: { file: input } })
      // Every 10th id changes: the table's files are rewritten, a copy of seconds.
      const source = join(dir, 'updates.parquet')
      const db = await DuckDb.open()
      try {
        await db.run(
          sql`COPY (select i::bigint as id, 'new' as s from range(0, ${ROWS}, 10) t(i)) TO ${literal(source)} (FORMAT parquet)`,
        )
      } finally {
        db.close()
      }
      const before = hashTree(table)
      const child = startCli(['delta', 'merge', table, '--source', source, '--on', 'id', '--json'])
      const result = finish(child)
      await reach(moment, table)
      child.kill(sig)
      const { code, stdout, stderr } = await result
      expect(code, stderr).toBe(1)
      expect(JSON.parse(stdout).error).toMatchObject({
        code: 'INTERRUPTED',
        message: expect.stringMatching(/^Interrupted: nothing was (committed to .+|written)\.$/),
      })
      expect(hashTree(table)).toEqual(before)
      expect(stagingIn(table)).toEqual([])
      expect((await loadSnapshot(table)).version).toBe(0)
    },
  )
})
