import { expect, test } from 'vitest'
import { columnNameIssues } from './upload.js'

test('column names: empty, reserved, forbidden characters, case duplicates; _op allowed when asked', () => {
  const issues = columnNameIssues([
    'id',
    '',
    '_op',
    '_change_type',
    'a=b',
    'Price',
    'price',
    '_dm_x',
    'ok\u0001',
  ])
  expect(issues.map((i) => [i.path[0], i.code])).toEqual([
    ['', 'empty_name'],
    ['_op', 'reserved_name'],
    ['_change_type', 'reserved_name'],
    ['a=b', 'forbidden_character'],
    ['price', 'case_duplicate'],
    ['_dm_x', 'reserved_name'],
    ['ok\u0001', 'control_character'],
  ])
  expect(columnNameIssues(['id', '_op'], ['_op'])).toEqual([])
})
