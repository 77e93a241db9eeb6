/**
 * Delta table schemas (PROTOCOL.md, Schema Serialization Format): the JSON form Spark writes in
 * schemaString, its parser and serialiser, and the mapping to and from DuckDB types.
 */
import { type DuckType, parseDuckType } from '../../engine/type-rules.js'
import { DuckmergeError } from '../../errors.js'

export type PrimitiveTypeName =
  | 'string'
  | 'long'
  | 'integer'
  | 'short'
  | 'byte'
  | 'float'
  | 'double'
  | 'boolean'
  | 'binary'
  | 'date'
  | 'timestamp'
  | 'timestamp_ntz'
  | `decimal(${number},${number})`

export interface StructField {
  readonly name: string
  readonly type: DataType
  readonly nullable: boolean
  readonly metadata: Readonly<Record<string, unknown>>
}

export interface StructType {
  readonly type: 'struct'
  readonly fields: readonly StructField[]
}

export interface ArrayType {
  readonly type: 'array'
  readonly elementType: DataType
  readonly containsNull: boolean
}

export interface MapType {
  readonly type: 'map'
  readonly keyType: DataType
  readonly valueType: DataType
  readonly valueContainsNull: boolean
}

export type DataType = PrimitiveTypeName | StructType | ArrayType | MapType

const PRIMITIVES: ReadonlySet<string> = new Set([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'boolean',
  'binary',
  'date',
  'timestamp',
  'timestamp_ntz',
])

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/

/**
 * Parses a metaData.schemaString into a StructType. Throws DELTA_LOG_INVALID on malformed JSON
 * or an unknown type, naming the offending field.
 *
 * @example
 * parseSchema('{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]}')
 * // { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] }
 */
export function parseSchema(schemaString: string): StructType {
  let json: unknown
  try {
    json = JSON.parse(schemaString)
  } catch (error) {
    throw new DuckmergeError(
      'DELTA_LOG_INVALID',
      `Delta schemaString is not valid JSON: ${(error as Error).message}`,
      { schemaString },
    )
  }
  const type = parseDataType(json, '')
  if (typeof type !== 'object' || type.type !== 'struct')
    throw invalid('', 'the top-level schema must be a struct')
  return type
}

/** Parses one serialized Delta type (a string for primitives, an object for nested types). */
export function parseDataType(json: unknown, path: string): DataType {
  if (typeof json === 'string') {
    const name = json.trim().toLowerCase()
    if (PRIMITIVES.has(name)) return name as PrimitiveTypeName
    const m = DECIMAL.exec(name)
    if (m) {
      const precision = Number(m[1])
      const scale = Number(m[2])
      if (precision < 1 || precision > 38 || scale > precision)
        throw invalid(path, `decimal(${precision},${scale}) is out of range (precision 1–38)`)
      return `decimal(${precision},${scale})`
    }
    // Spark writes an unparameterised "decimal" as decimal(10,0).
    if (name === 'decimal') return 'decimal(10,0)'
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Delta column ${path || '(root)'} has type "${json}", which duckmerge does not read.`,
      { column: path, type: json },
    )
  }
  if (typeof json !== 'object' || json === null)
    throw invalid(path, 'a type must be a string or object')
  const o = json as Record<string, unknown>
  switch (o.type) {
    case 'struct': {
      if (!Array.isArray(o.fields)) throw invalid(path, 'struct without a fields array')
      return {
        type: 'struct',
        fields: o.fields.map((f: unknown) => parseField(f, path)),
      }
    }
    case 'array':
      return {
        type: 'array',
        elementType: parseDataType(o.elementType, `${path}.element`),
        containsNull: o.containsNull !== false,
      }
    case 'map':
      return {
        type: 'map',
        keyType: parseDataType(o.keyType, `${path}.key`),
        valueType: parseDataType(o.valueType, `${path}.value`),
        valueContainsNull: o.valueContainsNull !== false,
      }
    default:
      throw invalid(path, `unknown nested type ${JSON.stringify(o.type)}`)
  }
}

function parseField(json: unknown, parent: string): StructField {
  if (typeof json !== 'object' || json === null) throw invalid(parent, 'a field must be an object')
  const f = json as Record<string, unknown>
  if (typeof f.name !== 'string') throw invalid(parent, 'a field has no name')
  const path = parent ? `${parent}.${f.name}` : f.name
  const metadata = f.metadata
  return {
    name: f.name,
    type: parseDataType(f.type, path),
    nullable: f.nullable !== false,
    metadata:
      typeof metadata === 'object' && metadata !== null
        ? (metadata as Record<string, unknown>)
        : {},
  }
}

function invalid(path: string, why: string): DuckmergeError {
  return new DuckmergeError(
    'DELTA_LOG_INVALID',
    `Delta schema is invalid at ${path || '(root)'}: ${why}.`,
    { column: path },
  )
}

/**
 * Serialises a schema in Spark's exact JSON form (key order type, fields / name, type, nullable,
 * metadata), as written into metaData.schemaString.
 *
 * @example
 * schemaToJson({ type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] })
 * // '{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]}'
 */
export function schemaToJson(struct: StructType): string {
  return JSON.stringify(typeToJson(struct))
}

function typeToJson(type: DataType): unknown {
  if (typeof type === 'string') return type
  switch (type.type) {
    case 'struct':
      return {
        type: 'struct',
        fields: type.fields.map((f) => ({
          name: f.name,
          type: typeToJson(f.type),
          nullable: f.nullable,
          metadata: f.metadata,
        })),
      }
    case 'array':
      return {
        type: 'array',
        elementType: typeToJson(type.elementType),
        containsNull: type.containsNull,
      }
    case 'map':
      return {
        type: 'map',
        keyType: typeToJson(type.keyType),
        valueType: typeToJson(type.valueType),
        valueContainsNull: type.valueContainsNull,
      }
  }
}

/** Spark's short type name for humans and the CLI: `array<struct<a:int>>`, `decimal(10,2)`. */
export function typeToString(type: DataType): string {
  if (typeof type === 'string') return type
  switch (type.type) {
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${typeToString(f.type)}`).join(',')}>`
    case 'array':
      return `array<${typeToString(type.elementType)}>`
    case 'map':
      return `map<${typeToString(type.keyType)},${typeToString(type.valueType)}>`
  }
}

const TO_DUCKDB: Readonly<Record<string, string>> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  short: 'SMALLINT',
  byte: 'TINYINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  binary: 'BLOB',
  date: 'DATE',
  // PROTOCOL.md, Primitive Types: timestamp is an instant (UTC-adjusted), timestamp_ntz is not.
  timestamp: 'TIMESTAMP WITH TIME ZONE',
  timestamp_ntz: 'TIMESTAMP',
}

/**
 * The DuckDB type for a Delta type. Struct field names are quoted.
 *
 * @example
 * deltaToDuckDbType({ type: 'array', elementType: 'long', containsNull: true }) // 'BIGINT[]'
 * deltaToDuckDbType('decimal(10,2)') // 'DECIMAL(10,2)'
 */
export function deltaToDuckDbType(type: DataType): string {
  if (typeof type === 'string') {
    const mapped = TO_DUCKDB[type]
    if (mapped) return mapped
    const m = DECIMAL.exec(type)
    if (m) return `DECIMAL(${m[1]},${m[2]})`
    throw new DuckmergeError('UNSUPPORTED_FEATURE', `Delta type "${type}" has no DuckDB mapping.`, {
      type,
    })
  }
  switch (type.type) {
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${quoteName(f.name)} ${deltaToDuckDbType(f.type)}`).join(', ')})`
    case 'array':
      return `${deltaToDuckDbType(type.elementType)}[]`
    case 'map':
      return `MAP(${deltaToDuckDbType(type.keyType)}, ${deltaToDuckDbType(type.valueType)})`
  }
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

const FROM_DUCKDB: Readonly<Record<string, PrimitiveTypeName>> = {
  VARCHAR: 'string',
  UUID: 'string',
  JSON: 'string',
  ENUM: 'string',
  BIGINT: 'long',
  INTEGER: 'integer',
  SMALLINT: 'short',
  TINYINT: 'byte',
  // Unsigned types widen to the next signed Delta type that holds every value.
  UTINYINT: 'short',
  USMALLINT: 'integer',
  UINTEGER: 'long',
  UBIGINT: 'decimal(20,0)',
  HUGEINT: 'decimal(38,0)',
  FLOAT: 'float',
  DOUBLE: 'double',
  BOOLEAN: 'boolean',
  BLOB: 'binary',
  DATE: 'date',
  'TIMESTAMP WITH TIME ZONE': 'timestamp',
  TIMESTAMP: 'timestamp_ntz',
  TIMESTAMP_S: 'timestamp_ntz',
  TIMESTAMP_MS: 'timestamp_ntz',
  TIMESTAMP_NS: 'timestamp_ntz',
}

/**
 * The Delta type for a DuckDB type string as DESCRIBE prints it (parsed by engine/type-rules.ts).
 * Nested STRUCT, LIST (`T[]`, `T[n]`) and MAP types map recursively; new nested fields are
 * nullable. Throws UNSUPPORTED_FEATURE for types Delta cannot hold (TIME, INTERVAL, UNION, BIT).
 *
 * @example
 * duckDbToDeltaType('STRUCT(a INTEGER, "b c" VARCHAR[])')
 * // { type: 'struct', fields: [{ name: 'a', type: 'integer', … }, { name: 'b c', type: { type: 'array', … } }] }
 */
export function duckDbToDeltaType(duckdbType: string): DataType {
  return toDelta(parseDuckType(duckdbType), duckdbType)
}

function toDelta(type: DuckType, text: string): DataType {
  switch (type.kind) {
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`
    case 'list':
      return { type: 'array', elementType: toDelta(type.element, text), containsNull: true }
    case 'map':
      return {
        type: 'map',
        keyType: toDelta(type.key, text),
        valueType: toDelta(type.value, text),
        valueContainsNull: true,
      }
    case 'struct':
      return {
        type: 'struct',
        fields: type.fields.map((f) => ({
          name: f.name,
          type: toDelta(f.type, text),
          nullable: true,
          metadata: {},
        })),
      }
    case 'named': {
      const mapped = FROM_DUCKDB[type.name]
      if (!mapped)
        throw new DuckmergeError(
          'UNSUPPORTED_FEATURE',
          `DuckDB type ${type.name} cannot be stored in a Delta table (in "${text}"). Cast it first (e.g. TIME to VARCHAR).`,
          { type: text },
        )
      return mapped
    }
  }
}
