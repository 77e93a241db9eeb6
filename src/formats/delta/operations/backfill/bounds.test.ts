/** Main's key range from file statistics, and backfills whose staging keys fall below, inside and above it. */
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../../../test/support/temp.js'
import { withDuckDb } from '../../../../engine/duckdb.js'
import { sql } from '../../../../engine/sql.js'
import { appendTable, createTable } from '../../index.js'
import { registerSnapshot } from '../../scan.js'
import { loadSnapshot } from '../../snapshot.js'
import { backfill } from './backfill.js'
import { keyBounds, outsideSql } from './bounds.js'

const rows = (values: readonly string[]) =>
  `select * from (values ${values.join(', ')}) as t(source_url, cert_index, domain)`

async function table(path: string, files: readonly (readonly string[])[]): Promise<void> {
  const [first, ...rest] = files
  await createTable({ path, source: { query: rows(first ?? []) } })
  for (const values of rest) await appendTable({ path, source: { query: rows(values) } })
}

async function contents(path: string): Promise<string[]> {
  const snapshot = await loadSnapshot(path)
  return withDuckDb({}, async (db) => {
    await registerSnapshot(db, snapshot, 't')
    const out = await db.all<{ r: string }>(
      sql`select coalesce(source_url, '∅') || ':' || coalesce(cert_index::varchar, '∅') || ':' || domain as r from t order by all`,
    )
    return out.map((r) => r.r)
  })
}

describe('keyBounds', () => {
  test('the smallest min and largest max over the files, per key column', async () => {
    const path = join(tempDir(), 'main')
    await table(path, [
      ["('b', 10::bigint, 'x')", "('c', 12::bigint, 'x')"],
      ["('a', 20::bigint, 'x')", "(null, 22::bigint, 'x')"],
    ])
    const snapshot = await loadSnapshot(path)
    expect(keyBounds(snapshot, snapshot.files, ['source_url', 'cert_index'])).toEqual([
      { column: 'source_url', type: 'VARCHAR', min: 'a', max: 'c' },
      { column: 'cert_index', type: 'BIGINT', min: 10, max: 22 },
    ])
    // Only the files given count.
    const [firstFile] = snapshot.files
    expect(keyBounds(snapshot, firstFile ? [firstFile] : [], ['cert_index'])).toEqual([
      { column: 'cert_index', type: 'BIGINT', min: expect.any(Number), max: expect.any(Number) },
    ])
  })

  test('a string max that may be truncated is no bound; the min still is', async () => {
    const path = join(tempDir(), 'main')
    const long = 'x'.repeat(40)
    await table(path, [[`('a', 1::bigint, 'x')`, `('${long}', 2::bigint, 'x')`]])
    const snapshot = await loadSnapshot(path)
    expect(keyBounds(snapshot, snapshot.files, ['source_url'])).toEqual([
      { column: 'source_url', type: 'VARCHAR', min: 'a' },
    ])
  })

  test('a file without statistics removes the bounds of every column', async () => {
    const path = join(tempDir(), 'main')
    await table(path, [["('a', 1::bigint, 'x')"], ["('b', 2::bigint, 'x')"]])
    const snapshot = await loadSnapshot(path)
    const [a, b] = snapshot.files
    if (!a || !b) throw new Error('two files expected')
    const { stats: _dropped, ...bare } = b
    expect(keyBounds(snapshot, [a, bare], ['source_url', 'cert_index'])).toEqual([])
  })

  test('outsideSql is never NULL: a NULL key value is inside', async () => {
    const outside = outsideSql([{ column: 'k', type: 'BIGINT', min: 10, max: 20 }], 's')
    if (!outside) throw new Error('a predicate expected')
    const got = await withDuckDb({}, (db) =>
      db.all<{ k: bigint | null; o: boolean }>(
        sql`select k, ${outside} as o from (values (5::bigint), (10), (20), (21), (null)) as s(k) order by k nulls last`,
      ),
    )
    expect(got.map((r) => r.o)).toEqual([true, false, false, true, false])
  })
})

describe('backfill with staging keys below, inside and above main key range', () => {
  const main = [
    ["('u', 10::bigint, 'm')", "('u', 11::bigint, 'm')", "('u', 12::bigint, 'm')"],
    ["('u', 20::bigint, 'm')", "('u', 22::bigint, 'm')", "('u', null::bigint, 'm')"],
  ]
  // 5 below, 11 and 22 known, 15 inside but new, 30 above, NULL known (NULL matches NULL),
  // ('a', 11) inside on cert_index but below on source_url: new.
  const staging = [
    [
      "('u', 5::bigint, 's')",
      "('u', 11::bigint, 's')",
      "('u', 15::bigint, 's')",
      "('u', 22::bigint, 's')",
    ],
    ["('u', 30::bigint, 's')", "('u', null::bigint, 's')", "('a', 11::bigint, 's')"],
  ]
  const expected = [
    'a:11:s',
    'u:10:m',
    'u:11:m',
    'u:12:m',
    'u:15:s',
    'u:20:m',
    'u:22:m',
    'u:30:s',
    'u:5:s',
    'u:∅:m',
  ]

  test.each([
    { name: 'one batch', batchRows: undefined },
    { name: 'batches of 2', batchRows: 2 },
  ])('$name: only the keys main lacks are inserted', async ({ batchRows }) => {
    const dir = tempDir()
    await table(join(dir, 'main'), main)
    await table(join(dir, 'staging'), staging)
    const report = await backfill({
      ours: join(dir, 'main'),
      theirs: join(dir, 'staging'),
      key: ['source_url', 'cert_index'],
      ...(batchRows === undefined ? {} : { batchRows }),
    })
    expect(report).toMatchObject({ rowsInserted: 4, rowsSkipped: 3, duplicatesInStaging: 0 })
    expect(await contents(join(dir, 'main'))).toEqual(expected)
  })
})
