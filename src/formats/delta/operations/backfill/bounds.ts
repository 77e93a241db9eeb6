/** Main's key range from its file statistics: staging keys outside it go to the writer without probing main. */
import { outsideRange } from '../../../../engine/key-range.js'
import { ident, join, raw, type Sql, sql } from '../../../../engine/sql.js'
import type { AddFile } from '../../actions.js'
import { columnMappingMode, physicalName } from '../../column-mapping.js'
import { deltaToDuckDbType } from '../../schema.js'
import type { Snapshot } from '../../snapshot-types.js'
import { parseStats } from '../../stats.js'

/** Spark cuts string statistics to 32 characters; a max that long may be a cut, not a bound. */
const STRING_PREFIX_LENGTH = 32

export interface KeyBound {
  readonly column: string
  /** DuckDB type the bounds are cast to (the table's type of the column). */
  readonly type: string
  readonly min?: number | string
  readonly max?: number | string
}

/**
 * The smallest and largest value of each key column over `files`, read from their statistics
 * (PROTOCOL.md, Per-file Statistics). A bound is left out whenever one file cannot vouch for it:
 * no stats, a bound missing while the file has non-NULL values, a number past 2^53, a string max
 * that may be truncated, or a type whose JSON form does not order like the values (only
 * integers, strings and dates are used). Partition columns are left out.
 *
 * @example
 * keyBounds(snapshot, snapshot.files, ['cert_index'])
 * // [{ column: 'cert_index', type: 'BIGINT', min: 0, max: 9999999 }]
 */
export function keyBounds(
  snapshot: Snapshot,
  files: readonly AddFile[],
  keys: readonly string[],
): KeyBound[] {
  const mode = columnMappingMode(snapshot.metadata)
  const out: KeyBound[] = []
  for (const key of keys) {
    const field = snapshot.schema.fields.find((f) => f.name === key)
    if (!field || snapshot.partitionColumns.includes(key) || typeof field.type !== 'string')
      continue
    const order = orderOf(field.type)
    if (!order) continue
    const physical = physicalName(field, mode)
    let min: number | string | undefined
    let max: number | string | undefined
    let hasMin = true
    let hasMax = true
    for (const file of files) {
      const stats = parseStats(file)
      const nulls = stats?.nullCount?.[physical]
      const rows = stats?.numRecords
      // A file holding only NULLs in this column has no bounds and needs none.
      if (typeof nulls === 'number' && typeof rows === 'number' && nulls === rows) continue
      const lo = order.bound(stats?.minValues?.[physical], 'min')
      const hi = order.bound(stats?.maxValues?.[physical], 'max')
      if (lo === undefined) hasMin = false
      else if (min === undefined || order.compare(lo, min) < 0) min = lo
      if (hi === undefined) hasMax = false
      else if (max === undefined || order.compare(hi, max) > 0) max = hi
      if (!hasMin && !hasMax) break
    }
    if ((hasMin && min !== undefined) || (hasMax && max !== undefined))
      out.push({
        column: key,
        type: deltaToDuckDbType(field.type),
        ...(hasMin && min !== undefined ? { min } : {}),
        ...(hasMax && max !== undefined ? { max } : {}),
      })
  }
  return out
}

/**
 * A predicate over the staging alias, true when the row's key lies outside `bounds` on some
 * column, so no main row can have it. Never NULL: a NULL key value is "inside" (NULL matches
 * NULL in a backfill, and main may hold NULLs), so the row is checked against main.
 *
 * @example
 * outsideSql(bounds, 's') // coalesce((s."cert_index" < cast(? as BIGINT) or s."cert_index" > cast(? as BIGINT)), false)
 */
export function outsideSql(bounds: readonly KeyBound[], alias: string): Sql | undefined {
  const parts = bounds.flatMap((b) => {
    const type = raw(b.type)
    const outside = outsideRange(
      sql`${ident(alias)}.${ident(b.column)}`,
      b.min === undefined ? undefined : sql`cast(${b.min} as ${type})`,
      b.max === undefined ? undefined : sql`cast(${b.max} as ${type})`,
    )
    return outside === undefined ? [] : [outside]
  })
  if (parts.length === 0) return undefined
  return sql`coalesce(${join(parts, ' or ')}, false)`
}

interface Order {
  /** The statistic as a usable bound, or undefined. */
  bound(raw: unknown, side: 'min' | 'max'): number | string | undefined
  compare(a: number | string, b: number | string): number
}

const integers: Order = {
  bound: (raw) => (typeof raw === 'number' && Number.isSafeInteger(raw) ? raw : undefined),
  compare: (a, b) => Number(a) - Number(b),
}

// DuckDB and the Delta statistics both order strings by their UTF-8 bytes.
const strings: Order = {
  bound: (raw, side) =>
    typeof raw === 'string' && (side === 'min' || [...raw].length < STRING_PREFIX_LENGTH)
      ? raw
      : undefined,
  compare: (a, b) => Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b))),
}

const dates: Order = {
  bound: (raw) => (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) ? raw : undefined),
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
}

function orderOf(type: string): Order | undefined {
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return integers
    case 'string':
      return strings
    case 'date':
      return dates
    default:
      return undefined
  }
}
