/** Delta MERGE end to end on real tables: Spark's oracle, clause semantics, pruning, failures. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { type DuckDb, withDuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, type Sql, sql } from '../../src/engine/sql.js'
import {
  createTable as createDeltaTable,
  loadSnapshot,
  merge,
  readCommit,
} from '../../src/formats/delta/index.js'
import {
  applyMerge,
  type WriteAhead,
  writeAhead,
} from '../../src/formats/delta/operations/merge/apply.js'
import type { MergeClause } from '../../src/formats/delta/operations/merge/clauses.js'
import { planMerge } from '../../src/formats/delta/operations/merge/plan.js'
import { withMergeSession } from '../../src/formats/delta/operations/merge/session.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { appendFiles, copyTable, createTable, readRows } from './delta-merge.helpers.js'

describe.skipIf(!hasFixtures)(needsFixtures('Spark MERGE oracle'), () => {
  test('basic-with-inserts-merge from version 0 gives Spark rows and metrics', async () => {
    const table = copyTable(fixture('delta', 'basic-with-inserts-merge'), join(tempDir(), 't'), 0)
    // spark.range(50, 150) as the source; the same three clauses as the fixture's MERGE.
    const result = await merge(table, sql`select range as id from range(50, 150)`, {
      on: ['id'],
      sourceAlias: 'source',
      targetAlias: 't',
    })
      .whenMatchedUpdate({ str: "'N/A'" })
      .whenNotMatchedInsert({ id: 'source.id', str: "'EXT'" })
      .whenNotMatchedBySourceDelete('t.id < 10')
      .execute()

    expect(result.version).toBe(1)
    expect(result.metrics).toMatchObject({
      numSourceRows: 100,
      numTargetRowsUpdated: 50,
      numTargetRowsInserted: 50,
      numTargetRowsDeleted: 10,
      numTargetRowsCopied: 40,
      numOutputRows: 140,
      numTargetFilesRemoved: 2,
      // Spark wrote the rewrite and the inserts into 1 file; we write inserts to their own file.
      numTargetFilesAdded: 2,
      numTargetRowsMatchedUpdated: 50,
      numTargetRowsNotMatchedBySourceDeleted: 10,
    })
    const rows = await readRows<{ id: number; str: string }>(table, 'id')
    expect(rows).toHaveLength(140)
    expect(rows.slice(0, 40)).toEqual(
      Array.from({ length: 40 }, (_, i) => ({ id: i + 10, str: `val=${i + 10}` })),
    )
    expect(rows.slice(40, 90).every((r, i) => r.id === i + 50 && r.str === 'N/A')).toBe(true)
    expect(rows.slice(90).every((r, i) => r.id === i + 100 && r.str === 'EXT')).toBe(true)

    const info = (await readCommit(table, 1)).find((a) => 'commitInfo' in a)
    const commitInfo = info && 'commitInfo' in info ? info.commitInfo : undefined
    expect(commitInfo?.operation).toBe('MERGE')
    expect(commitInfo?.operationParameters).toEqual({
      predicate: '["t.id = source.id"]',
      matchedPredicates: '[{"actionType":"update"}]',
      notMatchedPredicates: '[{"actionType":"insert"}]',
      notMatchedBySourcePredicates: '[{"predicate":"t.id < 10","actionType":"delete"}]',
    })
    expect(commitInfo?.operationMetrics).toMatchObject({
      numSourceRows: '100',
      numTargetRowsCopied: '40',
      numOutputRows: '140',
      numTargetFilesRemoved: '2',
    })
    expect(Object.keys(commitInfo?.operationMetrics ?? {})).toEqual(
      expect.arrayContaining(['executionTimeMs', 'scanTimeMs', 'rewriteTimeMs']),
    )
  })
})

/** Four rows in two files: ids 1,2 in the first, 3,4 in the second; v = 'a'..'d'. */
async function smallTable(): Promise<string> {
  const table = join(tempDir(), 'target')
  await createTable(table, [
    sql`select * from (values (1, 'a'), (2, 'b')) t(id, v)`,
    sql`select * from (values (3, 'c'), (4, 'd')) t(id, v)`,
  ])
  return table
}

type Row = { id: number | null; v: string | null }
type Build = (b: ReturnType<typeof merge>) => ReturnType<typeof merge>

describe('MERGE clauses on a real table', () => {
  test.each<{ name: string; source: string; build: Build; rows: Row[]; filesRemoved: number }>([
    {
      name: 'update all',
      source: "select * from (values (2, 'B'), (3, 'C')) s(id, v)",
      build: (b) => b.whenMatchedUpdate('all'),
      rows: [
        { id: 1, v: 'a' },
        { id: 2, v: 'B' },
        { id: 3, v: 'C' },
        { id: 4, v: 'd' },
      ],
      filesRemoved: 2,
    },
    {
      name: 'conditional update touches only the file whose row changes',
      source: "select * from (values (2, 'B'), (3, 'C')) s(id, v)",
      build: (b) => b.whenMatchedUpdate({ v: "source.v || '!'" }, 'target.id >= 3'),
      rows: [
        { id: 1, v: 'a' },
        { id: 2, v: 'b' },
        { id: 3, v: 'C!' },
        { id: 4, v: 'd' },
      ],
      filesRemoved: 1,
    },
    {
      name: 'delete matched',
      source: 'select * from (values (1), (4)) s(id)',
      build: (b) => b.whenMatchedDelete(),
      rows: [
        { id: 2, v: 'b' },
        { id: 3, v: 'c' },
      ],
      filesRemoved: 2,
    },
    {
      name: 'insert with condition, no file rewritten',
      source: "select * from (values (5, 'keep'), (6, 'drop'), (1, 'old')) s(id, v)",
      build: (b) => b.whenNotMatchedInsert('all', "source.v = 'keep'"),
      rows: [
        { id: 1, v: 'a' },
        { id: 2, v: 'b' },
        { id: 3, v: 'c' },
        { id: 4, v: 'd' },
        { id: 5, v: 'keep' },
      ],
      filesRemoved: 0,
    },
    {
      name: 'not matched by source: update one, delete the rest',
      source: "select * from (values (3, 'x')) s(id, v)",
      build: (b) =>
        b
          .whenNotMatchedBySourceUpdate({ v: "'orphan'" }, 'target.id = 1')
          .whenNotMatchedBySourceDelete(),
      rows: [
        { id: 1, v: 'orphan' },
        { id: 3, v: 'c' },
      ],
      filesRemoved: 2,
    },
    {
      name: 'clause order: the first matching clause wins',
      source: "select * from (values (1, 'x'), (3, 'y')) s(id, v)",
      build: (b) => b.whenMatchedDelete('target.id = 1').whenMatchedUpdate({ v: "'updated'" }),
      rows: [
        { id: 2, v: 'b' },
        { id: 3, v: 'updated' },
        { id: 4, v: 'd' },
      ],
      filesRemoved: 2,
    },
    {
      name: 'NULL keys never match: the NULL-keyed source row is inserted',
      source: "select * from (values (null::integer, 'n'), (2, 'B')) s(id, v)",
      build: (b) => b.whenMatchedUpdate('all').whenNotMatchedInsert('all'),
      rows: [
        { id: null, v: 'n' },
        { id: 1, v: 'a' },
        { id: 2, v: 'B' },
        { id: 3, v: 'c' },
        { id: 4, v: 'd' },
      ],
      filesRemoved: 1,
    },
  ])('$name', async (c) => {
    const table = await smallTable()
    const result = await c.build(merge(table, sql`${raw(c.source)}`, { on: ['id'] })).execute()
    expect(await readRows<Row>(table, 'id nulls first')).toEqual(c.rows)
    expect(result.metrics.numTargetFilesRemoved).toBe(c.filesRemoved)
  })

  test('a second NULL-keyed target row is untouched by a NULL-keyed source row', async () => {
    const table = join(tempDir(), 'target')
    await createTable(table, [sql`select * from (values (null::integer, 't')) t(id, v)`])
    const result = await merge(table, { rows: [{ id: null, v: 's' }] }, { on: ['id'] })
      .whenMatchedDelete()
      .execute()
    expect(result.committed).toBe(false)
    expect(result.metrics.numTargetRowsDeleted).toBe(0)
    expect(await readRows<Row>(table, 'v')).toEqual([{ id: null, v: 't' }])
  })
})

describe('MERGE sources and predicates', () => {
  test('an ON predicate and clause conditions with bound values', async () => {
    const table = await smallTable()
    const result = await merge(
      table,
      {
        rows: [
          { id: 1, v: 'x' },
          { id: 2, v: 'skip' },
          { id: 7, v: 'y' },
        ],
      },
      { on: sql`target.id = source.id and source.v <> ${'skip'}` },
    )
      .whenMatchedUpdate({ v: sql`source.v || ${'!'}` })
      .whenNotMatchedInsert('all', sql`source.v <> ${'skip'}`)
      .execute()
    expect(await readRows<Row>(table, 'id')).toEqual([
      { id: 1, v: 'x!' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
      { id: 4, v: 'd' },
      { id: 7, v: 'y' },
    ])
    const info = (await readCommit(table, result.version)).find((a) => 'commitInfo' in a)
    expect(info && 'commitInfo' in info ? info.commitInfo.operationParameters : {}).toMatchObject({
      predicate: `["target.id = source.id and source.v <> 'skip'"]`,
      notMatchedPredicates: `[{"predicate":"source.v <> 'skip'","actionType":"insert"}]`,
    })
  })

  test('Parquet files and a Delta table as the source', async () => {
    const dir = tempDir()
    const table = await smallTable()
    const file = join(dir, 'a.parquet')
    await withDuckDb({}, (db) =>
      db.run(sql`copy (select 1 as id, 'p' as v) to ${literal(file)} (format parquet)`),
    )
    await merge(table, [file], { on: ['id'] })
      .whenMatchedUpdate('all')
      .execute()
    const delta = join(dir, 'src')
    await createTable(delta, [sql`select 2 as id, 'delta' as v`])
    await merge(table, delta, { on: ['id'] })
      .whenMatchedUpdate('all')
      .execute()
    expect((await readRows<Row>(table, 'id')).slice(0, 2)).toEqual([
      { id: 1, v: 'p' },
      { id: 2, v: 'delta' },
    ])
  })
})

describe('MERGE reads and rewrites only what it must', () => {
  test('partitioned target: only the matching partition is rewritten', async () => {
    const table = join(tempDir(), 'target')
    await createTable(
      table,
      [
        sql`select * from (values (1, 'x', 10), (2, 'y', 20)) t(id, part, n)`,
        sql`select * from (values (3, 'z', 30)) t(id, part, n)`,
      ],
      { partitionColumns: ['part'] },
    )
    const before = await loadSnapshot(table)
    const result = await merge(table, sql`select 2 as id, 'y' as part, 99 as n`, {
      on: ['id', 'part'],
    })
      .whenMatchedUpdate('all')
      .execute()
    expect(result.metrics).toMatchObject({
      numTargetFilesBeforeSkipping: 3,
      numTargetFilesAfterSkipping: 1,
      numTargetFilesRemoved: 1,
      numTargetRowsUpdated: 1,
      numTargetRowsCopied: 0,
    })
    const after = await loadSnapshot(table)
    const untouched = before.files.filter((f) => f.partitionValues.part !== 'y')
    for (const add of untouched) expect(after.files).toContainEqual(add)
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, part: 'x', n: 10 },
      { id: 2, part: 'y', n: 99 },
      { id: 3, part: 'z', n: 30 },
    ])
  })

  test('file statistics skip files whose key range cannot match', async () => {
    const table = join(tempDir(), 'target')
    await createTable(table, [
      sql`select range as id from range(0, 100)`,
      sql`select range as id from range(100, 200)`,
      sql`select range as id from range(200, 300)`,
    ])
    const before = await loadSnapshot(table)
    const result = await merge(table, sql`select 150 as id`, { on: ['id'] })
      .whenMatchedDelete()
      .execute()
    expect(result.metrics).toMatchObject({
      numTargetFilesAfterSkipping: 1,
      numTargetFilesRemoved: 1,
      numTargetRowsDeleted: 1,
      numTargetRowsCopied: 99,
    })
    const after = await loadSnapshot(table)
    expect(after.files.filter((f) => before.files.some((b) => b.path === f.path))).toHaveLength(2)
  })

  test('an insert-only merge adds new files and removes none', async () => {
    const table = await smallTable()
    const before = await loadSnapshot(table)
    const result = await merge(table, sql`select * from (values (4, 'dup'), (9, 'new')) s(id, v)`, {
      on: ['id'],
    })
      .whenNotMatchedInsert('all')
      .execute()
    const commitActions = await readCommit(table, result.version)
    expect(commitActions.filter((a) => 'remove' in a)).toHaveLength(0)
    expect(commitActions.filter((a) => 'add' in a)).toHaveLength(1)
    const after = await loadSnapshot(table)
    for (const add of before.files) expect(after.files).toContainEqual(add)
    expect(result.metrics).toMatchObject({ numTargetRowsInserted: 1, numOutputRows: 1 })
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('MERGE into a table with deletion vectors'), () => {
  test('the rewritten file drops the rows its deletion vector deleted', async () => {
    const table = copyTable(fixture('delta', 'table-with-dv-small'), join(tempDir(), 't'))
    const before = await readRows<{ value: number }>(table, 'value')
    expect(before).toHaveLength(8) // 10 rows in one file, 2 deleted by its deletion vector
    const first = before[0]?.value ?? 0
    const result = await merge(table, sql`select ${first}::integer as value`, { on: ['value'] })
      .whenMatchedDelete()
      .execute()
    expect(result.metrics).toMatchObject({ numTargetRowsDeleted: 1, numTargetRowsCopied: 7 })
    expect(await readRows(table, 'value')).toEqual(before.slice(1))
  })
})

describe('MERGE failures change nothing', () => {
  test('several source rows matching one target row in an update clause is DUPLICATE_KEY', async () => {
    const table = await smallTable()
    const hashes = hashTree(table)
    const run = merge(table, sql`select * from (values (2, 'x'), (2, 'y'), (3, 'z')) s(id, v)`, {
      on: ['id'],
    })
      .whenMatchedUpdate('all')
      .execute()
    await expect(run).rejects.toMatchObject({
      code: 'DUPLICATE_KEY',
      details: { key: { id: 2 }, count: 2 },
    })
    await expect(run).rejects.toThrow(/2 source rows match the same target row \(id=2\)/)
    expect(hashTree(table)).toEqual(hashes)
  })

  test('source keys that differ only before the cast to the target type are one key: DUPLICATE_KEY', async () => {
    const table = await smallTable()
    const hashes = hashTree(table)
    // '2' and '02' are distinct strings, but both equal the target's integer 2.
    const run = merge(table, sql`select * from (values ('2', 'x'), ('02', 'y')) s(id, v)`, {
      on: ['id'],
    })
      .whenMatchedUpdate({ v: 'source.v' })
      .execute()
    await expect(run).rejects.toMatchObject({ code: 'DUPLICATE_KEY', details: { count: 2 } })
    expect(hashTree(table)).toEqual(hashes)
  })

  test('source rows sharing a key that matches no target row, or a NULL key, are no error', async () => {
    const table = await smallTable()
    const result = await merge(
      table,
      sql`select * from (values (9, 'x'), (9, 'y'), (null, 'n1'), (null, 'n2'), (2, 'z')) s(id, v)`,
      { on: ['id'] },
    )
      .whenMatchedUpdate('all')
      .execute()
    expect(result.metrics).toMatchObject({
      numSourceRows: 5,
      numTargetRowsUpdated: 1,
      numTargetRowsCopied: 1,
      numTargetFilesRemoved: 1,
    })
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'z' },
      { id: 3, v: 'c' },
      { id: 4, v: 'd' },
    ])
  })

  test('a lone unconditional delete accepts several matching source rows, as Spark does', async () => {
    const table = await smallTable()
    const result = await merge(table, sql`select * from (values (2), (2)) s(id)`, { on: ['id'] })
      .whenMatchedDelete()
      .execute()
    expect(result.metrics.numTargetRowsDeleted).toBe(1)
  })

  test('a key column missing in the source is KEY_COLUMN_MISSING naming it', async () => {
    const table = await smallTable()
    const hashes = hashTree(table)
    await expect(
      merge(table, sql`select 1 as other`, { on: ['id'] })
        .whenMatchedDelete()
        .execute(),
    ).rejects.toMatchObject({
      code: 'KEY_COLUMN_MISSING',
      details: { column: 'id', side: 'theirs' },
    })
    expect(hashTree(table)).toEqual(hashes)
  })

  test('a typo in a clause expression is VALIDATION_FAILED naming the aliases; nothing changes', async () => {
    const table = await smallTable()
    const hashes = hashTree(table)
    const run = merge(table, sql`select 1 as id, 'z' as v`, { on: ['id'] })
      .whenMatchedUpdate({ v: 'source.nope' })
      .execute()
    await expect(run).rejects.toMatchObject({ code: 'VALIDATION_FAILED' })
    await expect(run).rejects.toThrow(/source as "source" and the target as "target"/)
    const insert = merge(table, sql`select 9 as id, 'z' as v`, { on: ['id'] })
      .whenNotMatchedInsert({ v: 'source.nope' })
      .execute()
    await expect(insert).rejects.toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(hashTree(table)).toEqual(hashes)
  })

  test('an unreachable clause is VALIDATION_FAILED', async () => {
    const table = await smallTable()
    await expect(
      merge(table, sql`select 1 as id`, { on: ['id'] })
        .whenMatchedDelete()
        .whenMatchedUpdate('all')
        .execute(),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' })
  })

  test('update-all with a source lacking a table column is SCHEMA_MISMATCH', async () => {
    const table = await smallTable()
    await expect(
      merge(table, sql`select 1 as id`, { on: ['id'] })
        .whenMatchedUpdate('all')
        .execute(),
    ).rejects.toThrow(/source lacks column "v"/)
  })

  test('a concurrent writer removing a file the merge read makes it COMMIT_CONFLICT', async () => {
    const table = await smallTable()
    const snapshot = await loadSnapshot(table)
    const dataFiles = () =>
      readdirSync(table)
        .filter((f) => f.endsWith('.parquet'))
        .sort()
    const filesBefore = dataFiles()
    // Another writer deletes every row after our scan and before our commit: its commit file
    // appears (synchronously, from the progress callback) while the merge is writing.
    const winner = `${[
      { commitInfo: { timestamp: Date.now(), operation: 'DELETE', isBlindAppend: false } },
      ...snapshot.files.map((f) => ({ remove: { path: f.path, dataChange: true } })),
    ]
      .map((a) => JSON.stringify(a))
      .join('\n')}\n`
    const run = merge(table, sql`select 1 as id, 'z' as v`, {
      on: ['id'],
      onProgress: (p) => {
        if (p.phase === 'merge: committing')
          writeFileSync(join(table, '_delta_log', '00000000000000000001.json'), winner)
      },
    })
      .whenMatchedUpdate('all')
      .execute()
    await expect(run).rejects.toMatchObject({ code: 'COMMIT_CONFLICT' })
    await expect(run).rejects.toThrow(/version 1 was committed concurrently/)
    // The files the merge wrote before losing are removed again.
    expect(dataFiles()).toEqual(filesBefore)
    expect((await loadSnapshot(table)).version).toBe(1)
  })
})

describe('MERGE with one candidate file: rewritten while the matches are counted', () => {
  const dataFiles = (table: string) =>
    readdirSync(table)
      .filter((f) => !f.startsWith('_delta_log'))
      .sort()

  test('source keys repeated within that file are DUPLICATE_KEY (seen in the rewrite); nothing is left', async () => {
    const table = await smallTable()
    const hashes = hashTree(table)
    // Keys 3..4: only the second file can match; its rewrite holds id 3 twice.
    const run = merge(table, sql`select * from (values (3, 'x'), (3, 'y'), (4, 'z')) s(id, v)`, {
      on: ['id'],
    })
      .whenMatchedUpdate('all')
      .execute()
    await expect(run).rejects.toMatchObject({
      code: 'DUPLICATE_KEY',
      details: { key: { id: 3 }, count: 2 },
    })
    expect(hashTree(table)).toEqual(hashes)
  })

  test('a lone unconditional delete matched twice in that file deletes the row once', async () => {
    const table = await smallTable()
    const result = await merge(table, sql`select * from (values (3), (3), (4)) s(id)`, {
      on: ['id'],
    })
      .whenMatchedDelete()
      .execute()
    expect(result.metrics).toMatchObject({ numTargetRowsDeleted: 2, numTargetRowsCopied: 0 })
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ])
  })

  test('a candidate no source row matches keeps its file; the inserts land and nothing else remains', async () => {
    const table = join(tempDir(), 'target')
    await createTable(table, [
      sql`select * from (values (1, 'a'), (5, 'e')) t(id, v)`,
      sql`select * from (values (10, 'j'), (20, 't')) t(id, v)`,
    ])
    const before = dataFiles(table)
    // Key 3 lies in the first file's range (1..5) but matches no row there.
    const result = await merge(table, sql`select 3 as id, 'x' as v`, { on: ['id'] })
      .whenMatchedUpdate('all')
      .whenNotMatchedInsert('all')
      .execute()
    expect(result.metrics).toMatchObject({
      numTargetFilesAfterSkipping: 1,
      numTargetFilesRemoved: 0,
      numTargetFilesAdded: 1,
      numTargetRowsInserted: 1,
      numTargetRowsUpdated: 0,
    })
    const after = dataFiles(table)
    expect(after).toHaveLength(before.length + 1)
    expect(after.filter((f) => !before.includes(f))).toEqual([
      expect.stringMatching(/^part-.*\.parquet$/),
    ])
    expect((await readRows(table, 'id')).map((r) => r.id)).toEqual([1, 3, 5, 10, 20])
  })

  test('the rewrite written ahead is committed when the plan touches its file, removed when not', async () => {
    const table = join(tempDir(), 'target')
    await createTable(table, [
      sql`select * from (values (1, 'a'), (5, 'e')) t(id, v)`,
      sql`select * from (values (10, 'j'), (20, 't')) t(id, v)`,
    ])
    const clauses: MergeClause[] = [
      { kind: 'matched', action: 'update', set: 'all' },
      { kind: 'notMatched', action: 'insert', values: 'all' },
    ]
    const planAhead = (db: DuckDb, source: Sql) => {
      let ahead: WriteAhead | undefined
      return planMerge(db, table, source, clauses, {
        on: ['id'],
        forWriting: true,
        whileCounting: (input, file) => {
          ahead = writeAhead(db, input, file, undefined)
        },
      }).then(async (plan) => {
        if (!ahead) throw new Error('no write ahead')
        return { plan, ahead, written: await ahead.adds }
      })
    }
    // Key 3 matches nothing in the first file: the finished rewrite is removed, the insert lands.
    await withMergeSession({}, async (db) => {
      const { plan, ahead, written } = await planAhead(db, sql`select 3 as id, 'x' as v`)
      expect(plan.touched).toEqual([])
      expect(written).toHaveLength(1)
      expect(existsSync(join(table, written[0]?.path ?? ''))).toBe(true)
      const result = await applyMerge(db, plan, undefined, {}, ahead)
      expect(result.metrics).toMatchObject({ numTargetFilesAdded: 1, numTargetRowsInserted: 1 })
      expect(existsSync(join(table, written[0]?.path ?? ''))).toBe(false)
    })
    // Key 5 matches: the file written ahead is the one committed.
    await withMergeSession({}, async (db) => {
      const { plan, ahead, written } = await planAhead(db, sql`select 5 as id, 'E' as v`)
      expect(plan.touched).toHaveLength(1)
      const result = await applyMerge(db, plan, undefined, {}, ahead)
      expect(result.metrics).toMatchObject({ numTargetRowsUpdated: 1, numTargetRowsCopied: 1 })
      const adds = (await readCommit(table, result.version)).flatMap((a) =>
        'add' in a ? [a.add.path] : [],
      )
      expect(adds).toEqual(written.map((a) => a.path))
    })
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, v: 'a' },
      { id: 3, v: 'x' },
      { id: 5, v: 'E' },
      { id: 10, v: 'j' },
      { id: 20, v: 't' },
    ])
  })

  test('an update the table refuses (NULL into NOT NULL) fails the merge; the rewrite is removed', async () => {
    const table = join(tempDir(), 'target')
    await createDeltaTable({
      path: table,
      source: { query: "select * from (values (1, 'a'), (2, 'b')) t(id, v)" },
      schema: {
        type: 'struct',
        fields: [
          { name: 'id', type: 'integer', nullable: false, metadata: {} },
          { name: 'v', type: 'string', nullable: false, metadata: {} },
        ],
      },
    })
    const hashes = hashTree(table)
    const run = merge(table, sql`select 2 as id, null::varchar as v`, { on: ['id'] })
      .whenMatchedUpdate('all')
      .execute()
    await expect(run).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { column: 'v' } })
    expect(hashTree(table)).toEqual(hashes)
  })

  test('without row counts in the file statistics, repeated keys are found before the join', async () => {
    const table = await smallTable()
    // A writer that recorded no statistics: no file is skipped and no row count is known.
    const log = join(table, '_delta_log', '00000000000000000000.json')
    const lines = readFileSync(log, 'utf8').trim().split('\n')
    writeFileSync(
      log,
      `${lines
        .map((line) => {
          const action = JSON.parse(line) as { add?: { stats?: string } }
          if (action.add) delete action.add.stats
          return JSON.stringify(action)
        })
        .join('\n')}\n`,
    )
    const hashes = hashTree(table)
    await expect(
      merge(table, sql`select * from (values (3, 'x'), (3, 'y')) s(id, v)`, { on: ['id'] })
        .whenMatchedUpdate('all')
        .execute(),
    ).rejects.toMatchObject({ code: 'DUPLICATE_KEY', details: { key: { id: 3 } } })
    expect(hashTree(table)).toEqual(hashes)
    const result = await merge(table, sql`select 3 as id, 'x' as v`, { on: ['id'] })
      .whenMatchedUpdate('all')
      .execute()
    expect(result.metrics).toMatchObject({
      numTargetFilesAfterSkipping: 2,
      numTargetRowsUpdated: 1,
      numTargetRowsCopied: 1,
    })
  })
})

describe('MERGE honours table constraints', () => {
  test('append-only table: an update merge is refused, an insert-only merge passes', async () => {
    const table = join(tempDir(), 'target')
    await createDeltaTable({
      path: table,
      source: { query: "select * from (values (1, 'a')) t(id, v)" },
      properties: { 'delta.appendOnly': 'true' },
    })
    const hashes = hashTree(table)
    await expect(
      merge(table, sql`select 1 as id, 'x' as v`, { on: ['id'] })
        .whenMatchedUpdate('all')
        .execute(),
    ).rejects.toThrow(/append-only/)
    expect(hashTree(table)).toEqual(hashes)
    const inserted = await merge(table, sql`select 2 as id, 'b' as v`, { on: ['id'] })
      .whenMatchedUpdate('all')
      .whenNotMatchedInsert('all')
      .execute()
    expect(inserted.metrics.numTargetRowsInserted).toBe(1)
  })

  test('a NULL written into a NOT NULL column is VALIDATION_FAILED; nothing changes', async () => {
    const table = join(tempDir(), 'target')
    await createDeltaTable({
      path: table,
      schema: {
        type: 'struct',
        fields: [
          { name: 'id', type: 'integer', nullable: false, metadata: {} },
          { name: 'v', type: 'string', nullable: true, metadata: {} },
        ],
      },
    })
    const hashes = hashTree(table)
    const run = merge(table, sql`select 1 as id, 'x' as v`, { on: ['id'] })
      .whenNotMatchedInsert({ v: 'source.v' })
      .execute()
    await expect(run).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { column: 'id' },
    })
    expect(hashTree(table)).toEqual(hashes)
  })
})

describe('mergeSchema', () => {
  test('source columns the table lacks are added to the schema', async () => {
    const table = await smallTable()
    const result = await merge(table, sql`select 1 as id, 'A' as v, 3.5::double as score`, {
      on: ['id'],
      mergeSchema: true,
    })
      .whenMatchedUpdate('all')
      .execute()
    expect(result.columnsAdded).toEqual(['score'])
    const snapshot = await loadSnapshot(table)
    expect(snapshot.schema.fields.map((f) => f.name)).toEqual(['id', 'v', 'score'])
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, v: 'A', score: 3.5 },
      { id: 2, v: 'b', score: null },
      { id: 3, v: 'c', score: null },
      { id: 4, v: 'd', score: null },
    ])
    const log = readFileSync(join(table, '_delta_log', '00000000000000000001.json'), 'utf8')
    expect(log).toContain('"metaData"')
  })

  test('with explicit clauses only the columns they write are added (an _op marker is not)', async () => {
    const table = await smallTable()
    // The change-request merge: _op only steers the conditions; score is assigned by name.
    const source = sql`select * from (values (1, 'A', 1.5::double, 'upsert'), (2, 'B', 2.5::double, 'delete'), (9, 'I', 9.5::double, 'upsert')) s(id, v, score, _op)`
    const result = await merge(table, source, { on: ['id'], mergeSchema: true })
      .whenMatchedDelete("source._op = 'delete'")
      .whenMatchedUpdate({ v: 'source.v', score: 'source.score' })
      .whenNotMatchedInsert({ id: 'source.id', v: 'source.v', score: 'source.score' })
      .execute()
    expect(result.columnsAdded).toEqual(['score'])
    const snapshot = await loadSnapshot(table)
    expect(snapshot.schema.fields.map((f) => f.name)).toEqual(['id', 'v', 'score'])
    expect(await readRows(table, 'id')).toEqual([
      { id: 1, v: 'A', score: 1.5 },
      { id: 3, v: 'c', score: null },
      { id: 4, v: 'd', score: null },
      { id: 9, v: 'I', score: 9.5 },
    ])
  })

  test('clauses that write no new column add none: the schema stays and no metaData is committed', async () => {
    const table = await smallTable()
    const result = await merge(
      table,
      sql`select * from (values (1, 'A', 'delete'), (2, 'B', 'upsert')) s(id, v, _op)`,
      { on: ['id'], mergeSchema: true },
    )
      .whenMatchedDelete("source._op = 'delete'")
      .whenMatchedUpdate({ v: 'source.v' })
      .execute()
    expect(result.columnsAdded).toEqual([])
    expect((await loadSnapshot(table)).schema.fields.map((f) => f.name)).toEqual(['id', 'v'])
    expect(await readRows(table, 'id')).toEqual([
      { id: 2, v: 'B' },
      { id: 3, v: 'c' },
      { id: 4, v: 'd' },
    ])
    const log = readFileSync(join(table, '_delta_log', '00000000000000000001.json'), 'utf8')
    expect(log).not.toContain('"metaData"')
  })

  test('without mergeSchema the extra source column is ignored', async () => {
    const table = await smallTable()
    await appendFiles(table, [sql`select 5 as id, 'e' as v`])
    await merge(table, sql`select 5 as id, 'E' as v, 1 as extra`, { on: ['id'] })
      .whenMatchedUpdate('all')
      .execute()
    const snapshot = await loadSnapshot(table)
    expect(snapshot.schema.fields.map((f) => f.name)).toEqual(['id', 'v'])
    expect(await readRows(table, 'id')).toContainEqual({ id: 5, v: 'E' })
  })
})
