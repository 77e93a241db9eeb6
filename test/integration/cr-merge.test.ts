import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import {
  createChangeRequest,
  createDataset,
  type DataRoot,
  getChangeRequest,
  getDataset,
  listAuditFiles,
  MERGE_PHASES,
  type MergePhase,
  mergeChangeRequest,
  openDataRoot,
  parseRules,
  readAuditFile,
  setRules,
} from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { testStore } from '../support/postgres.js'
import { tempDir } from '../support/temp.js'

const opened: DataRoot[] = []
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close()
})

async function setup(csv = 'id,price,qty\n1,10,1\n2,20,2\n7,10,7\n') {
  const dir = tempDir()
  const root = await openDataRoot({ root: join(dir, 'root'), ...(await testStore()) })
  opened.push(root)
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  }
  await createDataset(root, { name: 'products', from: file('p.csv', csv), key: ['id'] })
  const cr = async (name: string, text: string) =>
    createChangeRequest(root, { dataset: 'products', from: file(name, text), title: name })
  const table = join(root.path, 'datasets', '1', 'table')
  const log = () => readdirSync(join(table, '_delta_log')).filter((f) => f.endsWith('.json'))
  const commit = (version: number) =>
    readFileSync(join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>)
  const rows = async () => {
    const { readRows } = await import('../../src/changes/dataset-rows.js')
    const { rows } = await readRows(await getDataset(root, 'products'), { limit: 1000 })
    return rows.map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [
          k,
          typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v,
        ]),
      ),
    )
  }
  return { dir, root, file, cr, log, commit, rows, table }
}

async function rejection(promise: Promise<unknown>) {
  try {
    await promise
  } catch (error) {
    return error as { code: string; message: string; details: Record<string, unknown> }
  }
  throw new Error('expected a rejection')
}

describe('change request merge: validation gate', () => {
  test('a null against a not_null error rule: no commit, failed/validation_failed, results with samples; warnings only recorded', async () => {
    const { root, cr, log } = await setup()
    const dataset = await getDataset(root, 'products')
    const rules = await parseRules(
      dataset,
      [
        { name: 'price present', type: 'not_null', column: 'price', severity: 'error' },
        { name: 'qty small', type: 'between', column: 'qty', max: 5, severity: 'warn' },
        { name: 'price sane', type: 'between', column: 'price', min: 0, max: 100, mostly: 0.5 },
      ],
      'rules.json',
    )
    await setRules(root, dataset, rules)
    const bad = await cr('bad.csv', 'id,price\n2,\n7,500\n')
    const error = await rejection(mergeChangeRequest(root, bad.id, { requestedBy: 'ann' }))
    expect(error.code).toBe('EXPECTATIONS_FAILED')
    expect(error.message).toContain('"price present" (1 unexpected)')
    const results = error.details.results as Record<string, unknown>[]
    expect(results).toMatchObject([
      {
        name: 'price present',
        severity: 'error',
        success: false,
        unexpected_count: 1,
        unexpected_percent: 33.333333,
        sample: [{ key: { id: 2 }, value: null }],
      },
      // qty 7 > 5 breaks a warn rule: recorded, does not block.
      { name: 'qty small', severity: 'warn', success: false, unexpected_count: 1 },
      // 1 of 3 prices out of range passes with mostly 0.5.
      {
        name: 'price sane',
        success: true,
        unexpected_count: 1,
        sample: [{ key: { id: 7 }, value: 500 }],
      },
    ])
    expect(log()).toHaveLength(1)
    const after = await getChangeRequest(root, bad.id)
    expect(after.status).toBe('failed')
    expect(after.failure).toMatchObject({ code: 'validation_failed', phase: 'validate' })
    expect((await getDataset(root, 'products')).currentVersion).toBe(0)
    const validation = await readAuditFile(root, bad.id, 'validation')
    expect(validation).toMatchObject({
      schema_version: 1,
      success: false,
      errors: 1,
      warnings: 1,
      preview: { rows: 3, main_version: 0, cr_revision: 1 },
    })
    expect(await readAuditFile(root, bad.id, 'merge_result')).toMatchObject({
      status: 'validation_failed',
      error: { code: 'validation_failed', rules: ['price present'] },
    })

    // A change that passes the error rule merges; the warning is recorded in the report.
    const good = await cr('good.csv', 'id,price\n2,21\n')
    const merged = await mergeChangeRequest(root, good.id)
    expect(merged).toMatchObject({
      status: 'merged',
      merged_version: 1,
      validation: { success: true, errors: 0, warnings: 1 },
    })
    // The failed one can be retried after the head moved: still refused, and its first
    // attempt moved to history/1.
    await rejection(mergeChangeRequest(root, bad.id))
    expect((await listAuditFiles(root, bad.id)).history).toEqual([1])
  })

  test('unique, in_set, regex, castable, type and row-count rules on the merged preview', async () => {
    const { root, cr, log } = await setup('id,code,qty\n1,a1,1\n2,b2,2\n3,c3,3\n')
    const dataset = await getDataset(root, 'products')
    const rules = await parseRules(
      dataset,
      [
        { name: 'code unique', type: 'unique', columns: ['code'] },
        {
          name: 'code known',
          type: 'in_set',
          column: 'code',
          values: ['a1', 'b2', 'c3', 'a1x'],
          severity: 'warn',
        },
        {
          name: 'code shape',
          type: 'regex',
          column: 'code',
          pattern: '[a-z][0-9]',
          severity: 'warn',
        },
        { name: 'code numeric', type: 'castable', column: 'code', to: 'INTEGER', severity: 'warn' },
        { name: 'qty is bigint', type: 'type', column: 'qty', logical_type: 'BIGINT' },
        { name: 'size', type: 'row_count_between', min: 1, max: 10 },
        { name: 'growth', type: 'row_count_change', max_increase_pct: 50 },
      ],
      'rules.json',
    )
    await setRules(root, dataset, rules)
    const dup = await cr('dup.csv', 'id,code\n3,a1\n4,zz9\n5,q\n')
    const error = await rejection(mergeChangeRequest(root, dup.id))
    expect(error.code).toBe('EXPECTATIONS_FAILED')
    const byName = Object.fromEntries(
      (error.details.results as { name: string }[]).map((r) => [r.name, r]),
    )
    expect(byName['code unique']).toMatchObject({
      success: false,
      unexpected_count: 2,
      sample: [
        { key: { id: 1 }, value: { code: 'a1' } },
        { key: { id: 3 }, value: { code: 'a1' } },
      ],
    })
    expect(byName['code known']).toMatchObject({ success: false, unexpected_count: 2 })
    expect(byName['code shape']).toMatchObject({ success: false, unexpected_count: 2 })
    expect(byName['code numeric']).toMatchObject({ success: false, unexpected_count: 5 })
    expect(byName['qty is bigint']).toMatchObject({ success: true, observed_value: 'BIGINT' })
    expect(byName.size).toMatchObject({ success: true, observed_value: 5 })
    // 3 → 5 rows is +66.67%.
    expect(byName.growth).toMatchObject({ success: false, observed_value: 66.666667 })
    expect(log()).toHaveLength(1)
  })
})

describe('change request merge: resolutions, commit, audit, schema', () => {
  test('per-cell resolutions with values and sides; one commit with cr_id in commitInfo and the txn; conflicts.json says what each took', async () => {
    const { root, cr, commit, rows } = await setup()
    const a = await cr('a.csv', 'id,price,qty\n7,11,70\n1,15,1\n')
    const b = await cr('b.csv', 'id,price,qty\n7,12,71\n1,16,1\n')
    await mergeChangeRequest(root, a.id, { requestedBy: 'ann' })
    const conflict = await rejection(mergeChangeRequest(root, b.id))
    expect(conflict.code).toBe('MERGE_CONFLICT')
    // Items per key: id 7 conflicts in two cells.
    expect(conflict.details.conflicts).toMatchObject([
      {
        key: { id: 1 },
        kind: 'cell',
        cells: [{ column: 'price', base: 10, ours: 15, theirs: 16 }],
      },
      { key: { id: 7 }, kind: 'cell', cells: [{ column: 'price' }, { column: 'qty' }] },
    ])
    expect((await getChangeRequest(root, b.id)).status).toBe('conflict')
    expect(await readAuditFile(root, b.id, 'conflicts')).toMatchObject({
      rule: 'cell',
      base_version: 0,
      main_version: 1,
      total: 3,
      by_kind: { cell: 3 },
      resolution: 'none',
    })

    const phases: MergePhase[] = []
    const merged = await mergeChangeRequest(root, b.id, {
      requestedBy: 'bob',
      resolutions: [
        { key: { id: 7 }, column: 'price', value: 13 },
        { key: { id: 7 }, column: 'qty', take: 'ours' },
        { key: { id: 1 }, take: 'theirs' },
      ],
      onPhase: (e) => phases.push(e.phase),
    })
    expect(merged).toMatchObject({
      status: 'merged',
      merged_version: 2,
      commit_id: 'v2',
      rows_affected: 2,
      diff: {
        version_before: 1,
        version_after: 2,
        rows_added: 0,
        rows_updated: 2,
        rows_deleted: 0,
      },
      conflicts: { total: 3, resolution: 'explicit' },
      idempotent_replay: false,
    })
    expect([...new Set(phases)]).toEqual([...MERGE_PHASES])
    expect(await rows()).toEqual([
      { id: 1, price: 16, qty: 1 },
      { id: 2, price: 20, qty: 2 },
      { id: 7, price: 13, qty: 70 },
    ])
    const actions = commit(2)
    expect(actions[0]?.commitInfo).toMatchObject({
      operation: 'MERGE',
      operationParameters: { cr_id: b.id, base_version: '0', requested_by: 'bob' },
    })
    expect(actions.find((a) => 'txn' in a)?.txn).toMatchObject({
      appId: `duckmerge-cr-${b.id}`,
      version: 1,
    })
    // Only the file holding the touched rows was rewritten (the dataset has one file).
    expect(actions.filter((a) => 'remove' in a)).toHaveLength(1)
    const conflicts = await readAuditFile(root, b.id, 'conflicts')
    const items = conflicts.items as {
      key: { id: number }
      cells: { column: string }[]
      taken: unknown
    }[]
    const taken = (id: number, column: string) =>
      items.find((i) => i.key.id === id && i.cells[0]?.column === column)?.taken
    expect(taken(7, 'price')).toEqual({ by: 'resolution', value: 13 })
    expect(taken(7, 'qty')).toEqual({ by: 'resolution', side: 'ours', value: 70 })
    expect(taken(1, 'price')).toEqual({ by: 'resolution', side: 'theirs', value: 16 })
    expect(await readAuditFile(root, b.id, 'merge_result')).toMatchObject({
      status: 'merged',
      requested_by: 'bob',
      versions: { base: 0, main_before: 1, merged: 2 },
      commit: { version: 2, txn_app_id: `duckmerge-cr-${b.id}` },
      options: { resolutions: 3 },
      row_count_before: 3,
      row_count_after: 3,
    })
    expect(await readAuditFile(root, b.id, 'diff')).toMatchObject({
      rows_modified: 2,
      columns: { price: { modified: 2 }, qty: { modified: 0 } },
    })
    // The conflict attempt is kept.
    expect((await listAuditFiles(root, b.id)).history).toEqual([1])

    const bad = await rejection(
      mergeChangeRequest(root, (await cr('c.csv', 'id,price\n2,1\n')).id, {
        resolutions: [{ key: { sku: 2 }, column: 'colour', take: 'ours' }],
      }),
    )
    expect(bad.code).toBe('VALIDATION_FAILED')
    expect(bad.message).toContain('names key columns sku')
    expect(bad.message).toContain('names column "colour"')
  })

  test('another writer commits while the merge validates: the merge starts over on the new head and keeps its rows', async () => {
    const { root, cr, file, table, rows } = await setup()
    const change = await cr('a.csv', 'id,price\n7,11\n')
    const extra = file('extra.csv', 'id,price,qty\n100,1,1\n')
    let appended = false
    const phases: MergePhase[] = []
    const merged = await mergeChangeRequest(root, change.id, {
      onPhase: (e) => {
        phases.push(e.phase)
        if (e.phase !== 'validate' || appended) return
        appended = true
        // A writer outside duckmerge's change requests (the delta CLI, as Spark would).
        const r = runCli(['delta', 'append', table, '--from', extra, '--json'])
        expect(r.code, r.stderr).toBe(0)
      },
    })
    expect(merged).toMatchObject({
      merged_version: 2,
      diff: { version_before: 1, version_after: 2, rows_updated: 1 },
      row_count: 4,
    })
    expect(phases.filter((p) => p === 'snapshot')).toHaveLength(2)
    expect((await rows()).map((r) => [r.id, r.price])).toEqual([
      [1, 10],
      [2, 20],
      [7, 11],
      [100, 1],
    ])
  })

  test("merge schema adds the new column and never the patch's _op (issue 9 bug)", async () => {
    const { root, cr, commit, rows } = await setup()
    const wide = await cr('w.csv', 'id,colour,_op\n2,red,upsert\n9,blue,\n1,,delete\n')
    const merged = await mergeChangeRequest(root, wide.id, { mergeSchema: true })
    expect(merged).toMatchObject({
      diff: { rows_added: 1, rows_updated: 1, rows_deleted: 1 },
      schema_changed: true,
    })
    const meta = commit(1).find((a) => 'metaData' in a)?.metaData as { schemaString: string }
    const fields = (JSON.parse(meta.schemaString) as { fields: { name: string }[] }).fields
    expect(fields.map((f) => f.name)).toEqual(['id', 'price', 'qty', 'colour'])
    expect((await getDataset(root, 'products')).schema.map((c) => c.name)).toEqual([
      'id',
      'price',
      'qty',
      'colour',
    ])
    expect(await rows()).toEqual([
      { id: 2, price: 20, qty: 2, colour: 'red' },
      { id: 7, price: 10, qty: 7, colour: null },
      { id: 9, price: null, qty: null, colour: 'blue' },
    ])
  })

  test(
    needsFixtures('a Spark-written Delta table as a dataset takes a change request'),
    async (ctx) => {
      if (!hasFixtures) ctx.skip()
      const dir = tempDir()
      const root = await openDataRoot({ root: join(dir, 'root'), ...(await testStore()) })
      opened.push(root)
      const spark = fixture('delta', 'basic-with-inserts-merge')
      const dataset = await createDataset(root, { name: 'spark', from: spark, key: ['id'] })
      expect(dataset).toMatchObject({ currentVersion: 0, rowCount: 140 })
      writeFileSync(join(dir, 'p.csv'), 'id,str,_op\n10,ten,\n149,,delete\n500,new,\n')
      const change = await createChangeRequest(root, {
        dataset: 'spark',
        from: join(dir, 'p.csv'),
        title: 'fix',
      })
      expect(await mergeChangeRequest(root, change.id)).toMatchObject({
        merged_version: 1,
        diff: { rows_added: 1, rows_updated: 1, rows_deleted: 1 },
        row_count: 140,
      })
      expect(await getDataset(root, 'spark')).toMatchObject({ currentVersion: 1, rowCount: 140 })
      // The fixture itself is untouched.
      expect(readdirSync(join(spark, '_delta_log')).filter((f) => f.endsWith('.json'))).toEqual([
        '00000000000000000000.json',
        '00000000000000000001.json',
      ])
      expect(
        existsSync(join(root.path, 'audit', 'change_requests', change.id, 'merge_result.json')),
      ).toBe(true)
    },
  )
})
