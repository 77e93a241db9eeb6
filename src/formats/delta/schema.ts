/**
 * Delta table schemas (PROTOCOL.md, Schema Serialization Format): the JSON form Spark writes in
 * schemaString. The reader owns parsing and the mapping to DuckDB types.
 */

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
