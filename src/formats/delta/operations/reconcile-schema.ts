/** Schema enforcement on write: does a source fit the table, and which columns does it add? */
import { castsLosslessly } from '../../../engine/type-rules.js'
import { DuckmergeError } from '../../../errors.js'
import {
  type DataType,
  deltaToDuckDbType,
  type StructField,
  type StructType,
  typeToString,
} from '../schema.js'

export interface ReconciledSchema {
  readonly schema: StructType
  /** Table columns the source lacks (written as NULL). */
  readonly missingColumns: readonly string[]
  /** True when mergeSchema added columns. */
  readonly changed: boolean
}

/**
 * Checks a source schema against the table's: every source column must exist in the table (or is
 * added with mergeSchema) with the same type or one that widens safely into it; table columns
 * the source lacks must be nullable. Names match case-insensitively, as in Spark.
 * Throws SCHEMA_MISMATCH naming every offending column.
 */
export function reconcileSchema(
  table: StructType,
  source: StructType,
  options: { readonly mergeSchema?: boolean; readonly tablePath: string; readonly what: string },
): ReconciledSchema {
  const byName = new Map(table.fields.map((f) => [f.name.toLowerCase(), f]))
  const extra: StructField[] = []
  const issues: string[] = []
  for (const field of source.fields) {
    const target = byName.get(field.name.toLowerCase())
    if (!target) {
      extra.push(field)
      continue
    }
    if (!widensTo(field.type, target.type))
      issues.push(
        `"${field.name}" is ${typeToString(field.type)} in ${options.what} but ${typeToString(target.type)} in the table`,
      )
  }
  if (extra.length > 0 && !options.mergeSchema)
    issues.push(
      `${extra.map((f) => `"${f.name}"`).join(', ')} ${extra.length > 1 ? 'are' : 'is'} not in the table`,
    )
  const present = new Set(source.fields.map((f) => f.name.toLowerCase()))
  const missing = table.fields.filter((f) => !present.has(f.name.toLowerCase()))
  for (const f of missing)
    if (!f.nullable)
      issues.push(`"${f.name}" is NOT NULL in the table but missing from ${options.what}`)
  if (issues.length > 0)
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Cannot write ${options.what} to Delta table ${options.tablePath}: ${issues.join('; ')}.`,
      {
        table: options.tablePath,
        issues,
        ...(extra.length > 0 && !options.mergeSchema
          ? { hint: 'Pass {mergeSchema} to add the new columns to the table.' }
          : {}),
      },
    )
  const added = extra.map((f) => ({ ...f, nullable: true }))
  return {
    schema: added.length > 0 ? { type: 'struct', fields: [...table.fields, ...added] } : table,
    missingColumns: missing.map((f) => f.name),
    changed: added.length > 0,
  }
}

/**
 * Same type, or a cast that loses nothing, by the type rules every merge shares
 * (engine/type-rules.ts: integer widening, float → double, wider decimals, date → timestamp_ntz).
 */
function widensTo(from: DataType, to: DataType): boolean {
  if (typeToString(from) === typeToString(to)) return true
  return castsLosslessly(deltaToDuckDbType(from), deltaToDuckDbType(to))
}
