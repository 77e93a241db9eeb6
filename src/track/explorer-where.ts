/**
 * The user's `where` predicate, checked to be exactly one SQL expression before it is spliced
 * into a query: parentheses balanced and never closing more than they opened, no comment, no
 * second statement, no function that reaches outside the database.
 */
import type { SqliteDb } from '../engine/sqlite.js'
import { DuckmergeError, messageOf } from '../errors.js'

/** Functions a filter has no business calling (SQLite's and its common extensions'). */
const refusedFunctions = /\b(load_extension|readfile|writefile|edit|fts3_tokenizer)\s*\(/i

/**
 * Why `where` is not one expression, or undefined when it is.
 *
 * @example
 * wherePredicateProblem('lr < 0.01 and model = \'mlp\'') // undefined
 * wherePredicateProblem('lr < 0.01) or (1=1')          // 'a ")" closes more than it opened…'
 */
export function wherePredicateProblem(where: string): string | undefined {
  let depth = 0
  let outside = ''
  for (let i = 0; i < where.length; i++) {
    const c = where[i] as string
    const close = c === '[' ? ']' : c === "'" || c === '"' || c === '`' ? c : undefined
    if (close !== undefined) {
      // A quoted string or identifier: skipped whole ('' inside is an escaped quote).
      let j = i + 1
      for (; j < where.length; j++) {
        if (where[j] !== close) continue
        if (close !== ']' && where[j + 1] === close) j++
        else break
      }
      if (j >= where.length) return `an unterminated ${c}`
      outside += ' '
      i = j
      continue
    }
    if (c === '-' && where[i + 1] === '-') return 'a comment (--)'
    if (c === '/' && where[i + 1] === '*') return 'a comment (/*)'
    if (c === ';') return 'a second statement (;)'
    if (c === '(') depth++
    if (c === ')' && --depth < 0) return 'a ")" that closes more than it opened'
    outside += c
  }
  if (depth > 0) return 'an unclosed "("'
  const call = refusedFunctions.exec(outside)
  if (call) return `a call to ${call[1]}(), which filters may not use`
  return undefined
}

/**
 * Throws VALIDATION_FAILED naming the file and table unless `where` is one expression the
 * database accepts over the table's rows (prepared, and run on the first row).
 */
export function assertWherePredicate(
  db: SqliteDb,
  where: string,
  at: { readonly path: string; readonly table: string; readonly query: string },
): void {
  const refuse = (why: string, cause?: unknown): never => {
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Invalid where predicate "${where}" on table "${at.table}" of ${at.path}: ${why}. ` +
        'It must be one SQL condition over the table\'s columns, e.g. "lr < 0.01".',
      { path: at.path, table: at.table, where, hint: 'Write {where} as one SQL condition.' },
      cause === undefined ? undefined : { cause },
    )
  }
  const problem = wherePredicateProblem(where)
  if (problem !== undefined) refuse(`it holds ${problem}`)
  try {
    db.prepare(at.query).get()
  } catch (error) {
    refuse(messageOf(error), error)
  }
}
