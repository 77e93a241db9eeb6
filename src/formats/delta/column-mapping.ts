/**
 * Column mapping (PROTOCOL.md, Column Mapping) and the conversion of physical Parquet columns to
 * logical Delta values: physical names at every nesting level in, logical names and exact Delta
 * types out.
 */
import { ident, join, raw, type Sql, sql } from '../../engine/sql.js'
import type { Metadata } from './actions.js'
import { type DataType, deltaToDuckDbType, type StructField } from './schema.js'

export type ColumnMappingMode = 'none' | 'name' | 'id'

/** `delta.columnMapping.mode` of the table ('none' when unset). */
export function columnMappingMode(metadata: Metadata): ColumnMappingMode {
  const mode = metadata.configuration['delta.columnMapping.mode']
  return mode === 'name' || mode === 'id' ? mode : 'none'
}

/**
 * The column's name in the data files. In name and id mode Spark writes the physical name
 * (`col-<uuid>`) as the Parquet column name at every level; we resolve by that name in both
 * modes (id mode's field ids agree with it for every writer we know).
 */
export function physicalName(field: StructField, mode: ColumnMappingMode): string {
  if (mode === 'none') return field.name
  const name = field.metadata['delta.columnMapping.physicalName']
  return typeof name === 'string' && name !== '' ? name : field.name
}

/**
 * The DuckDB type of a column as the Parquet files hold it: physical field names, and Delta
 * `timestamp` as naive TIMESTAMP (INT96 files read that way; a TIMESTAMPTZ file column widens
 * it without a time-zone shift). Used to type the NULLs of columns missing from every file.
 */
export function physicalDuckDbType(type: DataType, mode: ColumnMappingMode): string {
  if (typeof type === 'string') return type === 'timestamp' ? 'TIMESTAMP' : deltaToDuckDbType(type)
  switch (type.type) {
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${ident(physicalName(f, mode)).text} ${physicalDuckDbType(f.type, mode)}`).join(', ')})`
    case 'array':
      return `${physicalDuckDbType(type.elementType, mode)}[]`
    case 'map':
      return `MAP(${physicalDuckDbType(type.keyType, mode)}, ${physicalDuckDbType(type.valueType, mode)})`
  }
}

/**
 * An expression turning the physical value `expr` into the logical Delta value: `timestamp`
 * becomes TIMESTAMPTZ from its epoch microseconds (never through the session time zone),
 * structs are rebuilt with logical field names, everything else is CAST to its DuckDB type.
 *
 * @example
 * logicalValueSql(sql`f."col-1"`, 'timestamp', 'name') // make_timestamptz(epoch_us(f."col-1"))
 */
export function logicalValueSql(
  expr: Sql,
  type: DataType,
  mode: ColumnMappingMode,
  depth = 0,
): Sql {
  if (typeof type === 'string') {
    if (type === 'timestamp') return sql`make_timestamptz(epoch_us(${expr}))`
    return sql`CAST(${expr} AS ${raw(deltaToDuckDbType(type))})`
  }
  if (!needsRebuild(type, mode)) return sql`CAST(${expr} AS ${raw(deltaToDuckDbType(type))})`
  const v = raw(`__v${depth}`)
  switch (type.type) {
    case 'struct': {
      const fields = type.fields.map(
        (f) =>
          sql`${ident(f.name)} := ${logicalValueSql(sql`${expr}.${ident(physicalName(f, mode))}`, f.type, mode, depth + 1)}`,
      )
      return sql`CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${join(fields)}) END`
    }
    case 'array':
      return sql`list_transform(${expr}, lambda ${v}: ${logicalValueSql(v, type.elementType, mode, depth + 1)})`
    case 'map': {
      const key = logicalValueSql(sql`${v}.key`, type.keyType, mode, depth + 1)
      const value = logicalValueSql(sql`${v}.value`, type.valueType, mode, depth + 1)
      return sql`map_from_entries(list_transform(map_entries(${expr}), lambda ${v}: {'key': ${key}, 'value': ${value}}))`
    }
  }
}

/** Nested values need rebuilding when they hold renamed struct fields or Delta timestamps. */
function needsRebuild(type: DataType, mode: ColumnMappingMode): boolean {
  if (typeof type === 'string') return type === 'timestamp'
  switch (type.type) {
    case 'struct':
      return mode !== 'none' || type.fields.some((f) => needsRebuild(f.type, mode))
    case 'array':
      return needsRebuild(type.elementType, mode)
    case 'map':
      return needsRebuild(type.keyType, mode) || needsRebuild(type.valueType, mode)
  }
}
