/** The change-request merge tests (cr-merge.test.ts) once more, with the metadata store on Postgres. */
import { expect, test } from 'vitest'
import { openDataRoot } from '../../src/index.js'
import { hasPostgres, needsPostgres, storeOnPostgres, testStore } from '../support/postgres.js'
import { tempDir } from '../support/temp.js'

if (hasPostgres) {
  storeOnPostgres()
  test('the data roots of these tests keep their store on Postgres', async () => {
    const root = await openDataRoot({ root: tempDir(), ...(await testStore()) })
    expect(root.store.dialect).toBe('postgres')
    await root.close()
  })
  await import('./cr-merge.test.js')
} else test.skip(needsPostgres('change request merges on a Postgres store'), () => {})
