import { describe, expect, test } from 'vitest'
import type { Connection } from '../engine/dialect.js'
import { DuckDb } from '../engine/duckdb.js'
import { DuckDbConnection } from '../engine/duckdb-dialect.js'
import { raw } from '../engine/sql.js'
import { openSqlite } from '../engine/sqlite.js'
import { SqliteConnection } from '../engine/sqlite-dialect.js'
import { diffRelations } from './diff.js'

const engines = [
  {
    name: 'duckdb',
    schema: 'memory',
    open: async (): Promise<Connection> => new DuckDbConnection(await DuckDb.open()),
  },
  {
    name: 'sqlite',
    schema: 'main',
    open: async (): Promise<Connection> =>
      new SqliteConnection(openSqlite(':memory:', { fileMustExist: false })),
  },
]

describe.each(engines)('diffRelations ($name)', ({ open, schema }) => {
  test('summary counts and pages visit every changed key once', async () => {
    const connection = await open()
    try {
      await connection.run(raw('create table before (id integer, a integer, b varchar)'))
      await connection.run(raw('create table after (id integer, a integer, c integer)'))
      await connection.run(
        raw("insert into before values (1, 1, 'x'), (2, 2, 'x'), (3, 3, 'x'), (4, 4, 'x')"),
      )
      await connection.run(
        raw('insert into after values (1, 1, 0), (2, 20, 0), (4, 40, 0), (5, 5, 0)'),
      )
      const options = {
        connection,
        before: { schema, name: 'before' },
        after: { schema, name: 'after' },
        key: ['id'],
      }
      const first = await diffRelations({ ...options, limit: 2 })
      expect(first.summary).toEqual({
        rowsAdded: 1,
        rowsDeleted: 1,
        rowsModified: 2,
        rowsUnmodified: 1,
        cellsModified: 2,
        oldRowCount: 4,
        newRowCount: 4,
        columns: { a: { modified: 2 } },
        columnsAdded: ['c'],
        columnsDeleted: ['b'],
      })
      expect(first.rows.map((r) => [r.key.id, r.kind])).toEqual([
        [2, 'modified'],
        [3, 'deleted'],
      ])
      expect(first.rows[0]).toMatchObject({ changed: ['a'], before: { a: 2 }, after: { a: 20 } })
      expect(first.hasMore).toBe(true)
      const second = await diffRelations({
        ...options,
        limit: 2,
        cursor: first.nextCursor as string,
      })
      expect(second.rows.map((r) => [r.key.id, r.kind])).toEqual([
        [4, 'modified'],
        [5, 'added'],
      ])
      expect(second.hasMore).toBe(false)
      expect(second.nextCursor).toBeUndefined()
    } finally {
      await connection.close()
    }
  })
})
