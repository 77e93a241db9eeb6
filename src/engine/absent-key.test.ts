import { describe, expect, test } from 'vitest'
import { absentKeyRows, insertAbsentKeyRows } from './absent-key.js'
import { DuckDb } from './duckdb.js'
import { duckdbDialect } from './duckdb-dialect.js'
import { ident, raw, sql } from './sql.js'
import { allSync, openSqlite, runSync } from './sqlite.js'
import { sqliteDialect } from './sqlite-dialect.js'

// Target holds keys (1,'a'), (2,NULL); source offers (1,'a') again, (2,NULL) again (NULL equals
// NULL), (2,'b') and (3,'c'): only the last two are absent.
const setup = [
  'create table target (k1 integer, k2 text, v text)',
  "insert into target values (1, 'a', 'old'), (2, null, 'old')",
  'create table source (k1 integer, k2 text, v text)',
  "insert into source values (1, 'a', 'new'), (2, null, 'new'), (2, 'b', 'new'), (3, 'c', 'new')",
]
const key = ['k1', 'k2']
const order = raw(' order by k1, k2')

describe('absentKeyRows and insertAbsentKeyRows, same rows on both engines', () => {
  test('DuckDB (anti join)', async () => {
    const db = await DuckDb.open()
    try {
      for (const s of setup) await db.run(raw(s))
      const input = {
        dialect: duckdbDialect,
        source: ident('source'),
        target: ident('target'),
        key,
      }
      expect(absentKeyRows(input).text).toContain('anti join')
      const rows = await db.all(sql`${absentKeyRows({ ...input, where: sql`s.k1 > 2` })}`)
      expect(rows).toEqual([{ k1: 3, k2: 'c', v: 'new' }])
      const n = await db.run(
        insertAbsentKeyRows({ ...input, into: ident('target'), columns: ['k1', 'k2', 'v'] }),
      )
      expect(n).toBe(2)
      expect(await db.all(sql`select k1, k2, v from target${order}`)).toEqual([
        { k1: 1, k2: 'a', v: 'old' },
        { k1: 2, k2: 'b', v: 'new' },
        { k1: 2, k2: null, v: 'old' },
        { k1: 3, k2: 'c', v: 'new' },
      ])
    } finally {
      db.close()
    }
  })

  test('SQLite (not exists)', () => {
    const db = openSqlite(':memory:', { fileMustExist: false })
    try {
      for (const s of setup) db.exec(s)
      const input = {
        dialect: sqliteDialect,
        source: ident('source'),
        target: ident('target'),
        key,
      }
      expect(absentKeyRows(input).text).toContain('not exists')
      expect(allSync(db, absentKeyRows({ ...input, where: sql`s.k1 > ${2}` }))).toEqual([
        { k1: 3, k2: 'c', v: 'new' },
      ])
      expect(
        runSync(
          db,
          insertAbsentKeyRows({ ...input, into: ident('target'), columns: ['v', 'k1', 'k2'] }),
        ),
      ).toBe(2)
      expect(allSync(db, sql`select k1, k2, v from target order by k1, k2 nulls last`)).toEqual([
        { k1: 1, k2: 'a', v: 'old' },
        { k1: 2, k2: 'b', v: 'new' },
        { k1: 2, k2: null, v: 'old' },
        { k1: 3, k2: 'c', v: 'new' },
      ])
    } finally {
      db.close()
    }
  })
})
