import { expect, test } from 'vitest'
import { formatTable } from './output.js'

test('a table shows NULL apart from an empty string; an absent cell stays blank', () => {
  const text = formatTable(
    [
      { name: null, note: '' },
      { name: 'a', note: 'x' },
      { name: '', note: undefined },
    ],
    ['name', 'note'],
  )
  expect(text).toBe(['name  note', '----  ----', 'NULL  ""', 'a     x', '""'].join('\n'))
})
