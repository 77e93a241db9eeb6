/**
 * Which column each tracked key goes to. SQLite and DuckDB compare column names ignoring case,
 * so keys that differ only in case share one column, spelled as first seen (`Loss`, then `loss`
 * → `Loss`). Keys that only meet after sanitising (`my-metric`, `my metric`; two long keys equal
 * in their first 64 characters) are different data: they are refused, never merged silently.
 */
import { DuckmergeError } from '../errors.js'
import { columnName } from './tracker-values.js'

interface Claim {
  /** The column's spelling: the first key's sanitised name. */
  readonly name: string
  /** The key that first claimed the column. */
  readonly key: string
}

export class ColumnNames {
  /** Claims by column name in lower case. */
  readonly #claims = new Map<string, Claim>()
  readonly #byKey = new Map<string, string>()

  /**
   * The column of each key of one row, or VALIDATION_FAILED naming the key that collides with an
   * earlier key or another key of the row. Nothing is remembered until `remember()`, so a row
   * refused later (a bad value) claims no column.
   *
   * @example
   * names.forRow(['Loss', 'my-metric']) // Map { 'Loss' => 'Loss', 'my-metric' => 'my_metric' }
   */
  forRow(keys: readonly string[]): Map<string, string> {
    const row = new Map<string, string>()
    const claimedHere = new Map<string, Claim>()
    for (const key of keys) {
      const known = this.#byKey.get(key)
      const name = known ?? columnName(key)
      const folded = name.toLowerCase()
      const earlier = claimedHere.get(folded)
      if (earlier !== undefined) {
        throw collision(key, earlier, 'in the same row')
      }
      const claim = this.#claims.get(folded)
      if (known === undefined && claim !== undefined && !sameIgnoringCase(claim.key, key)) {
        throw collision(key, claim, 'logged earlier')
      }
      const spelled = claim?.name ?? name
      claimedHere.set(folded, { name: spelled, key })
      row.set(key, spelled)
    }
    return row
  }

  /** Records the columns of a row that passed validation. */
  remember(row: ReadonlyMap<string, string>): void {
    for (const [key, name] of row) {
      if (this.#byKey.has(key)) continue
      const folded = name.toLowerCase()
      if (!this.#claims.has(folded)) this.#claims.set(folded, { name, key })
      if (this.#byKey.size < 100_000) this.#byKey.set(key, name)
    }
  }
}

function sameIgnoringCase(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

function collision(key: string, claim: Claim, where: string): DuckmergeError {
  return new DuckmergeError(
    'VALIDATION_FAILED',
    `Cannot track "${key}": it would share column "${claim.name}" with key "${claim.key}" ` +
      `${where}. Rename one of the two keys.`,
    { key, column: claim.name, otherKey: claim.key },
  )
}
