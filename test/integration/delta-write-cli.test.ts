import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { expectValidLog, readRows } from './delta-write.helpers.js'

async function parquet(path: string, query: string): Promise<void> {
  const db = await DuckDb.open()
  try {
    await db.run(sql`COPY (${raw(query)}) TO ${literal(path)} (FORMAT parquet)`)
  } finally {
    db.close()
  }
}

describe('duckmerge delta create/append/overwrite/delete/vacuum/checkpoint', () => {
  test('a scripted session: every step prints one JSON object and the table reads back', async () => {
    const dir = tempDir()
    const table = join(dir, 'runs')
    await parquet(
      join(dir, 'day1.parquet'),
      "select i::bigint as id, 'a' || (i % 2)::varchar as grp, (i * 1.5)::double as score from range(6) t(i)",
    )
    writeFileSync(join(dir, 'more.csv'), 'id,grp,score\n10,a0,2.5\n11,a1,3.5\n')

    const created = runCli([
      'delta',
      'create',
      table,
      '--from',
      join(dir, 'day1.parquet'),
      '--partition-by',
      'grp',
      '--json',
    ])
    expect(created.code, created.stderr).toBe(0)
    expect(created.json()).toMatchObject({
      version: 0,
      operation: 'CREATE TABLE AS SELECT',
      metrics: { numFiles: 2, numOutputRows: 6 },
    })

    const appended = runCli(['delta', 'append', table, '--from', join(dir, 'more.csv'), '--json'], {
      cwd: dir,
    })
    expect(appended.code, appended.stderr).toBe(0)
    expect(appended.json()).toMatchObject({
      version: 1,
      operation: 'WRITE',
      metrics: { numOutputRows: 2 },
    })

    const deleted = runCli(
      ['delta', 'delete', 'runs', '--where', "id >= 10 AND grp = 'a1'", '--json'],
      { cwd: dir },
    )
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(deleted.json()).toMatchObject({
      version: 2,
      operation: 'DELETE',
      metrics: { numDeletedRows: 1 },
    })

    const replaced = runCli([
      'delta',
      'overwrite',
      table,
      '--from',
      join(dir, 'day1.parquet'),
      '--where',
      "grp = 'a0'",
      '--json',
    ])
    expect(replaced.code).toBe(1) // rows of grp a1 are outside the predicate
    expect(replaced.stderr).toContain('do not match the predicate')

    const cp = runCli(['delta', 'checkpoint', table, '--json'])
    expect(cp.code, cp.stderr).toBe(0)
    expect(cp.json()).toMatchObject({
      version: 2,
      operation: 'CHECKPOINT',
      metrics: { numOfAddFiles: 3 },
    })

    const vac = runCli(['delta', 'vacuum', table, '--dry-run', '--json'])
    expect(vac.code, vac.stderr).toBe(0)
    expect(vac.json()).toMatchObject({ version: 2, dryRun: true, files: [] })

    const ids = (await readRows(table, 'id')).map((r) => r.id)
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 10])
    expectValidLog(table)
  })

  test('after vacuum, reading a removed version names the versions still readable', async () => {
    const dir = tempDir()
    const table = join(dir, 'runs')
    for (const [i, verb] of ['create', 'append', 'overwrite', 'append'].entries()) {
      await parquet(join(dir, `v${i}.parquet`), `select ${i}::bigint as id`)
      const r = runCli(['delta', verb, table, '--from', join(dir, `v${i}.parquet`)])
      expect(r.code, r.stderr).toBe(0)
    }
    // Versions 0 and 1 need files the overwrite (version 2) removed; 2 and 3 keep theirs.
    const vacuumed = runCli(['delta', 'vacuum', table, '--retention-hours', '0', '--force'])
    expect(vacuumed.code, vacuumed.stderr).toBe(0)
    const old = runCli(['delta', 'cat', table, '--version', '1', '--json'])
    expect(old.code).toBe(1)
    const error = old.json<{ error: { message: string; details: Record<string, unknown> } }>().error
    expect(error.details).toMatchObject({
      version: 1,
      availableVersions: { from: 2, to: 3 },
    })
    expect(error.message).toContain(
      'is missing (vacuum removes the files only older versions need). Versions 2 to 3 have all their files. Read --version 2 to 3, or restore the file.',
    )
    const current = runCli(['delta', 'cat', table, '--version', '2', '--json'])
    expect(current.code, current.stderr).toBe(0)
  })

  test('text output names the version; usage errors exit 2', async () => {
    const dir = tempDir()
    await parquet(join(dir, 'a.parquet'), 'select 1 as x')
    const r = runCli(['delta', 'create', join(dir, 't'), '--from', join(dir, 'a.parquet')])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('version 0')
    expect(runCli(['delta', 'delete', join(dir, 't')]).code).toBe(2)
    expect(runCli(['delta', 'append', join(dir, 't'), '--from', 'x', '--app-id', 'a']).code).toBe(2)
  })

  test('idempotent appends with --app-id/--txn-version', async () => {
    const dir = tempDir()
    await parquet(join(dir, 'a.parquet'), 'select 1 as x')
    const table = join(dir, 't')
    runCli(['delta', 'create', table, '--from', join(dir, 'a.parquet')])
    const args = [
      'delta',
      'append',
      table,
      '--from',
      join(dir, 'a.parquet'),
      '--app-id',
      'job',
      '--txn-version',
      '7',
      '--json',
    ]
    expect(runCli(args).json()).toMatchObject({ version: 1 })
    expect(runCli(args).json()).toMatchObject({ version: 1, skipped: true })
    expect(await readRows(table, 'x')).toHaveLength(2)
  })

  test('a schema mismatch exits 1 with SCHEMA_MISMATCH and leaves the table as it was', async () => {
    const dir = tempDir()
    await parquet(join(dir, 'a.parquet'), 'select 1 as x')
    await parquet(join(dir, 'b.parquet'), 'select 1 as x, 2 as y')
    const table = join(dir, 't')
    runCli(['delta', 'create', table, '--from', join(dir, 'a.parquet')])
    const before = hashTree(table)
    const r = runCli(['delta', 'append', table, '--from', join(dir, 'b.parquet'), '--json'])
    expect(r.code).toBe(1)
    expect(r.json()).toMatchObject({ error: { code: 'SCHEMA_MISMATCH' } })
    expect(r.stderr).toContain(
      '"y" is not in the table. Pass --merge-schema to add the new columns to the table.',
    )
    expect(hashTree(table)).toEqual(before)
    // The library's hints name this command's flags.
    const vac = runCli(['delta', 'vacuum', table, '--retention-hours', '1'])
    expect(vac.code).toBe(1)
    expect(vac.stderr).toContain(
      'may still need them. Pass --force if no one reads older versions.',
    )
    const negative = runCli(['delta', 'vacuum', table, '--retention-hours=-1', '--force'])
    expect(negative.code).toBe(2)
    expect(negative.stderr).toContain('Give --retention-hours as 0 or more.')
    expect(
      runCli(['delta', 'append', table, '--from', join(dir, 'b.parquet'), '--merge-schema']).code,
    ).toBe(0)
  })

  test.skipIf(!hasFixtures)(
    `an unsupported table exits 1 naming the version or feature${hasFixtures ? '' : needsFixtures('')}`,
    async () => {
      const dir = tempDir()
      await parquet(join(dir, 'a.parquet'), 'select 1 as id')
      const table = join(dir, 't')
      cpSync(fixture('delta', 'deltalog-invalid-protocol-version'), table, { recursive: true })
      const r = runCli(['delta', 'append', table, '--from', join(dir, 'a.parquet')])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/UNSUPPORTED_FEATURE.*reader version 99/)
    },
  )
})
