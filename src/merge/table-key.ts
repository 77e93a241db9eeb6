/** Which columns identify a row when merging or rebasing one table. */
import type { TableInfo } from '../engine/dialect.js'
import { DuckmergeError } from '../errors.js'

/** How files are named in messages: a strategy never opens them, it only names them. */
export interface SideNames {
  readonly ours: string
  readonly theirs: string
}

export type KeySource = 'option' | 'primary key' | 'unique key' | 'shared columns'

export interface KeyChoice {
  readonly columns: readonly string[]
  readonly source: KeySource
}

/**
 * The key of one table: `override` when given, else ours' primary key (xetrack's is
 * `(track_id, timestamp)`) or else a unique constraint of ours, else theirs' (a table ours does not
 * have yet), else every column both sides share (then only an exact duplicate matches). Every key column must exist on both sides
 * (only in theirs when ours does not have the table).
 *
 * @example
 * chooseKey({ ours, theirs, names }) // { columns: ['track_id', 'timestamp'], source: 'primary key' }
 */
export function chooseKey(options: {
  readonly ours: TableInfo | undefined
  readonly theirs: TableInfo
  readonly override?: readonly string[] | undefined
  readonly names: SideNames
}): KeyChoice {
  const { ours, theirs, override, names } = options
  const have = new Set(theirs.columns.map((c) => c.name))
  const declared = (t: TableInfo | undefined): KeyChoice | undefined => {
    if (!t) return undefined
    if (t.primaryKey.length > 0) return { columns: t.primaryKey, source: 'primary key' }
    // A unique constraint is a key too: ours could not hold two rows that share it anyway.
    const unique = t.uniqueKeys.find((u) => u.length > 0 && u.every((c) => have.has(c)))
    return unique ? { columns: unique, source: 'unique key' } : undefined
  }
  const choice: KeyChoice = override
    ? { columns: override.map((k) => spelling(ours ?? theirs, k)), source: 'option' }
    : (declared(ours) ??
      declared(theirs) ?? {
        columns: sharedColumns(ours ?? theirs, theirs),
        source: 'shared columns',
      })
  const sides: ['ours' | 'theirs', string, TableInfo | undefined][] = [
    ['ours', names.ours, ours],
    ['theirs', names.theirs, theirs],
  ]
  for (const [side, file, info] of sides) {
    if (!info) continue
    // Column names are case-insensitive in both engines: `--key ID` finds `id`.
    const have = new Set(info.columns.map((c) => c.name.toLowerCase()))
    const missing = choice.columns.find((c) => !have.has(c.toLowerCase()))
    if (missing !== undefined)
      throw new DuckmergeError(
        'KEY_COLUMN_MISSING',
        `Key column "${missing}" (${choice.source === 'option' ? 'the key given' : `the ${choice.source} of the other side`}) is missing in table "${theirs.name}" of ${file} (columns: ${info.columns.map((c) => c.name).join(', ')}).`,
        {
          table: theirs.name,
          column: missing,
          side,
          file,
          key: choice.columns,
          hint: 'Pass {key} with columns both sides have.',
        },
      )
  }
  if (choice.columns.length === 0)
    throw new DuckmergeError(
      'KEY_COLUMN_MISSING',
      `Table "${theirs.name}" shares no column between ${names.ours} and ${names.theirs}, so no row can be matched.`,
      { table: theirs.name, hint: 'Pass {key}, or leave the table out of {tables}.' },
    )
  return choice
}

/** The table's own spelling of `column` (matched case-insensitively), else `column` as given. */
function spelling(table: TableInfo, column: string): string {
  const lower = column.toLowerCase()
  return table.columns.find((c) => c.name.toLowerCase() === lower)?.name ?? column
}

function sharedColumns(ours: TableInfo, theirs: TableInfo): string[] {
  const inTheirs = new Set(theirs.columns.map((c) => c.name.toLowerCase()))
  return ours.columns.map((c) => c.name).filter((name) => inTheirs.has(name.toLowerCase()))
}
