/**
 * DuckDB type rules every merge shares: the parser of DuckDB's printed type names, integer
 * widths, which casts keep every value, and the type two column types widen to. Results
 * databases, Parquet datasets and Delta schemas all decide type changes here, so a change one
 * accepts the others accept too (DATE → TIMESTAMP included).
 */
import { DuckmergeError } from '../errors.js'

/** A DuckDB type as DESCRIBE prints it, parsed. Primitive names are upper case and canonical. */
export type DuckType =
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | {
      readonly kind: 'struct'
      readonly fields: readonly { readonly name: string; readonly type: DuckType }[]
    }
  | { readonly kind: 'list'; readonly element: DuckType }
  | { readonly kind: 'map'; readonly key: DuckType; readonly value: DuckType }

/** DuckDB's aliases (https://duckdb.org/docs/sql/data_types/overview) to the names DESCRIBE prints. */
const ALIASES: Readonly<Record<string, string>> = {
  INT8: 'BIGINT',
  LONG: 'BIGINT',
  INT: 'INTEGER',
  INT4: 'INTEGER',
  SIGNED: 'INTEGER',
  INT2: 'SMALLINT',
  SHORT: 'SMALLINT',
  INT1: 'TINYINT',
  REAL: 'FLOAT',
  FLOAT4: 'FLOAT',
  FLOAT8: 'DOUBLE',
  BOOL: 'BOOLEAN',
  LOGICAL: 'BOOLEAN',
  BYTEA: 'BLOB',
  VARBINARY: 'BLOB',
  BINARY: 'BLOB',
  TEXT: 'VARCHAR',
  STRING: 'VARCHAR',
  CHAR: 'VARCHAR',
  BPCHAR: 'VARCHAR',
  TIMESTAMPTZ: 'TIMESTAMP WITH TIME ZONE',
  DATETIME: 'TIMESTAMP',
  TIMESTAMP_US: 'TIMESTAMP',
}

/**
 * Parses a DuckDB type name: STRUCT/ROW, MAP, DECIMAL/NUMERIC, lists (`T[]`, `T[3]`), and
 * primitives (aliases resolved; `VARCHAR(20)` is VARCHAR, `ENUM(…)` is ENUM). Throws
 * UNSUPPORTED_FEATURE when the text is not a type.
 *
 * @example
 * parseDuckType('STRUCT(a INT, "b c" VARCHAR[])')
 * // { kind: 'struct', fields: [{ name: 'a', type: { kind: 'named', name: 'INTEGER' } },
 * //   { name: 'b c', type: { kind: 'list', element: { kind: 'named', name: 'VARCHAR' } } }] }
 */
export function parseDuckType(text: string): DuckType {
  const parser = new TypeParser(text)
  const type = parser.parseType()
  parser.expectEnd()
  return type
}

/** The type as DuckDB prints it (`DECIMAL(10,2)`, `STRUCT("a" INTEGER)`, `BIGINT[]`). */
export function formatDuckType(type: DuckType): string {
  switch (type.kind) {
    case 'named':
      return type.name
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`
    case 'list':
      return `${formatDuckType(type.element)}[]`
    case 'map':
      return `MAP(${formatDuckType(type.key)}, ${formatDuckType(type.value)})`
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `"${f.name.replaceAll('"', '""')}" ${formatDuckType(f.type)}`).join(', ')})`
  }
}

export interface IntegerWidth {
  readonly bits: number
  readonly signed: boolean
}

const INTEGERS: Readonly<Record<string, IntegerWidth>> = {
  TINYINT: { bits: 8, signed: true },
  SMALLINT: { bits: 16, signed: true },
  INTEGER: { bits: 32, signed: true },
  BIGINT: { bits: 64, signed: true },
  HUGEINT: { bits: 128, signed: true },
  UTINYINT: { bits: 8, signed: false },
  USMALLINT: { bits: 16, signed: false },
  UINTEGER: { bits: 32, signed: false },
  UBIGINT: { bits: 64, signed: false },
  UHUGEINT: { bits: 128, signed: false },
}
const SIGNED_BY_BITS: Readonly<Record<number, string>> = {
  8: 'TINYINT',
  16: 'SMALLINT',
  32: 'INTEGER',
  64: 'BIGINT',
  128: 'HUGEINT',
}
/** Decimal digits an integer of each width needs (for integer → DECIMAL). */
const DIGITS: Readonly<Record<number, number>> = { 8: 3, 16: 5, 32: 10, 64: 20, 128: 39 }

/**
 * Time types without a time zone, in order of precision: each casts into a later one without
 * loss (a DATE becomes midnight). TIMESTAMP WITH TIME ZONE is an instant, never mixed with these.
 */
const NAIVE_TIMES = ['DATE', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP', 'TIMESTAMP_NS']

/** Width and signedness of an integer type, or undefined for any other type. */
export function integerWidth(type: string): IntegerWidth | undefined {
  return INTEGERS[canonicalName(type)]
}

function canonicalName(type: string): string {
  const t = type.trim().toUpperCase()
  return ALIASES[t] ?? t
}

/**
 * True when every value of `from` casts to `to` unchanged, by the rules all merges share:
 * - integers into a wider integer (unsigned into a signed one of more bits), into DECIMAL with
 *   enough integer digits, SMALLINT and narrower into FLOAT;
 * - any integer, FLOAT or DECIMAL into DOUBLE (as Spark's implicit casts; a 64-bit integer
 *   above 2^53 rounds, which people accept for metrics);
 * - DECIMAL into a DECIMAL with at least as many integer and fraction digits;
 * - DATE into TIMESTAMP, and a timestamp into a more precise one;
 * - lists, maps element by element; a struct into one holding all its fields (more allowed).
 * Anything else must match exactly (INTEGER → VARCHAR would turn numbers into text).
 *
 * @example
 * castsLosslessly('DATE', 'TIMESTAMP')          // true
 * castsLosslessly('INTEGER', 'VARCHAR')         // false
 * castsLosslessly('STRUCT(a INTEGER)', 'STRUCT(a BIGINT, b VARCHAR)') // true
 */
export function castsLosslessly(from: string | DuckType, to: string | DuckType): boolean {
  return casts(asType(from), asType(to))
}

function asType(t: string | DuckType): DuckType {
  return typeof t === 'string' ? parseDuckType(t) : t
}

function casts(from: DuckType, to: DuckType): boolean {
  if (from.kind === 'named' && to.kind === 'named') return namedCasts(from.name, to.name)
  if (from.kind === 'named' && to.kind === 'decimal') {
    const w = INTEGERS[from.name]
    return w !== undefined && (DIGITS[w.bits] ?? 99) <= to.precision - to.scale
  }
  if (from.kind === 'decimal' && to.kind === 'decimal')
    return from.scale <= to.scale && from.precision - from.scale <= to.precision - to.scale
  if (from.kind === 'decimal' && to.kind === 'named') return to.name === 'DOUBLE'
  if (from.kind === 'list' && to.kind === 'list') return casts(from.element, to.element)
  if (from.kind === 'map' && to.kind === 'map')
    return casts(from.key, to.key) && casts(from.value, to.value)
  if (from.kind === 'struct' && to.kind === 'struct') {
    const byName = new Map(to.fields.map((f) => [f.name.toLowerCase(), f.type]))
    return from.fields.every((f) => {
      const target = byName.get(f.name.toLowerCase())
      return target !== undefined && casts(f.type, target)
    })
  }
  return false
}

function namedCasts(from: string, to: string): boolean {
  if (from === to) return true
  const f = INTEGERS[from]
  const t = INTEGERS[to]
  if (f && t) {
    if (f.signed === t.signed) return f.bits <= t.bits
    return t.signed && f.bits < t.bits
  }
  if (to === 'DOUBLE') return f !== undefined || from === 'FLOAT'
  if (to === 'FLOAT') return f !== undefined && f.bits <= 16
  const fi = NAIVE_TIMES.indexOf(from)
  const ti = NAIVE_TIMES.indexOf(to)
  return fi >= 0 && ti >= 0 && fi <= ti
}

/**
 * The narrowest type both `ours` and `theirs` cast into without loss (castsLosslessly), or
 * undefined when they clash. Integers of different signedness widen to a signed integer twice
 * as wide; mixed numbers to DOUBLE. The result keeps `ours`'s spelling when it is one of the two.
 *
 * @example
 * widenType('INTEGER', 'UINTEGER')   // 'BIGINT'
 * widenType('FLOAT', 'INTEGER')      // 'DOUBLE'
 * widenType('DATE', 'TIMESTAMP')     // 'TIMESTAMP'
 * widenType('VARCHAR', 'INTEGER')    // undefined
 */
export function widenType(ours: string, theirs: string): string | undefined {
  if (ours.toUpperCase() === theirs.toUpperCase()) return ours
  const o = parseDuckType(ours)
  const t = parseDuckType(theirs)
  if (casts(t, o)) return ours
  if (casts(o, t)) return theirs
  if (o.kind === 'named' && t.kind === 'named') {
    const oi = INTEGERS[o.name]
    const ti = INTEGERS[t.name]
    if (oi && ti) {
      // Different signedness (same signedness always casts one way): a signed integer wide
      // enough for both, or nothing past 128 bits (a DOUBLE would round such values).
      const [s, u] = oi.signed ? [oi, ti] : [ti, oi]
      return SIGNED_BY_BITS[Math.max(s.bits, u.bits * 2)]
    }
  }
  const common = 'DOUBLE'
  return casts(o, parseDuckType(common)) && casts(t, parseDuckType(common)) ? common : undefined
}

/** A small recursive-descent parser over DuckDB's printed type syntax. */
class TypeParser {
  #pos = 0
  constructor(readonly text: string) {}

  parseType(): DuckType {
    this.#skipSpace()
    const word = this.#word().toUpperCase()
    let type: DuckType
    if (word === 'STRUCT' || word === 'ROW') {
      this.#expect('(')
      const fields: { name: string; type: DuckType }[] = []
      while (true) {
        this.#skipSpace()
        const name = this.#name()
        fields.push({ name, type: this.parseType() })
        this.#skipSpace()
        if (this.#peek() === ',') {
          this.#pos++
          continue
        }
        this.#expect(')')
        break
      }
      type = { kind: 'struct', fields }
    } else if (word === 'MAP') {
      this.#expect('(')
      const key = this.parseType()
      this.#expect(',')
      const value = this.parseType()
      this.#expect(')')
      type = { kind: 'map', key, value }
    } else if (word === 'DECIMAL' || word === 'NUMERIC') {
      this.#skipSpace()
      if (this.#peek() === '(') {
        this.#pos++
        const precision = Number(this.#word())
        this.#expect(',')
        const scale = Number(this.#word())
        this.#expect(')')
        type = { kind: 'decimal', precision, scale }
      } else {
        type = { kind: 'decimal', precision: 18, scale: 3 } // DuckDB's default DECIMAL
      }
    } else {
      let name = canonicalName(word)
      // "TIMESTAMP WITH TIME ZONE" and "TIME WITH TIME ZONE" are the multi-word primitives.
      const tz = /^\s+WITH\s+TIME\s+ZONE/i.exec(this.text.slice(this.#pos))
      if ((name === 'TIMESTAMP' || name === 'TIME') && tz) {
        this.#pos += tz[0].length
        name = `${name} WITH TIME ZONE`
      }
      // VARCHAR(20), ENUM('a', 'b'), UNION(…): the parameters do not change how we treat it.
      this.#skipBalanced()
      type = { kind: 'named', name }
    }
    // Trailing list markers: T[] or fixed-size T[3], possibly repeated.
    while (true) {
      this.#skipSpace()
      if (this.#peek() !== '[') break
      this.#pos++
      while (this.#peek() !== ']' && this.#pos < this.text.length) this.#pos++
      this.#expect(']')
      type = { kind: 'list', element: type }
    }
    return type
  }

  expectEnd(): void {
    this.#skipSpace()
    if (this.#pos < this.text.length)
      throw new DuckmergeError('UNSUPPORTED_FEATURE', `Cannot parse DuckDB type "${this.text}".`, {
        type: this.text,
      })
  }

  #name(): string {
    if (this.#peek() !== '"') return this.#word()
    let out = ''
    this.#pos++
    while (this.#pos < this.text.length) {
      const c = this.text[this.#pos++]
      if (c === '"') {
        if (this.text[this.#pos] === '"') {
          out += '"'
          this.#pos++
          continue
        }
        return out
      }
      out += c
    }
    throw this.#error()
  }

  #word(): string {
    this.#skipSpace()
    const m = /^[A-Za-z0-9_]+/.exec(this.text.slice(this.#pos))
    if (!m) throw this.#error()
    this.#pos += m[0].length
    return m[0]
  }

  #skipBalanced(): void {
    this.#skipSpace()
    if (this.#peek() !== '(') return
    let depth = 0
    let quote: string | undefined
    for (; this.#pos < this.text.length; this.#pos++) {
      const c = this.text[this.#pos]
      if (quote) {
        if (c === quote) quote = undefined
      } else if (c === "'" || c === '"') quote = c
      else if (c === '(') depth++
      else if (c === ')' && --depth === 0) {
        this.#pos++
        return
      }
    }
    throw this.#error()
  }

  #expect(c: string): void {
    this.#skipSpace()
    if (this.#peek() !== c) throw this.#error()
    this.#pos++
  }

  #peek(): string | undefined {
    return this.text[this.#pos]
  }

  #skipSpace(): void {
    while (this.#pos < this.text.length && /\s/.test(this.text[this.#pos] ?? '')) this.#pos++
  }

  #error(): DuckmergeError {
    return new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot parse DuckDB type "${this.text}" at position ${this.#pos}.`,
      { type: this.text },
    )
  }
}
