import fc from 'fast-check'
import { afterAll, describe, expect, test } from 'vitest'
import { type ModelRow, threeWayModel } from '../../test/support/three-way-model.js'
import type { Connection } from '../engine/dialect.js'
import { DuckDb } from '../engine/duckdb.js'
import { DuckDbConnection } from '../engine/duckdb-dialect.js'
import { ident, identList, join, sql } from '../engine/sql.js'
import { openSqlite } from '../engine/sqlite.js'
import { SqliteConnection } from '../engine/sqlite-dialect.js'
import { isDuckmergeError } from '../errors.js'
import { applyThreeWay, mergedRows, threeWayMerge } from './three-way.js'
import type { MergeRule, Relation, Resolution, Side } from './three-way-types.js'

interface Engine {
  readonly name: string
  open(): Promise<{ connection: Connection; schema: string }>
}

// One connection per engine for the whole file: opening DuckDB per case costs more than a case.
const shared = new Map<string, Promise<{ connection: Connection; schema: string }>>()
const once = (name: string, open: () => Promise<{ connection: Connection; schema: string }>) => {
  if (!shared.has(name)) shared.set(name, open())
  return shared.get(name) as Promise<{ connection: Connection; schema: string }>
}
afterAll(async () => {
  for (const s of shared.values()) await (await s).connection.close()
})

const engines: Engine[] = [
  {
    name: 'duckdb',
    open: () =>
      once('duckdb', async () => ({
        connection: new DuckDbConnection(await DuckDb.open()),
        schema: 'memory',
      })),
  },
  {
    name: 'sqlite',
    open: () =>
      once('sqlite', async () => ({
        connection: new SqliteConnection(openSqlite(':memory:', { fileMustExist: false })),
        schema: 'main',
      })),
  },
]

type Rows = readonly Record<string, number | string | null>[]

async function load(
  connection: Connection,
  schema: string,
  name: string,
  columns: Readonly<Record<string, string>>,
  rows: Rows,
) {
  const names = Object.keys(columns)
  await connection.run(
    sql`create table ${ident(schema)}.${ident(name)} (${join(
      names.map(
        (c) => sql`${ident(c)} ${sql([columns[c] as string] as unknown as TemplateStringsArray)}`,
      ),
    )})`,
  )
  for (const row of rows)
    await connection.run(
      sql`insert into ${ident(schema)}.${ident(name)} (${identList(names)}) values (${join(
        names.map((c) => sql`${row[c] ?? null}`),
      )})`,
    )
}

interface Case {
  readonly base: Rows | undefined
  readonly ours: Rows
  readonly theirs: Rows
  readonly columns?: {
    base?: Record<string, string>
    ours?: Record<string, string>
    theirs?: Record<string, string>
  }
  readonly rule?: MergeRule
  readonly take?: Side
  readonly resolutions?: readonly Resolution[]
}

const DEFAULT = { id: 'INTEGER', a: 'INTEGER', b: 'VARCHAR' }

async function merge3(engine: Engine, c: Case) {
  const { connection, schema } = await engine.open()
  try {
    const rel = (name: string): Relation => ({ schema, name })
    if (c.base) await load(connection, schema, 'base', c.columns?.base ?? DEFAULT, c.base)
    await load(connection, schema, 'ours', c.columns?.ours ?? DEFAULT, c.ours)
    await load(connection, schema, 'theirs', c.columns?.theirs ?? DEFAULT, c.theirs)
    await load(connection, schema, 'target', c.columns?.ours ?? DEFAULT, c.ours)
    const { plan, conflicts } = await threeWayMerge({
      connection,
      table: 't',
      base: c.base ? rel('base') : undefined,
      ours: rel('ours'),
      theirs: rel('theirs'),
      key: ['id'],
      ...(c.rule ? { rule: c.rule } : {}),
      ...(c.take ? { take: c.take } : {}),
      ...(c.resolutions ? { resolutions: c.resolutions } : {}),
    })
    let merged: Record<string, unknown>[] | undefined
    let preview: Record<string, unknown>[] | undefined
    if (!plan.hasConflicts) {
      preview = await connection.all(
        sql`select * from (${mergedRows(plan, rel('ours'))}) order by id`,
      )
      await applyThreeWay(connection, plan, rel('target'))
      merged = await connection.all(sql`select * from ${ident(schema)}."target" order by id`)
    }
    await plan.dispose()
    const plain = (rows: Record<string, unknown>[] | undefined) =>
      rows?.map((r) =>
        Object.fromEntries(
          Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]),
        ),
      )
    return { plan, conflicts, merged: plain(merged), preview: plain(preview) }
  } finally {
    for (const name of ['base', 'ours', 'theirs', 'target'])
      await connection.run(sql`drop table if exists ${ident(schema)}.${ident(name)}`)
  }
}

const r = (id: number, a: number | null, b: string | null = 'x') => ({ id, a, b })

describe.each(engines)('three-way merge ($name)', (engine) => {
  test.each<Case & { name: string; merged?: Rows; conflict?: string }>([
    {
      name: 'both change different cells',
      base: [r(1, 1, 'x')],
      ours: [r(1, 2, 'x')],
      theirs: [r(1, 1, 'y')],
      merged: [r(1, 2, 'y')],
    },
    {
      name: 'same change on both sides',
      base: [r(1, 1)],
      ours: [r(1, 5)],
      theirs: [r(1, 5)],
      merged: [r(1, 5)],
    },
    {
      name: 'added on either side kept',
      base: [r(1, 1)],
      ours: [r(1, 1), r(2, 2)],
      theirs: [r(1, 1), r(3, 3)],
      merged: [r(1, 1), r(2, 2), r(3, 3)],
    },
    {
      name: 'deleted on one side, untouched on the other',
      base: [r(1, 1), r(2, 2)],
      ours: [r(1, 1), r(2, 2)],
      theirs: [r(1, 1)],
      merged: [r(1, 1)],
    },
    {
      name: 'deleted on both sides',
      base: [r(1, 1), r(2, 2)],
      ours: [r(1, 1)],
      theirs: [r(1, 1)],
      merged: [r(1, 1)],
    },
    {
      name: 'same cell changed differently',
      base: [r(1, 1)],
      ours: [r(1, 2)],
      theirs: [r(1, 3)],
      conflict: 'cell',
    },
    {
      name: 'ours deletes, theirs updates',
      base: [r(1, 1)],
      ours: [],
      theirs: [r(1, 2)],
      conflict: 'delete-update',
    },
    {
      name: 'different cells under the row rule',
      base: [r(1, 1, 'x')],
      ours: [r(1, 2, 'x')],
      theirs: [r(1, 1, 'y')],
      rule: 'row',
      conflict: 'row',
    },
    {
      name: 'same new key with different values',
      base: [],
      ours: [r(1, 1)],
      theirs: [r(1, 2)],
      conflict: 'add-add',
    },
    {
      name: 'take theirs settles a cell conflict',
      base: [r(1, 1, 'x')],
      ours: [r(1, 2, 'y')],
      theirs: [r(1, 3, 'x')],
      take: 'theirs',
      merged: [r(1, 3, 'y')],
    },
    {
      name: 'take theirs on delete-update deletes',
      base: [r(1, 1), r(2, 2)],
      ours: [r(1, 9), r(2, 2)],
      theirs: [r(2, 2)],
      take: 'theirs',
      merged: [r(2, 2)],
    },
    {
      name: 'per-cell resolution with a value',
      base: [r(1, 1), r(2, 1)],
      ours: [r(1, 2), r(2, 2)],
      theirs: [r(1, 3), r(2, 1)],
      resolutions: [{ key: { id: 1 }, column: 'a', value: 42 }],
      merged: [r(1, 42), r(2, 2)],
    },
    {
      name: 'per-key resolution taking theirs',
      base: [r(1, 1, 'x')],
      ours: [r(1, 2, 'y')],
      theirs: [r(1, 3, 'x')],
      resolutions: [{ key: { id: 1 }, take: 'theirs' }],
      merged: [r(1, 3, 'y')],
    },
    {
      name: 'NULL equals NULL: set to NULL on one side only',
      base: [r(1, 1, null)],
      ours: [r(1, null, null)],
      theirs: [r(1, 1, 'z')],
      merged: [r(1, null, 'z')],
    },
    {
      name: 'table added on both sides',
      base: undefined,
      ours: [r(1, 1)],
      theirs: [r(1, 1), r(2, 2)],
      merged: [r(1, 1), r(2, 2)],
    },
  ])('$name', async (c) => {
    const result = await merge3(engine, c)
    if (c.conflict) {
      expect(result.plan.hasConflicts).toBe(true)
      expect(result.conflicts.map((x) => x.kind)).toContain(c.conflict)
      expect(result.conflicts[0]).toMatchObject({ table: 't', key: { id: 1 } })
    } else {
      expect(result.plan.hasConflicts).toBe(false)
      expect(result.merged).toEqual(c.merged)
      expect(result.preview).toEqual(c.merged)
    }
  })

  test('a cell conflict carries base, ours and theirs', async () => {
    const { conflicts, plan } = await merge3(engine, {
      base: [r(1, 1, 'x'), r(2, 1)],
      ours: [r(1, 2, 'x'), r(2, 1)],
      theirs: [r(1, 3, 'x')],
    })
    expect(conflicts).toEqual([
      { kind: 'cell', table: 't', key: { id: 1 }, column: 'a', base: 1, ours: 2, theirs: 3 },
    ])
    expect(plan).toMatchObject({
      ours: { added: 0, deleted: 0, changed: 1 },
      theirs: { added: 0, deleted: 1, changed: 1 },
      conflictCount: 1,
      unresolved: 1,
    })
  })

  test('columns added on either side are unioned; a side without a column keeps base', async () => {
    const result = await merge3(engine, {
      base: [r(1, 1)],
      ours: [{ id: 1, a: 1, b: 'x', lr: 0.1 }],
      theirs: [
        { id: 1, a: 7, b: 'x', seed: 3 },
        { id: 2, a: 2, b: 'x', seed: 4 },
      ],
      columns: {
        ours: { ...DEFAULT, lr: 'DOUBLE' },
        theirs: { ...DEFAULT, seed: 'INTEGER' },
      },
    })
    expect(result.merged).toEqual([
      { id: 1, a: 7, b: 'x', lr: 0.1, seed: 3 },
      { id: 2, a: 2, b: 'x', lr: null, seed: 4 },
    ])
  })

  test('the same new column with different types is a conflict', async () => {
    const result = await merge3(engine, {
      base: [r(1, 1)],
      ours: [{ id: 1, a: 1, b: 'x', n: 1 }],
      theirs: [{ id: 1, a: 1, b: 'x', n: 'one' }],
      columns: { ours: { ...DEFAULT, n: 'INTEGER' }, theirs: { ...DEFAULT, n: 'VARCHAR' } },
    })
    expect(result.conflicts).toContainEqual({
      kind: 'column-type',
      table: 't',
      column: 'n',
      base: null,
      ours: 'INTEGER',
      theirs: 'VARCHAR',
    })
  })

  test('a resolution naming an unknown column fails naming it', async () => {
    const error = await merge3(engine, {
      base: [r(1, 1)],
      ours: [r(1, 2)],
      theirs: [r(1, 3)],
      resolutions: [{ key: { id: 1 }, column: 'nope', take: 'ours' }],
    }).catch((e: unknown) => e)
    expect(isDuckmergeError(error, 'COLUMN_NOT_FOUND')).toBe(true)
  })
})

const cell = fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 3 }))
const rowsArb = fc
  .uniqueArray(fc.record({ id: fc.integer({ min: 1, max: 8 }), a: cell, c: cell }), {
    selector: (x) => x.id,
    maxLength: 6,
  })
  .map((rows) => rows.map((x) => ({ id: x.id, a: x.a, b: x.c === null ? null : String(x.c) })))

describe.each(engines)('three-way property ($name)', (engine) => {
  test('merged table and conflicts equal the JS model', async () => {
    await fc.assert(
      fc.asyncProperty(
        rowsArb,
        rowsArb,
        rowsArb,
        fc.constantFrom<MergeRule>('cell', 'row'),
        fc.constantFrom<Side>('ours', 'theirs'),
        async (base, ours, theirs, rule, take) => {
          const model = threeWayModel(
            base as ModelRow[],
            ours as ModelRow[],
            theirs as ModelRow[],
            ['a', 'b'],
            rule,
            take,
          )
          const unsettled = await merge3(engine, { base, ours, theirs, rule })
          const key = (x: { id: number; kind: string; column?: string }) =>
            `${x.id}/${x.kind}/${x.column ?? ''}`
          expect(
            unsettled.conflicts
              .map((x) =>
                key({
                  id: Number('key' in x ? x.key.id : 0),
                  kind: x.kind,
                  ...('column' in x ? { column: x.column } : {}),
                }),
              )
              .sort(),
          ).toEqual(model.conflicts.map((x) => key(x)).sort())
          const settled = await merge3(engine, { base, ours, theirs, rule, take })
          expect(settled.merged).toEqual(model.merged.map((x) => ({ id: x.id, a: x.a, b: x.b })))
        },
      ),
      { numRuns: 60 },
    )
  }, 120_000)
})
