/** Per-file statistics for add actions: DuckDB's COPY … RETURN_STATS turned into Delta's stats JSON. */
import type { DataType, StructType } from './schema.js'

/** DuckDB's column_statistics of one written file: `"a"."b"` → { min, max, null_count, … }. */
export type DuckDbColumnStats = ReadonlyMap<string, Readonly<Record<string, string | null>>>

export interface FileStatsOptions {
  /**
   * Leaf columns (in schema order, nested fields included) that get min/max/nullCount.
   * PROTOCOL.md, Table Properties: delta.dataSkippingNumIndexedCols, default 32; -1 means all.
   */
  readonly numIndexedCols?: number
  /** Strings are cut to this many characters (Spark's dataSkippingStringPrefixLength, 32). */
  readonly stringPrefixLength?: number
}

/** A JSON number kept as its exact text (decimals and longs must not pass through a double). */
class RawNumber {
  constructor(readonly text: string) {}
}
type StatValue = RawNumber | string
interface StatTree {
  [name: string]: StatValue | StatTree
}

const jsonNumber = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/
// DuckDB renders TIMESTAMP as 'YYYY-MM-DD HH:MM:SS[.ffffff]' and TIMESTAMPTZ with '+HH[:MM]'.
const duckTimestamp =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::?(\d{2}))?)?$/
// The largest Unicode code point: a tie-breaker that sorts after any character in UTF-8 order.
const maxCodePoint = String.fromCodePoint(0x10ffff)

/**
 * Parses DuckDB's `column_statistics` value (a MAP rendered as key/value lists by getRowObjectsJson)
 * into a lookup by quoted column path.
 *
 * @example
 * parseDuckDbColumnStats([{ key: '"a"', value: [{ key: 'min', value: '1' }] }]).get('"a"')?.min // '1'
 */
export function parseDuckDbColumnStats(raw: unknown): DuckDbColumnStats {
  const out = new Map<string, Record<string, string | null>>()
  for (const entry of asEntries(raw)) {
    const fields: Record<string, string | null> = {}
    for (const f of asEntries(entry.value))
      fields[String(f.key)] = f.value == null ? null : String(f.value)
    out.set(String(entry.key), fields)
  }
  return out
}

/**
 * Delta's stats JSON for one data file (PROTOCOL.md, Per-file Statistics): numRecords, then
 * minValues / maxValues / nullCount mirroring the (physical) schema, nested structs as objects.
 * Booleans and binaries get only nullCount (as Spark writes them); arrays and maps get nothing;
 * NaN or infinite floats drop min/max; strings are truncated safely; timestamps are written in
 * milliseconds (min truncated down, max rounded up so it still bounds every value).
 *
 * @example
 * statsJson(schema, 3, columnStats)
 * // '{"numRecords":3,"minValues":{"id":0},"maxValues":{"id":2},"nullCount":{"id":0}}'
 */
export function statsJson(
  schema: StructType,
  numRecords: number,
  columnStats: DuckDbColumnStats,
  options: FileStatsOptions = {},
): string {
  const limit = options.numIndexedCols ?? 32
  const prefix = options.stringPrefixLength ?? 32
  const minValues: StatTree = {}
  const maxValues: StatTree = {}
  const nullCount: StatTree = {}
  let leaves = 0
  const walk = (struct: StructType, path: readonly string[]) => {
    for (const field of struct.fields) {
      const here = [...path, field.name]
      if (isStruct(field.type)) {
        walk(field.type, here)
        continue
      }
      leaves++
      if (limit >= 0 && leaves > limit) continue
      if (typeof field.type !== 'string') continue // arrays and maps: no stats
      const stats = columnStats.get(here.map(quote).join('.'))
      if (!stats) continue
      if (stats.null_count != null) setAt(nullCount, here, new RawNumber(stats.null_count))
      const hasNan = stats.has_nan === 'true'
      const min =
        stats.min == null || hasNan ? undefined : toStat(field.type, stats.min, 'min', prefix)
      const max =
        stats.max == null || hasNan ? undefined : toStat(field.type, stats.max, 'max', prefix)
      if (min !== undefined) setAt(minValues, here, min)
      if (max !== undefined) setAt(maxValues, here, max)
    }
  }
  walk(schema, [])
  return `{"numRecords":${numRecords},"minValues":${render(minValues)},"maxValues":${render(maxValues)},"nullCount":${render(nullCount)}}`
}

/** One min or max in Delta's JSON form, or undefined when it cannot be stated safely. */
function toStat(
  type: string,
  text: string,
  bound: 'min' | 'max',
  prefix: number,
): StatValue | undefined {
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
    case 'float':
    case 'double':
      return jsonNumber.test(text) ? new RawNumber(text) : undefined
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(text) ? text : undefined
    case 'timestamp':
      return timestampStat(text, bound, true)
    case 'timestamp_ntz':
      return timestampStat(text, bound, false)
    case 'string':
      return bound === 'min' ? truncateMin(text, prefix) : truncateMax(text, prefix)
    default:
      if (type.startsWith('decimal('))
        return jsonNumber.test(text) ? new RawNumber(text) : undefined
      return undefined // boolean, binary: nullCount only
  }
}

/**
 * PROTOCOL.md: "Timestamp columns are truncated down to milliseconds". A truncated max would be
 * below the true max, so the max is rounded up to the next millisecond instead.
 */
function timestampStat(text: string, bound: 'min' | 'max', utc: boolean): string | undefined {
  const m = duckTimestamp.exec(text)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, frac = '', sign, oh = '0', om = '0'] = m
  const micros = Number(frac.padEnd(6, '0'))
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
  ms += Math.floor(micros / 1000)
  if (bound === 'max' && micros % 1000 !== 0) ms += 1
  if (sign) ms -= (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000
  const date = new Date(ms)
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999)
    return undefined
  const iso = date.toISOString()
  return utc ? iso : iso.slice(0, -1)
}

function truncateMin(text: string, prefix: number): string {
  const chars = [...text]
  return chars.length <= prefix ? text : chars.slice(0, prefix).join('')
}

/**
 * A max cut to `prefix` characters must still be >= the original in UTF-8 byte order: append a
 * tie-breaker larger than the first dropped character (U+007F when it is plain ASCII below it,
 * else U+10FFFF). A dropped U+10FFFF cannot be beaten, so the prefix grows past it; give up
 * (no max) if that goes on too long.
 */
function truncateMax(text: string, prefix: number): string | undefined {
  const chars = [...text]
  if (chars.length <= prefix) return text
  for (let cut = prefix; cut < chars.length; cut++) {
    if (cut >= prefix * 2) return undefined
    const next = chars[cut] ?? ''
    if (next === maxCodePoint) continue
    const tie = (next.codePointAt(0) ?? 0) < 0x7f ? '\u007f' : maxCodePoint
    return chars.slice(0, cut).join('') + tie
  }
  return text
}

function isStruct(type: DataType): type is StructType {
  return typeof type === 'object' && type.type === 'struct'
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

function setAt(tree: StatTree, path: readonly string[], value: StatValue): void {
  let node = tree
  for (const part of path.slice(0, -1)) {
    const child = node[part]
    if (child === undefined || child instanceof RawNumber || typeof child === 'string') {
      const fresh: StatTree = {}
      node[part] = fresh
      node = fresh
    } else node = child
  }
  node[path[path.length - 1] ?? ''] = value
}

function render(tree: StatTree): string {
  const parts = Object.entries(tree).map(([k, v]) => {
    const value =
      v instanceof RawNumber ? v.text : typeof v === 'string' ? JSON.stringify(v) : render(v)
    return `${JSON.stringify(k)}:${value}`
  })
  return `{${parts.join(',')}}`
}

function asEntries(raw: unknown): { key: unknown; value: unknown }[] {
  if (Array.isArray(raw)) return raw as { key: unknown; value: unknown }[]
  if (raw && typeof raw === 'object')
    return Object.entries(raw as Record<string, unknown>).map(([key, value]) => ({ key, value }))
  return []
}
