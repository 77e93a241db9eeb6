/** SQLite → DuckDB migration through the library: every xetrack fixture, then each loose-typing case. */
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  type MigratedTable,
  type MigrationReport,
  mergeResults,
  migrateSqliteToDuckDb,
} from '../../src/index.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { duckRows, sqliteRows } from './migrate-support.js'

const xetrack = [
  'a_base_e0.1.0.db',
  'b_sweep_e0.2.0.db',
  'c_extra_param_e0.3.0.db',
  'd_rebase_e0.1.0_corrected.db',
  'e_quirks_default_table.db',
]

function table(report: MigrationReport, name: string): MigratedTable {
  const t = report.tables.find((x) => x.name === name)
  if (!t) throw new Error(`no table ${name} in report`)
  return t
}

function column(report: MigrationReport, t: string, c: string) {
  const found = table(report, t).columns.find((x) => x.name === c)
  if (!found) throw new Error(`no column ${t}.${c}`)
  return found
}

describe.skipIf(!hasFixtures)(needsFixtures('xetrack fixtures'), () => {
  test.each(xetrack)(
    '%s: every table, every row, checksums equal, source untouched',
    async (name) => {
      const source = fixture('xetrack', name)
      const before = hashTree(source)
      const target = join(tempDir(), 'out.duckdb')
      const report = await migrateSqliteToDuckDb({ source, target })
      expect(hashTree(source)).toEqual(before)
      const tables = sqliteRows(
        source,
        `select name from sqlite_schema where type = 'table' and name not like 'sqlite_%' order by name`,
      ).map((r) => String(r.name))
      expect(report.tables.map((t) => t.name).sort()).toEqual(tables)
      for (const t of report.tables) {
        const [count] = sqliteRows(source, `select count(*) as n from "${t.name}"`)
        expect(t.rowsRead).toBe(count?.n)
        expect(t.rowsWritten).toBe(count?.n)
        expect(t.checksum).toMatchObject({ matches: true })
        const [duck] = await duckRows(target, `select count(*)::INTEGER as n from "${t.name}"`)
        expect(duck?.n).toBe(count?.n)
      }
      // The (track_id, timestamp) key survives as DuckDB's primary key.
      const keys = await duckRows(
        target,
        `select table_name, constraint_column_names::VARCHAR as cols from duckdb_constraints() where constraint_type = 'PRIMARY KEY' order by table_name`,
      )
      const events = name.startsWith('e_') ? ['default'] : ['metrics', 'predictions']
      for (const t of events)
        expect(keys.find((k) => k.table_name === t)?.cols).toBe('[track_id, timestamp]')
      expect(existsBeside(target)).toEqual([])
    },
  )

  test('sums, values and types match the manifest (a: SUM(accuracy) 30.0; e: quirks kept)', async () => {
    const dir = tempDir()
    const a = join(dir, 'a.duckdb')
    await migrateSqliteToDuckDb({ source: fixture('xetrack', xetrack[0] as string), target: a })
    expect(
      await duckRows(
        a,
        'select sum(accuracy) as s, count(distinct track_id)::INTEGER as runs from predictions',
      ),
    ).toEqual([{ s: 30, runs: 1 }])
    const e = join(dir, 'e.duckdb')
    const report = await migrateSqliteToDuckDb({
      source: fixture('xetrack', 'e_quirks_default_table.db'),
      target: e,
    })
    expect(column(report, 'default', '7')).toMatchObject({ declaredType: 'TEXT', type: 'VARCHAR' })
    expect(column(report, 'default', 'ok')).toMatchObject({ type: 'BIGINT', nulls: 3 })
    expect(column(report, 'assets', 'value')).toMatchObject({ type: 'BLOB' })
    // The text column that received floats as text keeps them as written.
    const source = sqliteRows(
      fixture('xetrack', 'e_quirks_default_table.db'),
      'select note, tags, "7" from "default" order by rowid',
    )
    const target = await duckRows(e, 'select note, tags, "7" from "default" order by rowid')
    expect(target).toEqual(source)
  })

  test('migrated a and b merge with results merge (60 + 40 predictions)', async () => {
    const dir = tempDir()
    const a = join(dir, 'a.duckdb')
    const b = join(dir, 'b.duckdb')
    await migrateSqliteToDuckDb({ source: fixture('xetrack', 'a_base_e0.1.0.db'), target: a })
    await migrateSqliteToDuckDb({ source: fixture('xetrack', 'b_sweep_e0.2.0.db'), target: b })
    const out = join(dir, 'merged.duckdb')
    const merged = await mergeResults({ ours: a, theirs: b, output: out })
    expect(merged.rowsInserted).toBe(63)
    expect(
      await duckRows(out, 'select count(*)::INTEGER as n, sum(accuracy) as s from predictions'),
    ).toEqual([{ n: 100, s: 82 }])
  })
})

function existsBeside(target: string): string[] {
  const dir = join(target, '..')
  return Object.keys(hashTree(dir)).filter((f) => f !== 'out.duckdb')
}
