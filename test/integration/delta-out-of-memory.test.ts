/**
 * Good inputs, too little memory (issue 14): `delta merge` and `delta backfill` past their
 * --memory-limit fail with OUT_OF_MEMORY naming the table and the flag (exit 1, not 70), and the
 * table is unchanged.
 */
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { literal, sql } from '../../src/engine/sql.js'
import { createTable } from '../../src/formats/delta/index.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

async function tables(dir: string): Promise<{ main: string; staging: string; updates: string }> {
  const updates = join(dir, 'updates.parquet')
  const rows = (from: number) =>
    sql`select i::bigint as id, repeat('x', 50) || i as v from range(${from}, ${from + 300_000}) t(i)`
  await withDuckDb({}, (db) =>
    db.run(sql`copy (${rows(150_000)}) to ${literal(updates)} (format parquet)`),
  )
  const main = join(dir, 'main')
  const staging = join(dir, 'staging')
  await createTable({ path: main, source: { query: rows(0) } })
  await createTable({ path: staging, source: { file: updates } })
  return { main, staging, updates }
}

test.each([
  [
    'merge',
    (t: { main: string; updates: string }) => [
      'delta',
      'merge',
      t.main,
      '--source',
      t.updates,
      '--on',
      'id',
    ],
  ],
  [
    'backfill',
    (t: { main: string; staging: string }) => [
      'delta',
      'backfill',
      '--main',
      t.main,
      '--staging',
      t.staging,
      '--keys',
      'id',
    ],
  ],
] as const)(
  'delta %s past --memory-limit: OUT_OF_MEMORY naming the flag, table unchanged',
  async (_, args) => {
    const dir = tempDir()
    const t = await tables(dir)
    const before = hashTree(dir)
    const r = runCli([...args(t), '--memory-limit', '5MB', '--json'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      '[OUT_OF_MEMORY]: DuckDB reached its memory limit writing Delta table',
    )
    expect(r.stderr).toContain('Raise --memory-limit')
    expect(r.json()).toMatchObject({ error: { code: 'OUT_OF_MEMORY' } })
    expect(hashTree(dir)).toEqual(before)
  },
)
