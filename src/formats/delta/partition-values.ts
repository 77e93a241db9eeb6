/**
 * Partition values as the log stores them (PROTOCOL.md, Partition Value Serialization): strings
 * per type, null as JSON null or "", typed here into SQL expressions and comparable JS values.
 */

import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { literal, raw, type Sql, sql } from '../../engine/sql.js'
import { DuckmergeError } from '../../errors.js'
import type { DataType } from './schema.js'
import { deltaToDuckDbType } from './schema.js'

const HAS_ZONE = /(Z|[+-]\d\d(:?\d\d)?)$/i

/** True for the two spellings of a null partition value. */
export function isNullPartitionValue(
  value: string | null | undefined,
): value is null | undefined | '' {
  return value === null || value === undefined || value === ''
}

/**
 * A constant SQL expression of the Delta type for a serialized partition value. Literals, not
 * bound values: the expression ends up in a view body, where DuckDB takes no parameters.
 *
 * @example
 * partitionValueSql('2021-09-08 11:11:11', 'timestamp') // CAST('2021-09-08 11:11:11+00' AS TIMESTAMP WITH TIME ZONE)
 * partitionValueSql(null, 'integer')                    // CAST(NULL AS INTEGER)
 */
export function partitionValueSql(value: string | null | undefined, type: DataType): Sql {
  const duckType = raw(deltaToDuckDbType(type))
  if (isNullPartitionValue(value)) return sql`CAST(NULL AS ${duckType})`
  switch (type) {
    case 'timestamp':
      // PROTOCOL.md: timestamps are written in UTC, with or without an explicit zone.
      return sql`CAST(${literal(HAS_ZONE.test(value.slice(10)) ? value : `${value}+00`)} AS ${duckType})`
    case 'timestamp_ntz':
      return sql`CAST(${literal(value.replace(/Z$/i, ''))} AS ${duckType})`
    case 'binary':
      // PROTOCOL.md: binary values are the string of their bytes, one character each.
      return sql`from_hex(${literal(Buffer.from(value, 'latin1').toString('hex'))})`
    default:
      return sql`CAST(${literal(value)} AS ${duckType})`
  }
}

/**
 * A partition value as a JS value that orders like the column (for pruning): numbers, bigint
 * for long values beyond 2^53, booleans, strings (dates as YYYY-MM-DD), timestamps as
 * microseconds since epoch (bigint). null for null.
 */
export function partitionValueJs(value: string | null | undefined, type: DataType): unknown {
  if (isNullPartitionValue(value)) return null
  return typedValue(value, type)
}

/** Converts a string or number from the log (stats, partition values) to a comparable value. */
export function typedValue(value: unknown, type: DataType): unknown {
  if (value === null || value === undefined) return null
  switch (type) {
    case 'string':
    case 'date':
    case 'binary':
      return String(value)
    case 'boolean':
      return value === true || value === 'true'
    case 'long':
    case 'integer':
    case 'short':
    case 'byte': {
      if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined
      const text = String(value)
      const n = Number(text)
      return Number.isSafeInteger(n) ? n : /^-?\d+$/.test(text) ? BigInt(text) : undefined
    }
    case 'float':
    case 'double':
      return Number(value)
    case 'timestamp':
    case 'timestamp_ntz':
      return timestampMicros(String(value), type === 'timestamp')
    default:
      if (typeof type === 'string' && type.startsWith('decimal')) return Number(value)
      return undefined // nested types are never compared
  }
}

/** Microseconds since epoch of a timestamp string (UTC when it has no zone), or undefined. */
function timestampMicros(text: string, utc: boolean): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(.*)$/.exec(text.trim())
  if (!m) {
    const d = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN
    return Number.isFinite(d) ? BigInt(d) * 1000n : undefined
  }
  const zone = m[4]?.trim() || 'Z'
  const seconds = Date.parse(`${m[1]}T${m[2]}${utc || zone !== 'Z' ? normaliseZone(zone) : 'Z'}`)
  if (!Number.isFinite(seconds)) return undefined
  const fraction = BigInt(`${m[3] ?? ''}000000`.slice(0, 6))
  return BigInt(seconds) * 1000n + fraction
}

function normaliseZone(zone: string): string {
  if (/^[Zz]$/.test(zone)) return 'Z'
  const m = /^([+-])(\d\d):?(\d\d)?$/.exec(zone)
  return m ? `${m[1]}${m[2]}:${m[3] ?? '00'}` : 'Z'
}

/**
 * The absolute local path of a data file from its `add.path`: relative paths are URI-decoded
 * exactly once (so `%2521` becomes `%21`, and `+` stays `+`) and joined to the table root.
 *
 * @example dataFilePath('/t', 'p=a%20b/x.parquet') // '/t/p=a b/x.parquet'
 */
export function dataFilePath(tablePath: string, path: string): string {
  if (/^file:/i.test(path)) return fileURLToPath(path)
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path))
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Delta table ${tablePath} refers to a remote data file ${path}; duckmerge reads local tables only.`,
      { table: tablePath, path },
    )
  const decoded = decodeURIComponent(path)
  return decoded.startsWith('/') ? decoded : join(tablePath, decoded)
}
