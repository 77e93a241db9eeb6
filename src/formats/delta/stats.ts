/**
 * File skipping (PROTOCOL.md, Per-file Statistics): which live files MAY hold rows matching key
 * and range predicates, from partition values and min/max/nullCount statistics. Conservative:
 * whenever a statistic is missing, truncated or inexact, the file is kept.
 */
import type { AddFile, FileStats } from './actions.js'
import { columnMappingMode, physicalName } from './column-mapping.js'
import { partitionValueJs, typedValue } from './partition-values.js'
import type { DataType, StructField } from './schema.js'
import type { Snapshot } from './snapshot-types.js'

export type PruneOp = '=' | '<' | '<=' | '>' | '>=' | 'in' | 'between'

/** A predicate over a logical column (`a.b` for a nested struct field). */
export type PrunePredicate =
  | { readonly column: string; readonly op: '=' | '<' | '<=' | '>' | '>='; readonly value: unknown }
  | { readonly column: string; readonly op: 'in'; readonly values: readonly unknown[] }
  | {
      readonly column: string
      readonly op: 'between'
      readonly values: readonly [unknown, unknown]
    }

/** Spark truncates string statistics to this many characters (DataSkippingReader). */
const STRING_PREFIX_LENGTH = 32

/**
 * The parsed `stats` of an add action, or undefined when absent or not valid JSON.
 *
 * @example parseStats(add)?.numRecords // 10
 */
export function parseStats(add: Pick<AddFile, 'stats'>): FileStats | undefined {
  if (!add.stats) return undefined
  try {
    const value = JSON.parse(add.stats) as unknown
    return typeof value === 'object' && value !== null ? (value as FileStats) : undefined
  } catch {
    return undefined
  }
}

/**
 * The live files that may contain rows satisfying every predicate (AND). A file is dropped only
 * when its partition values or statistics prove no row can match; SQL semantics apply, so a
 * comparison with NULL matches nothing.
 *
 * @example
 * const files = pruneFiles(snapshot, [{ column: 'id', op: 'in', values: [3, 17] }])
 * await db.all(scanSql(snapshot, { files }))
 */
export function pruneFiles(
  snapshot: Snapshot,
  predicates: readonly PrunePredicate[],
): readonly AddFile[] {
  if (predicates.length === 0) return snapshot.files
  const mode = columnMappingMode(snapshot.metadata)
  const resolved = predicates.map((p) => {
    const path = resolveColumn(snapshot.schema.fields, p.column, mode)
    const isPartition = snapshot.partitionColumns.includes(p.column)
    const values = (p.op === 'in' || p.op === 'between' ? p.values : [p.value]).map((v) =>
      path ? typedValue(normaliseInput(v, path.type), path.type) : undefined,
    )
    return { predicate: p, path, isPartition, values }
  })
  return snapshot.files.filter((file) => {
    let stats: FileStats | undefined | null = null
    return resolved.every(({ predicate, path, isPartition, values }) => {
      // SQL semantics: `= NULL` (or `in (NULL)`) is never true, whatever the file holds.
      if (predicate.op === 'in' ? values.every((v) => v === null) : values.includes(null))
        return false
      if (!path || values.some((v) => v === undefined)) return true
      if (isPartition) {
        const v = partitionValueJs(file.partitionValues[path.physical[0] ?? ''], path.type)
        if (v === null) return false
        return mayMatch(predicate.op, values, v, v)
      }
      if (stats === null) stats = parseStats(file)
      if (!stats) return true
      return statsMayMatch(stats, path, predicate.op, values)
    })
  })
}

interface ColumnPath {
  readonly physical: readonly string[]
  readonly type: DataType
}

function resolveColumn(
  fields: readonly StructField[],
  column: string,
  mode: ReturnType<typeof columnMappingMode>,
): ColumnPath | undefined {
  const direct = fields.find((f) => f.name === column)
  if (direct) return { physical: [physicalName(direct, mode)], type: direct.type }
  const [head, ...rest] = column.split('.')
  const field = fields.find((f) => f.name === head)
  if (!field || rest.length === 0 || typeof field.type === 'string' || field.type.type !== 'struct')
    return undefined
  const inner = resolveColumn(field.type.fields, rest.join('.'), mode)
  return inner && { physical: [physicalName(field, mode), ...inner.physical], type: inner.type }
}

function normaliseInput(value: unknown, type: DataType): unknown {
  if (value instanceof Date)
    return type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString()
  return value
}

function statsMayMatch(
  stats: FileStats,
  path: ColumnPath,
  op: PruneOp,
  values: readonly unknown[],
): boolean {
  const nulls = lookup(stats.nullCount, path.physical)
  // Every row NULL: no comparison can be true (only trusted when bounds are tight).
  if (
    stats.tightBounds !== false &&
    typeof nulls === 'number' &&
    typeof stats.numRecords === 'number' &&
    nulls === stats.numRecords
  )
    return false
  if (!comparable(path.type)) return true
  const rawMin = lookup(stats.minValues, path.physical)
  const rawMax = lookup(stats.maxValues, path.physical)
  const min = exactBound(rawMin, path.type, 'min')
  const max = exactBound(rawMax, path.type, 'max')
  return mayMatch(op, values, min, max)
}

/** A statistic usable as a bound, or undefined when it is missing or could be inexact. */
function exactBound(raw: unknown, type: DataType, side: 'min' | 'max'): unknown {
  if (raw === null || raw === undefined) return undefined
  // JSON numbers past 2^53 lost precision when the log was parsed.
  if (typeof raw === 'number' && !Number.isFinite(raw)) return undefined
  if (typeof raw === 'number' && Number.isInteger(raw) && !Number.isSafeInteger(raw))
    return undefined
  if (type === 'string' && side === 'max' && String(raw).length >= STRING_PREFIX_LENGTH)
    return undefined
  const v = typedValue(raw, type)
  // Spark writes timestamp statistics truncated to milliseconds: widen the max by 999 µs.
  if ((type === 'timestamp' || type === 'timestamp_ntz') && side === 'max' && typeof v === 'bigint')
    return v + 999n
  return v
}

function comparable(type: DataType): boolean {
  if (typeof type !== 'string' || type === 'binary' || type === 'boolean') return false
  // JSON decimals beyond 15 digits are not exact as doubles.
  const m = /^decimal\((\d+),/.exec(type)
  return !m || Number(m[1]) <= 15
}

function lookup(record: unknown, path: readonly string[]): unknown {
  let value: unknown = record
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

/** Whether some value in [min, max] can satisfy `op values`; an unknown bound never excludes. */
function mayMatch(op: PruneOp, values: readonly unknown[], min: unknown, max: unknown): boolean {
  const ge = (a: unknown, b: unknown) => a === undefined || b === undefined || compare(a, b) >= 0
  const gt = (a: unknown, b: unknown) => a === undefined || b === undefined || compare(a, b) > 0
  // SQL semantics: a comparison with NULL is never true (`in` just skips its NULLs).
  if (op === 'in') return values.some((x) => x !== null && ge(x, min) && ge(max, x))
  if (values.some((x) => x === null)) return false
  const [v, w] = values
  switch (op) {
    case '=':
      return ge(v, min) && ge(max, v)
    case '<':
      return gt(v, min)
    case '<=':
      return ge(v, min)
    case '>':
      return gt(max, v)
    case '>=':
      return ge(max, v)
    case 'between':
      return ge(max, v) && ge(w, min)
  }
}

function compare(a: unknown, b: unknown): number {
  if (
    (typeof a === 'number' || typeof a === 'bigint') &&
    (typeof b === 'number' || typeof b === 'bigint')
  )
    return a < b ? -1 : a > b ? 1 : 0
  const x = String(a)
  const y = String(b)
  return x < y ? -1 : x > y ? 1 : 0
}
