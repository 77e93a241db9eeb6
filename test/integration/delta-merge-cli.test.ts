/** `duckmerge delta merge` as a subprocess: upsert from Parquet and Delta sources, --json metrics, errors. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { loadSnapshot } from '../../src/formats/delta/index.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { createTable, readRows } from './delta-merge.helpers.js'

async function parquet(path: string, query: string): Promise<string> {
  await withDuckDb({}, (db) =>
    db.run(sql`copy (${raw(query)}) to ${literal(path)} (format parquet)`),
  )
  return path
}

async function target(): Promise<string> {
  const table = join(tempDir(), 'target')
  await createTable(table, [raw("select * from (values (1, 'a'), (2, 'b'), (3, 'c')) t(id, v)")])
  return table
}

/** `duckmerge delta merge TABLE --source SOURCE ARGS…` */
const deltaMerge = (table: string, source: string, ...args: string[]) =>
  runCli(['delta', 'merge', table, '--source', source, ...args])

// Each test starts several CLI processes: on a loaded machine one can take a minute.
describe('delta merge CLI', { timeout: 180_000 }, () => {
  test('upsert by default: --json prints Spark metric names as numbers', async () => {
    const table = await target()
    const source = await parquet(
      join(tempDir(), 'updates.parquet'),
      "select * from (values (2, 'B'), (4, 'D')) s(id, v)",
    )
    const run = deltaMerge(table, source, '--on', 'id', '--json')
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({
      version: 1,
      committed: true,
      numSourceRows: 2,
      numTargetRowsInserted: 1,
      numTargetRowsUpdated: 1,
      numTargetRowsDeleted: 0,
      numTargetRowsCopied: 2,
      numOutputRows: 4,
      numTargetFilesAdded: 2,
      numTargetFilesRemoved: 1,
    })
    expect(typeof run.json().executionTimeMs).toBe('number')
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'B' },
      { id: 3, v: 'c' },
      { id: 4, v: 'D' },
    ])
  })

  test('a Delta source, delete matched, delete not matched by source', async () => {
    const table = await target()
    const source = join(tempDir(), 'source')
    await createTable(source, [raw("select 2 as id, 'x' as v")])
    const run = deltaMerge(
      table,
      source,
      '--on',
      'id',
      '--when-matched',
      'ignore',
      '--when-not-matched',
      'ignore',
      '--when-not-matched-by-source',
      'delete',
    )
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('2 deleted')
    expect(await readRows(table, 'id')).toEqual([{ id: 2, v: 'b' }])
  })

  test('--merge-schema adds the source column', async () => {
    const table = await target()
    const source = await parquet(
      join(tempDir(), 's.parquet'),
      "select 3 as id, 'C' as v, true as flag",
    )
    const run = deltaMerge(table, source, '--on', 'id', '--merge-schema', '--json')
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({ columnsAdded: ['flag'] })
    expect((await loadSnapshot(table)).schema.fields.map((f) => f.name)).toEqual([
      'id',
      'v',
      'flag',
    ])
  })

  test('--merge-schema with --when-matched delete adds no column: delete writes none', async () => {
    const table = await target()
    const source = await parquet(join(tempDir(), 's.parquet'), "select 3 as id, 'delete' as _op")
    const run = deltaMerge(
      table,
      source,
      '--on',
      'id',
      '--when-matched',
      'delete',
      '--merge-schema',
      '--json',
    )
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({ columnsAdded: [] })
    expect((await loadSnapshot(table)).schema.fields.map((f) => f.name)).toEqual(['id', 'v'])
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ])
  })

  test('errors: bad clause value is a usage error; missing target and bad key exit 1, table unchanged', async () => {
    const table = await target()
    const source = await parquet(join(tempDir(), 's.parquet'), 'select 1 as id')
    const before = hashTree(table)
    expect(deltaMerge(table, source, '--on', 'id', '--when-matched', 'upsert').code).toBe(2)
    expect(deltaMerge(table, source).code).toBe(2)
    // Once a clause flag is given the others do nothing: ignoring the one given leaves no clause.
    expect(deltaMerge(table, source, '--on', 'id', '--when-matched', 'ignore').code).toBe(2)
    expect(deltaMerge(table, source, '--on', 'id', '--memory-limit', 'lots').code).toBe(2)
    const missing = deltaMerge(join(tempDir(), 'nope'), source, '--on', 'id', '--json')
    expect(missing.code).toBe(1)
    expect(missing.json()).toMatchObject({ error: { code: 'INPUT_NOT_FOUND' } })
    const badKey = deltaMerge(table, source, '--on', 'nope', '--when-matched', 'update-all')
    expect(badKey.code).toBe(1)
    expect(badKey.stderr).toContain('[KEY_COLUMN_MISSING]')
    // The library's hint names its field; the CLI renders it as this command's flag.
    expect(badKey.stderr).toContain('Set --on to columns both sides have.')
    expect(hashTree(table)).toEqual(before)
  })

  test("--merge-schema: a source column ACC is the table's Acc (names match case-insensitively); the table reads back", async () => {
    const table = join(tempDir(), 'target')
    await createTable(table, [
      raw('select id, Acc::double as Acc from (values (1, 0.5), (2, 0.6)) t(id, Acc)'),
    ])
    const source = await parquet(
      join(tempDir(), 's.parquet'),
      'select id, ACC::double as ACC, epochs from (values (2, 0.9, 7), (3, 0.7, 8)) s(id, ACC, epochs)',
    )
    const run = deltaMerge(table, source, '--on', 'id', '--merge-schema', '--json')
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ columnsAdded: ['epochs'] })
    expect((await loadSnapshot(table)).schema.fields.map((f) => f.name)).toEqual([
      'id',
      'Acc',
      'epochs',
    ])
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, Acc: 0.5, epochs: null },
      { id: 2, Acc: 0.9, epochs: 7 },
      { id: 3, Acc: 0.7, epochs: 8 },
    ])
  })

  test('--source reads CSV and JSON Lines as create and append do', async () => {
    for (const [name, text] of [
      ['updates.csv', 'id,v\n2,B\n4,D\n'],
      ['updates.jsonl', '{"id":2,"v":"B"}\n{"id":4,"v":"D"}\n'],
    ] as const) {
      const table = await target()
      const source = join(tempDir(), name)
      writeFileSync(source, text)
      const run = deltaMerge(table, source, '--on', 'id', '--json')
      expect(run.code, run.stderr).toBe(0)
      expect(run.json()).toMatchObject({ numTargetRowsUpdated: 1, numTargetRowsInserted: 1 })
      expect(await readRows(table, 'id')).toEqual([
        { id: 1, v: 'a' },
        { id: 2, v: 'B' },
        { id: 3, v: 'c' },
        { id: 4, v: 'D' },
      ])
    }
  })

  test("a source column whose type differs from the table's: SCHEMA_MISMATCH naming it and both types, table unchanged", async () => {
    const table = await target()
    const source = await parquet(join(tempDir(), 's.parquet'), 'select 2 as id, 42 as v')
    const before = hashTree(table)
    const run = deltaMerge(table, source, '--on', 'id', '--json')
    expect(run.code).toBe(1)
    const { error } = run.json<{ error: { code: string; message: string } }>()
    expect(error.code).toBe('SCHEMA_MISMATCH')
    expect(error.message).toContain('column "v" is integer in the source but string in the table')
    expect(hashTree(table)).toEqual(before)
  })
})
