/**
 * The SIGKILL recovery tests (cr-merge-crash.test.ts) once more with the store on Postgres: the
 * killed process's dataset lock dies with its connection, so the next command settles its merge.
 */
import { test } from 'vitest'
import { hasPostgres, needsPostgres, storeOnPostgres } from '../support/postgres.js'

if (hasPostgres) {
  storeOnPostgres()
  await import('./cr-merge-crash.test.js')
} else test.skip(needsPostgres('merges killed with SIGKILL on a Postgres store'), () => {})
