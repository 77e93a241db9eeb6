import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { tempDir } from '../support/temp.js'

async function parquet(path: string, query: string): Promise<void> {
  const db = await DuckDb.open()
  try {
    await db.run(sql`COPY (${raw(query)}) TO ${literal(path)} (FORMAT parquet)`)
  } finally {
    db.close()
  }
}

function cli(root: string, ...args: string[]) {
  return runCli([...args, '--root', root, '--json'])
}

describe('duckmerge dataset', () => {
  test('create, list, show, rows at a version, and metadata synced after an outside commit', async () => {
    const dir = tempDir()
    const root = join(dir, 'root')
    await parquet(
      join(dir, 'products.parquet'),
      "select (10 - i)::bigint as id, 'p' || i as name, (i * 2.5)::double as price from range(10) t(i)",
    )
    const created = cli(
      root,
      'dataset',
      'create',
      'products',
      '--from',
      join(dir, 'products.parquet'),
      '--key',
      'id',
    )
    expect(created.code, created.stderr).toBe(0)
    expect(created.json()).toMatchObject({
      id: 1,
      name: 'products',
      key_columns: ['id'],
      current_version: 0,
      row_count: 10,
      schema: [
        { name: 'id', type: 'BIGINT', nullable: false, key: true },
        { name: 'name', type: 'VARCHAR', nullable: true, key: false },
        { name: 'price', type: 'DOUBLE', nullable: true, key: false },
      ],
    })
    // Paths come from ids only: the table lives under datasets/1/table.
    expect(
      existsSync(join(root, 'datasets', '1', 'table', '_delta_log', '00000000000000000000.json')),
    ).toBe(true)
    expect(readdirSync(join(root, 'datasets', '1'))).toEqual(['table'])

    const listed = cli(root, 'dataset', 'list')
    expect(listed.json<{ datasets: { name: string }[] }>().datasets.map((d) => d.name)).toEqual([
      'products',
    ])

    const rows = runCli(['dataset', 'rows', 'products', '--limit', '3', '--root', root])
    expect(rows.code, rows.stderr).toBe(0)
    expect(
      rows.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { id: 1, name: 'p9', price: 22.5 },
      { id: 2, name: 'p8', price: 20 },
      { id: 3, name: 'p7', price: 17.5 },
    ])
    const csv = runCli([
      'dataset',
      'rows',
      'products',
      '--limit',
      '2',
      '--format',
      'csv',
      '--root',
      root,
    ])
    expect(csv.stdout).toBe('id,name,price\n1,p9,22.5\n2,p8,20.0\n')

    // Another writer appends to the Delta table: the dataset follows its head when opened.
    writeFileSync(join(dir, 'more.csv'), 'id,name,price\n11,extra,1.5\n')
    const appended = runCli([
      'delta',
      'append',
      join(root, 'datasets', '1', 'table'),
      '--from',
      join(dir, 'more.csv'),
    ])
    expect(appended.code, appended.stderr).toBe(0)
    const shown = cli(root, 'dataset', 'show', 'products')
    expect(shown.json()).toMatchObject({ current_version: 1, row_count: 11 })
    const v0 = cli(root, 'dataset', 'rows', 'products', '--version', '0')
    expect(v0.json<{ rows: unknown[] }>().rows).toHaveLength(10)
    const v9 = cli(root, 'dataset', 'rows', 'products', '--version', '9')
    expect(v9.code).toBe(1)
    expect(v9.json()).toMatchObject({ error: { code: 'VERSION_NOT_FOUND' } })
  })

  test('DELTA_DATA_ROOT selects the root when --root is absent', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.csv'), 'k,v\n1,x\n2,y\n')
    const env = { DELTA_DATA_ROOT: join(dir, 'env-root') }
    const created = runCli(
      ['dataset', 'create', 'a', '--from', join(dir, 'a.csv'), '--key', 'k', '--json'],
      { env, cwd: dir },
    )
    expect(created.code, created.stderr).toBe(0)
    expect(existsSync(join(dir, 'env-root', 'duckmerge.db'))).toBe(true)
    const noEnv = runCli(['dataset', 'list', '--json'], { cwd: dir, env: { DELTA_DATA_ROOT: '' } })
    expect(noEnv.json()).toEqual({ datasets: [] })
    expect(existsSync(join(dir, 'duckmerge-data', 'duckmerge.db'))).toBe(true)
  })

  test('keys must exist, be unique and not null; names must be safe: clear errors, nothing created', async () => {
    const dir = tempDir()
    const root = join(dir, 'root')
    writeFileSync(join(dir, 'dup.csv'), 'id,v\n1,a\n2,b\n2,c\n3,d\n3,e\n3,f\n')
    writeFileSync(join(dir, 'nulls.csv'), 'id,v\n1,a\n,b\n')
    writeFileSync(join(dir, 'bad-names.csv'), 'id,_op,a b\n1,x,y\n')

    const dup = cli(root, 'dataset', 'create', 'd', '--from', join(dir, 'dup.csv'), '--key', 'id')
    expect(dup.code).toBe(1)
    expect(dup.json()).toMatchObject({
      error: {
        code: 'DUPLICATE_KEY',
        details: {
          keys: 2,
          sample_keys: [
            { key: { id: '3' }, rows: 3 },
            { key: { id: '2' }, rows: 2 },
          ],
        },
      },
    })
    expect(dup.stderr).toContain('2 key(s) of id appear on more than one row')

    const nulls = cli(
      root,
      'dataset',
      'create',
      'd',
      '--from',
      join(dir, 'nulls.csv'),
      '--key',
      'id',
    )
    expect(nulls.json()).toMatchObject({ error: { code: 'NULL_KEY', details: { rows: 1 } } })

    const missing = cli(
      root,
      'dataset',
      'create',
      'd',
      '--from',
      join(dir, 'dup.csv'),
      '--key',
      'sku',
    )
    expect(missing.json()).toMatchObject({ error: { code: 'KEY_COLUMN_MISSING' } })
    expect(missing.stderr).toContain(
      'has no key column "sku" (columns: id, v). Choose --key from the columns of the file.',
    )

    const names = cli(
      root,
      'dataset',
      'create',
      'd',
      '--from',
      join(dir, 'bad-names.csv'),
      '--key',
      'id',
    )
    const issues = names.json<{
      error: { details: { issues: { path: string[]; code: string }[] } }
    }>().error.details.issues
    expect(issues.map((i) => [i.path[0], i.code])).toEqual([
      ['_op', 'reserved_name'],
      ['a b', 'forbidden_character'],
    ])

    const traversal = cli(
      root,
      'dataset',
      'create',
      '../../etc',
      '--from',
      join(dir, 'dup.csv'),
      '--key',
      'v',
    )
    expect(traversal.json()).toMatchObject({
      error: { code: 'VALIDATION_FAILED', details: { reason: 'invalid_name' } },
    })

    expect(cli(root, 'dataset', 'list').json()).toEqual({ datasets: [] })
    expect(existsSync(join(root, 'datasets'))).toBe(false)
  })

  test.skipIf(!hasFixtures)(
    needsFixtures('a Spark-written Delta table becomes a dataset (read in place)'),
    () => {
      const root = join(tempDir(), 'root')
      const created = cli(
        root,
        'dataset',
        'create',
        'simple',
        '--from',
        fixture('delta', 'simple_table'),
        '--key',
        'id',
      )
      expect(created.code, created.stderr).toBe(0)
      expect(created.json()).toMatchObject({
        current_version: 0,
        row_count: 3,
        schema: [{ name: 'id', key: true }],
      })
      const rows = cli(root, 'dataset', 'rows', 'simple')
      expect(rows.json<{ rows: { id: number }[] }>().rows.map((r) => Number(r.id))).toEqual([
        5, 7, 9,
      ])
    },
  )

  test('rules: set from a JSON file, listed back; a bad file is refused naming every problem', async () => {
    const dir = tempDir()
    const root = join(dir, 'root')
    writeFileSync(join(dir, 'a.csv'), 'id,price,status\n1,2.5,new\n')
    expect(
      cli(root, 'dataset', 'create', 'a', '--from', join(dir, 'a.csv'), '--key', 'id').code,
    ).toBe(0)
    const good = [
      { name: 'price present', type: 'not_null', column: 'price' },
      {
        name: 'status known',
        type: 'in_set',
        column: 'status',
        values: ['new', 'old'],
        severity: 'warn',
      },
    ]
    writeFileSync(join(dir, 'rules.json'), JSON.stringify(good))
    const set = cli(root, 'dataset', 'rules', 'a', '--set', join(dir, 'rules.json'))
    expect(set.code, set.stderr).toBe(0)
    expect(set.json()).toEqual({
      dataset: 'a',
      rules: [
        { name: 'price present', type: 'not_null', column: 'price', severity: 'error' },
        {
          name: 'status known',
          type: 'in_set',
          column: 'status',
          values: ['new', 'old'],
          severity: 'warn',
        },
      ],
    })
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify([
        { name: 'x', type: 'not_null', column: 'nope' },
        { name: 'y', type: 'regex', column: 'status', pattern: '(' },
      ]),
    )
    const bad = cli(root, 'dataset', 'rules', 'a', '--set', join(dir, 'bad.json'))
    expect(bad.code).toBe(1)
    const issues = bad.json<{ error: { details: { issues: { code: string }[] } } }>().error.details
      .issues
    expect(issues.map((i) => i.code)).toEqual(['unknown_column', 'invalid_rule'])
    expect(
      cli(root, 'dataset', 'rules', 'a', '--list').json<{ rules: unknown[] }>().rules,
    ).toHaveLength(2)
  })
})
