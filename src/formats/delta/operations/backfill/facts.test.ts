/** Staging key facts from the log (bitmap or hash uniqueness) and from a scan, on real tables. */
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../../../test/support/temp.js'
import { withDuckDb } from '../../../../engine/duckdb.js'
import { raw } from '../../../../engine/sql.js'
import { appendTable, createTable } from '../../index.js'
import { registerSnapshot } from '../../scan.js'
import { loadSnapshot } from '../../snapshot.js'
import { stagingFacts } from './facts.js'

const rows = (values: readonly string[]) =>
  `select * from (values ${values.join(', ')}) as t(source_url, cert_index)`

async function facts(stagingFiles: readonly (readonly string[])[], useLog = true) {
  const dir = tempDir()
  const path = join(dir, 'staging')
  const [first, ...rest] = stagingFiles
  await createTable({ path, source: { query: rows(first ?? []) } })
  for (const values of rest) await appendTable({ path, source: { query: rows(values) } })
  const staging = await loadSnapshot(path)
  return withDuckDb({}, async (db) => {
    await registerSnapshot(db, staging, 's')
    const n = stagingFiles.flat().length
    const keys = ['source_url', 'cert_index']
    return stagingFacts(db, staging.schema, useLog ? staging : undefined, keys, n, raw('s'))
  })
}

describe('stagingFacts', () => {
  test('from the log: ranges as predicates, unique integer key proved by the bitmap', async () => {
    expect(await facts([["('a', 5::bigint)", "('b', 7::bigint)"], ["('c', 9::bigint)"]])).toEqual({
      predicates: [
        { column: 'source_url', op: 'between', values: ['a', 'c'] },
        { column: 'cert_index', op: 'between', values: [5, 9] },
      ],
      mayRepeat: false,
    })
  })

  test('an integer key that repeats while the whole key does not: the hashes decide', async () => {
    const got = await facts([["('a', 5::bigint)", "('b', 5::bigint)"]])
    expect(got.mayRepeat).toBe(false)
  })

  test('a repeated key, in one file or across files, may repeat', async () => {
    expect((await facts([["('a', 5::bigint)", "('a', 5::bigint)"]])).mayRepeat).toBe(true)
    expect((await facts([["('a', 5::bigint)"], ["('a', 5::bigint)"]])).mayRepeat).toBe(true)
  })

  test('a NULL key: facts come from a scan, and no main file is pruned', async () => {
    expect(await facts([["('a', 5::bigint)", '(null, 6::bigint)']])).toEqual({
      predicates: [],
      mayRepeat: false,
    })
  })

  test('without a Delta log (Parquet staging) the scan gives the same answer', async () => {
    const fromLog = await facts([["('a', 5::bigint)", "('b', 7::bigint)"]])
    const fromScan = await facts([["('a', 5::bigint)", "('b', 7::bigint)"]], false)
    expect(fromScan.mayRepeat).toBe(fromLog.mayRepeat)
    expect(fromScan.predicates).toEqual([
      { column: 'source_url', op: 'between', values: ['a', 'b'] },
      { column: 'cert_index', op: 'between', values: ['5', '7'] },
    ])
  })
})
