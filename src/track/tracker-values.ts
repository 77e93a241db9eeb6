/**
 * What a tracked value becomes in xetrack's SQLite layout: column names, column types, cell
 * values, timestamps and readable track ids, each decided the way xetrack decides it.
 */
import { DuckmergeError } from '../errors.js'

/** A cell as the writer stores it. */
export type Cell = null | number | bigint | string | Uint8Array

/** Declared SQLite type of a column, chosen from the first non-null value (xetrack's to_sql_type). */
export type ColumnType = 'INTEGER' | 'REAL' | 'TEXT' | 'BLOB'

/** Values `log()` accepts; arrays and plain objects are stored as JSON text. */
export type TrackedValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | readonly unknown[]
  | { readonly [key: string]: unknown }

const nameCache = new Map<string, string>()

/**
 * xetrack's column name for a key: every character outside [A-Za-z0-9_] becomes `_`, cut at 64
 * characters (xetrack tracker.py `_validate_key`). `my-metric x` → `my_metric_x`, `7` → `7`.
 *
 * @example
 * columnName('my-metric x') // 'my_metric_x'
 */
export function columnName(key: string): string {
  let name = nameCache.get(key)
  if (name === undefined) {
    name = key.replace(/[^a-zA-Z0-9_]/g, '_').slice(0, 64)
    if (name === '') {
      throw new DuckmergeError(
        'VALIDATION_FAILED',
        'Cannot track an empty key: every value needs a name. Rename the key.',
        { key },
      )
    }
    if (nameCache.size < 10_000) nameCache.set(key, name)
  }
  return name
}

const minInt64 = -(2n ** 63n)
const maxInt64 = 2n ** 63n - 1n

/**
 * The cell a value is stored as, or a VALIDATION_FAILED error naming `key` for a value no
 * database column can hold (function, symbol, a BigInt beyond 64 bits, a cyclic object).
 *
 * @example
 * toCell('ok', true)        // 1
 * toCell('tags', ['a'])     // '["a"]'
 * toCell('f', () => 1)      // throws: Cannot track "f": a function cannot be stored in a column…
 */
export function toCell(key: string, value: unknown): Cell {
  switch (typeof value) {
    case 'number':
    case 'string':
      return value
    case 'bigint':
      if (value < minInt64 || value > maxInt64) {
        throw new DuckmergeError(
          'VALIDATION_FAILED',
          `Cannot track "${key}": ${value} does not fit a 64-bit integer column. ` +
            'Log it as a string or a number instead.',
          { key, type: 'bigint' },
        )
      }
      return value
    case 'boolean':
      return value ? 1 : 0 // xetrack: bool → INTEGER 0/1
    case 'undefined':
      return null
    case 'object':
      if (value === null) return null
      if (value instanceof Uint8Array) return value
      if (value instanceof Date) return formatTimestamp(value.getTime() * 1000)
      return toJsonText(key, value)
    default:
      throw new DuckmergeError(
        'VALIDATION_FAILED',
        `Cannot track "${key}": a ${typeof value} cannot be stored in a column. ` +
          'Log a number, string, boolean, Date, Uint8Array, array or plain object instead.',
        { key, type: typeof value },
      )
  }
}

/**
 * The column type a new column gets for its first non-null cell.
 *
 * @example
 * columnType(0.5, 0.5)   // 'REAL'
 * columnType(1, true)    // 'INTEGER'
 */
export function columnType(cell: Cell, value: unknown): ColumnType {
  if (typeof cell === 'bigint' || typeof value === 'boolean') return 'INTEGER'
  if (typeof cell === 'number') return Number.isInteger(cell) ? 'INTEGER' : 'REAL'
  if (cell instanceof Uint8Array) return 'BLOB'
  return 'TEXT'
}

/** xetrack stores lists and dicts as their text; we write JSON, which both sides can parse. */
function toJsonText(key: string, value: object): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString()
      if (typeof v === 'function' || typeof v === 'symbol') throw new TypeError(typeof v)
      return v
    })
  } catch (error) {
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot track "${key}": its value cannot be written as JSON (${(error as Error).message}). ` +
        'Log plain data (numbers, strings, arrays, objects) instead.',
      { key },
      { cause: error },
    )
  }
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

let cachedSecond = Number.NaN
let cachedPrefix = ''

/**
 * xetrack's timestamp text, `YYYY-MM-DD HH:MM:SS.ffffff` in local time, from microseconds since
 * the epoch. The second's prefix is cached: formatting costs well under a microsecond per call.
 *
 * @example
 * formatTimestamp(Date.UTC(2024, 0, 2, 3, 4, 5) * 1000 + 6) // '2024-01-02 03:04:05.000006' (UTC)
 */
export function formatTimestamp(micros: number): string {
  const second = Math.floor(micros / 1_000_000)
  if (second !== cachedSecond) {
    const d = new Date(second * 1000)
    cachedPrefix =
      `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
      `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.`
    cachedSecond = second
  }
  return cachedPrefix + String(micros - second * 1_000_000).padStart(6, '0')
}

/**
 * `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, the event store's time text.
 *
 * @example
 * formatUtcTimestamp(Date.UTC(2024, 4, 1) * 1000 + 42) // '2024-05-01 00:00:00.000042'
 */
export function formatUtcTimestamp(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString() // 2024-01-02T03:04:05.678Z
  const fraction = String(((micros % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0')
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction}`
}

/**
 * A clock in microseconds that never repeats or goes back within one tracker, so
 * `(track_id, timestamp)`, xetrack's primary key, stays unique even at a million rows a second.
 */
export class MonotonicClock {
  #last = 0

  nowMicros(): number {
    const now = Math.floor((performance.timeOrigin + performance.now()) * 1000)
    this.#last = now > this.#last ? now : this.#last + 1
    return this.#last
  }
}

const adjectives = [
  'amber',
  'brave',
  'calm',
  'daring',
  'eager',
  'fancy',
  'gentle',
  'happy',
  'icy',
  'jolly',
  'keen',
  'lucky',
  'mellow',
  'noble',
  'odd',
  'proud',
  'quick',
  'rapid',
  'silent',
  'tidy',
  'upbeat',
  'vivid',
  'witty',
  'young',
  'zesty',
  'bold',
  'cosmic',
  'dusty',
  'fuzzy',
  'golden',
  'hidden',
  'lively',
  'misty',
  'polite',
  'rustic',
  'shiny',
  'stellar',
  'swift',
  'velvet',
  'wild',
] as const
const animals = [
  'otter',
  'falcon',
  'badger',
  'heron',
  'lynx',
  'marmot',
  'newt',
  'ocelot',
  'panda',
  'quail',
  'raven',
  'salmon',
  'tapir',
  'urchin',
  'vole',
  'walrus',
  'yak',
  'zebra',
  'beaver',
  'camel',
  'dingo',
  'egret',
  'ferret',
  'gecko',
  'ibis',
  'jackal',
  'koala',
  'lemur',
  'moose',
  'narwhal',
  'okapi',
  'puffin',
  'robin',
  'seal',
  'toucan',
  'viper',
  'wombat',
  'bison',
  'crane',
  'tuna',
] as const

/**
 * A readable run id like xetrack's: `adjective-animal-1234`.
 *
 * @example
 * generateTrackId() // 'vivid-heron-0421'
 */
export function generateTrackId(): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T
  const digits = String(Math.floor(Math.random() * 10_000)).padStart(4, '0')
  return `${pick(adjectives)}-${pick(animals)}-${digits}`
}
