/** queries.ts's SQL run by DuckDB over plain tables standing in for the Delta source and target. */
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { DuckDb } from '../../../../engine/duckdb.js'
import { ident, raw, sql } from '../../../../engine/sql.js'
import type { MergeClause } from './clauses.js'
import {
  bySourceChangesSql,
  insertsSql,
  keyCondition,
  type MergeQueries,
  matchedPairsSql,
  rewriteSql,
} from './queries.js'

let db: DuckDb
beforeEach(async () => {
  db = await DuckDb.open()
})
afterEach(() => db.close())

type Row = { id: number | null; v: string | null }

/** Target rows go into files of two rows each ('f0', 'f1', …), like a table of small files. */
async function runPlan(target: Row[], source: Row[], clauses: MergeClause[]) {
  await db.run(
    raw('create table tgt (id integer, v varchar, __delta_file varchar, __delta_row_index bigint)'),
  )
  await db.run(raw('create table src (id integer, v varchar)'))
  for (const [i, r] of target.entries())
    await db.run(
      sql`insert into tgt values (${r.id}, ${r.v}, ${`f${Math.floor(i / 2)}`}, ${i % 2})`,
    )
  for (const r of source) await db.run(sql`insert into src values (${r.id}, ${r.v})`)
  const input: MergeQueries = {
    columns: [
      { name: 'id', type: 'INTEGER' },
      { name: 'v', type: 'VARCHAR' },
    ],
    targetColumns: ['id', 'v'],
    sourceColumns: ['id', 'v'],
    sourceAlias: 's',
    targetAlias: 't',
    on: keyCondition(['id'], 's', 't'),
    clauses,
    source: ident('src'),
    target: ident('tgt'),
    targetRows: ident('tgt'),
  }
  await db.run(sql`create table pairs as ${matchedPairsSql(input)}`)
  await db.run(
    sql`create table changes as select * from pairs where __dm_clause is not null union all ${bySourceChangesSql(input)}`,
  )
  await db.run(
    sql`create table touched as select * from tgt where __delta_file in (select __dm_file from changes)`,
  )
  const rows = await db.all<Row>(
    sql`select id, v from (${rewriteSql(input, ident('touched'))}
      union all select id, v from tgt where __delta_file not in (select __dm_file from changes)
      union all select id, v from (${insertsSql(input)})) order by id nulls first, v`,
  )
  const files = await db.all<{ f: string }>(
    raw('select distinct __dm_file as f from changes order by f'),
  )
  return { rows, touched: files.map((f) => f.f) }
}

const r = (id: number | null, v: string | null): Row => ({ id, v })

describe('merge plan SQL', () => {
  test.each<{
    name: string
    target: Row[]
    source: Row[]
    clauses: MergeClause[]
    result: Row[]
    touched?: string[]
  }>([
    {
      name: 'update all from the source',
      target: [r(1, 'a'), r(2, 'b')],
      source: [r(2, 'B')],
      clauses: [{ kind: 'matched', action: 'update', set: 'all' }],
      result: [r(1, 'a'), r(2, 'B')],
    },
    {
      name: 'a conditional update leaves rows whose condition fails',
      target: [r(1, 'a'), r(2, 'b'), r(3, 'c'), r(4, 'd')],
      source: [r(1, 'x'), r(3, 'y')],
      clauses: [
        { kind: 'matched', action: 'update', set: { v: "s.v || '!'" }, condition: 't.id > 2' },
      ],
      result: [r(1, 'a'), r(2, 'b'), r(3, 'y!'), r(4, 'd')],
      touched: ['f1'],
    },
    {
      name: 'the first matching clause wins',
      target: [r(1, 'a'), r(2, 'b')],
      source: [r(1, 'x'), r(2, 'y')],
      clauses: [
        { kind: 'matched', action: 'delete', condition: 't.id = 1' },
        { kind: 'matched', action: 'update', set: { v: "'second'" } },
      ],
      result: [r(2, 'second')],
    },
    {
      name: 'insert only where the condition holds',
      target: [r(1, 'a')],
      source: [r(2, 'keep'), r(3, 'drop')],
      clauses: [{ kind: 'notMatched', action: 'insert', values: 'all', condition: "s.v = 'keep'" }],
      result: [r(1, 'a'), r(2, 'keep')],
      touched: [],
    },
    {
      name: 'not matched by source: update then delete',
      target: [r(1, 'a'), r(2, 'b'), r(3, 'c')],
      source: [r(3, 'z')],
      clauses: [
        {
          kind: 'notMatchedBySource',
          action: 'update',
          set: { v: "'gone'" },
          condition: 't.id = 1',
        },
        { kind: 'notMatchedBySource', action: 'delete' },
      ],
      result: [r(1, 'gone'), r(3, 'c')],
    },
    {
      name: 'NULL keys never match: the source row is inserted, the target row stays',
      target: [r(null, 'target')],
      source: [r(null, 'source')],
      clauses: [
        { kind: 'matched', action: 'update', set: 'all' },
        { kind: 'notMatched', action: 'insert', values: 'all' },
      ],
      result: [r(null, 'source'), r(null, 'target')],
      touched: [],
    },
  ])('$name', async (c) => {
    const { rows, touched } = await runPlan(c.target, c.source, c.clauses)
    expect(rows).toEqual(c.result)
    if (c.touched) expect(touched).toEqual(c.touched)
  })

  test('oracle shape: update matched, insert new, delete not matched by source below 10', async () => {
    const target = Array.from({ length: 20 }, (_, i) => r(i, `val=${i}`))
    const source = Array.from({ length: 20 }, (_, i) => r(i + 10, null))
    const { rows } = await runPlan(target, source, [
      { kind: 'matched', action: 'update', set: { v: "'N/A'" } },
      { kind: 'notMatched', action: 'insert', values: { id: 's.id', v: "'EXT'" } },
      { kind: 'notMatchedBySource', action: 'delete', condition: 't.id < 5' },
    ])
    expect(rows).toEqual([
      ...[5, 6, 7, 8, 9].map((i) => r(i, `val=${i}`)),
      ...Array.from({ length: 10 }, (_, i) => r(i + 10, 'N/A')),
      ...Array.from({ length: 10 }, (_, i) => r(i + 20, 'EXT')),
    ])
  })
})
