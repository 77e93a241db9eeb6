import { describe, expect, test } from 'vitest'
import { DuckDb } from './duckdb.js'
import { raw } from './sql.js'

describe('DuckDb.connect: a second connection to the same database', () => {
  test('sees its tables, not its temporary views; keeps the time zone; closes alone', async () => {
    const db = await DuckDb.open({ timeZone: 'Europe/Paris' })
    try {
      await db.run(raw('create table shared as select 42 as n'))
      await db.run(raw('create temp view mine as select 1 as n'))
      const second = await db.connect()
      expect(await second.all(raw('select n from shared'))).toEqual([{ n: 42 }])
      await expect(second.all(raw('select n from mine'))).rejects.toThrow(/mine/)
      expect(await second.all(raw("select current_setting('TimeZone') as tz"))).toEqual([
        { tz: 'Europe/Paris' },
      ])
      second.close()
      // The first connection, and the database, outlive the second.
      expect(await db.all(raw('select n from shared'))).toEqual([{ n: 42 }])
    } finally {
      db.close()
    }
  })
})
