/**
 * Typed metric columns from event payloads: the view `metrics_wide` has one row per 'log' event
 * and one column per numeric payload field, typed from what the events hold (DuckDB's
 * `json_group_structure` over every log payload):
 *
 *   number                                  → BIGINT (every value an integer) or DOUBLE
 *   object with the same keys in every event → STRUCT of its numeric fields (grouped metrics,
 *                                             e.g. {"eval": {"acc": 0.9, "f1": 0.8}}), nested
 *   object whose keys vary between events    → MAP(VARCHAR, BIGINT | DOUBLE) (open-ended counts,
 *                                             e.g. {"counts": {"cat": 3, "dog": 5}})
 *
 * Text, booleans and arrays are not metrics and get no column. A view's columns are fixed when
 * it is created, so the store recreates this one after writes (see EventStore).
 */
import { ident, join, literal, raw, type Sql, sql } from '../engine/sql.js'

/** A numeric leaf, a group (STRUCT) of fields, or open-ended counts (MAP). */
export type MetricShape =
  | { readonly kind: 'number'; readonly type: 'BIGINT' | 'DOUBLE' }
  | { readonly kind: 'struct'; readonly fields: Readonly<Record<string, MetricShape>> }
  | { readonly kind: 'map'; readonly type: 'BIGINT' | 'DOUBLE' }

/** Columns every row of metrics_wide has; payload fields with these names get no column. */
const baseColumns = ['experiment', 'run', 'step', 'time', 'event_id']

/** Objects with more keys than this are MAPs even when every event has them all. */
const maxStructFields = 100

type Structure = string | Structure[] | { [key: string]: Structure }

/** The merged structure of every log payload, as one query (the first of two). */
export const payloadStructureSql = raw(
  `select json_group_structure(payload)::VARCHAR as structure from events_all where type = 'log'`,
)

/** The object paths of a merged structure, each with its key count, for `fixedKeysSql`. */
export function objectPaths(structure: string | null): { path: string; keys: number }[] {
  const out: { path: string; keys: number }[] = []
  const walk = (s: Structure, path: string) => {
    if (typeof s !== 'object' || Array.isArray(s)) return
    if (path !== '$') out.push({ path, keys: Object.keys(s).length })
    for (const [k, v] of Object.entries(s)) walk(v, `${path}."${k.replaceAll('"', '\\"')}"`)
  }
  if (structure !== null) walk(JSON.parse(structure) as Structure, '$')
  return out
}

/**
 * Per object path, whether every log event holding an object there holds all its keys:
 * `fixed_<i>` is true for a group of metrics, false for open-ended keys.
 */
export function fixedKeysSql(paths: readonly { path: string; keys: number }[]): Sql {
  const parts = paths.map(
    (p, i) =>
      sql`coalesce(bool_and(json_type(payload, ${literal(p.path)}) <> 'OBJECT' or json_type(payload, ${literal(p.path)}) is null or len(json_keys(payload, ${literal(p.path)})) = ${raw(String(p.keys))}), true) as ${ident(`fixed_${i}`)}`,
  )
  return sql`select ${join([raw('1 as one'), ...parts])} from events_all where type = 'log'`
}

/** The shape of every top-level payload field that carries numbers. */
export function metricShapes(
  structure: string | null,
  isFixed: (path: string) => boolean,
): Record<string, MetricShape> {
  if (structure === null) return {}
  const parsed = JSON.parse(structure) as Structure
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return {}
  const fields = shapeFields(parsed, '$', isFixed)
  for (const name of baseColumns) delete fields[name]
  return fields
}

function shapeFields(
  s: { [key: string]: Structure },
  path: string,
  isFixed: (path: string) => boolean,
): Record<string, MetricShape> {
  const out: Record<string, MetricShape> = {}
  for (const [k, v] of Object.entries(s)) {
    const shape = shapeOf(v, `${path}."${k.replaceAll('"', '\\"')}"`, isFixed)
    if (shape) out[k] = shape
  }
  return out
}

function shapeOf(
  s: Structure,
  path: string,
  isFixed: (path: string) => boolean,
): MetricShape | undefined {
  if (typeof s === 'string') {
    if (s === 'BIGINT' || s === 'UBIGINT') return { kind: 'number', type: 'BIGINT' }
    if (s === 'DOUBLE') return { kind: 'number', type: 'DOUBLE' }
    return undefined
  }
  if (Array.isArray(s)) return undefined
  const values = Object.values(s)
  const flatNumbers = values.length > 0 && values.every((v) => typeof v === 'string')
  const numbers = values.filter((v) => v === 'BIGINT' || v === 'UBIGINT' || v === 'DOUBLE')
  if (flatNumbers && numbers.length === values.length) {
    const type = numbers.every((v) => v !== 'DOUBLE') ? 'BIGINT' : 'DOUBLE'
    if (!isFixed(path) || values.length > maxStructFields) return { kind: 'map', type }
  }
  const fields = shapeFields(s, path, isFixed)
  return Object.keys(fields).length > 0 ? { kind: 'struct', fields } : undefined
}

/** The json_transform structure of a shape: {"loss": "DOUBLE", "counts": "MAP(VARCHAR, BIGINT)"}. */
function transformStructure(fields: Readonly<Record<string, MetricShape>>): Structure {
  const out: Record<string, Structure> = {}
  for (const [k, shape] of Object.entries(fields)) {
    if (shape.kind === 'number') out[k] = shape.type
    else if (shape.kind === 'map') out[k] = `MAP(VARCHAR, ${shape.type})`
    else out[k] = transformStructure(shape.fields)
  }
  return out
}

/**
 * The view of typed metric columns.
 *
 * @example
 * metricColumnsView({ loss: { kind: 'number', type: 'DOUBLE' } })
 * // create or replace view metrics_wide as with t as (select experiment, run, …,
 * //   json_transform(payload, '{"loss":"DOUBLE"}') as m from events_all where type = 'log')
 * // select experiment, run, step, time, event_id, struct_extract(m, 'loss') as "loss" from t
 */
export function metricColumnsView(fields: Readonly<Record<string, MetricShape>>): Sql {
  const names = Object.keys(fields)
  const columns = names.map((k) => sql`struct_extract(m, ${literal(k)}) as ${ident(k)}`)
  const m =
    names.length > 0
      ? sql`, json_transform(payload, ${literal(JSON.stringify(transformStructure(fields)))}) as m`
      : sql``
  return sql`create or replace view metrics_wide as
    with t as (
      select experiment, run,
        row_number() over (partition by experiment, run order by time, event_id) as step,
        time, event_id ${m}
      from events_all where type = 'log'
    )
    select ${join([raw('experiment, run, step, time, event_id'), ...columns])} from t`
}
