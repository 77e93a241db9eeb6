import { describe, expect, test } from 'vitest'
import type { TableInfo } from '../engine/dialect.js'
import { isDuckmergeError } from '../errors.js'
import { chooseKey } from './table-key.js'

const names = { ours: 'base.db', theirs: 'exp.db' }
const table = (
  columns: string[],
  primaryKey: string[] = [],
  uniqueKeys: string[][] = primaryKey.length ? [primaryKey] : [],
): TableInfo => ({
  name: 't',
  columns: columns.map((name) => ({ name, type: 'TEXT', notNull: false })),
  primaryKey,
  indexes: uniqueKeys,
  uniqueKeys,
})

describe('chooseKey', () => {
  test.each([
    {
      name: 'base primary key (xetrack)',
      ours: table(['track_id', 'timestamp', 'x'], ['track_id', 'timestamp']),
      theirs: table(['track_id', 'timestamp', 'x', 'y'], ['track_id', 'timestamp']),
      key: ['track_id', 'timestamp'],
      source: 'primary key',
    },
    {
      name: 'a unique constraint when there is no primary key',
      ours: table(['k', 'v'], [], [['k']]),
      theirs: table(['k', 'v']),
      key: ['k'],
      source: 'unique key',
    },
    {
      name: "exp's primary key for a table base lacks",
      ours: undefined,
      theirs: table(['key', 'value'], ['key']),
      key: ['key'],
      source: 'primary key',
    },
    {
      name: 'all shared columns, in base order',
      ours: table(['b', 'a', 'only_base']),
      theirs: table(['a', 'b', 'only_exp']),
      key: ['b', 'a'],
      source: 'shared columns',
    },
    {
      name: '--key overrides the primary key',
      ours: table(['id', 'v'], ['id']),
      theirs: table(['id', 'v'], ['id']),
      override: ['v'],
      key: ['v'],
      source: 'option',
    },
  ])('$name', ({ ours, theirs, override, key, source }) => {
    expect(chooseKey({ ours, theirs, override, names })).toEqual({ columns: key, source })
  })

  test('a key column missing in theirs names the column, the file and its columns', () => {
    let error: unknown
    try {
      chooseKey({ ours: table(['id', 'v']), theirs: table(['id', 'w']), override: ['v'], names })
    } catch (e) {
      error = e
    }
    expect(isDuckmergeError(error, 'KEY_COLUMN_MISSING')).toBe(true)
    expect((error as Error).message).toMatchInlineSnapshot(
      `"Key column "v" (the key given) is missing in table "t" of exp.db (columns: id, w)."`,
    )
    expect((error as { details: { hint: string } }).details.hint).toBe(
      'Pass {key} with columns both sides have.',
    )
  })

  test("a given key matches column names case-insensitively, in base's spelling (issue 14)", () => {
    const ours = table(['id', 'v'], ['id'])
    expect(chooseKey({ ours, theirs: table(['Id', 'v']), override: ['ID'], names })).toEqual({
      columns: ['id'],
      source: 'option',
    })
  })

  test('no shared column at all is KEY_COLUMN_MISSING', () => {
    expect(() => chooseKey({ ours: table(['a']), theirs: table(['b']), names })).toThrow(
      /shares no column/,
    )
  })
})
