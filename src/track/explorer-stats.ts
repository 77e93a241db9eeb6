/**
 * Per-experiment statistics of a results table in one aggregate pass: which columns are params
 * and which metrics, each version's params, runs, and per-metric count/mean/std.
 *
 * sample (first 10k rows) → drop columns that vary inside a run → one GROUP BY version, run over
 * the rest (params: min/max; metrics: count, total, total of squares) → combined per version here.
 */

import { empty, ident, join, raw, Sql, type SqlValue, sql } from '../engine/sql.js'
import { allSync } from '../engine/sqlite.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { assertColumns, type ResultsTable } from './explorer-source.js'

/** Columns xetrack writes for bookkeeping: never params, never metrics. */
export const XETRACK_SYSTEM_COLUMNS = [
  'timestamp',
  'function_name',
  'args',
  'kwargs',
  'error',
] as const

export interface MetricStats {
  /** Non-null values. */
  readonly count: number
  readonly mean: number | null
  /** Sample standard deviation (n − 1); null below two values; absent when not asked for. */
  readonly std?: number | null
  /** Present when asked for (`withRange`). */
  readonly min?: number | null
  readonly max?: number | null
}

export interface RunStats {
  readonly id: string
  readonly rows: number
}

export interface VersionStats {
  readonly version: string
  readonly rows: number
  /** Runs (track_ids) of the version, by id; empty when the table has no run column. */
  readonly runs: readonly RunStats[]
  /** Params with one value over the whole version (NULL-only params are left out). */
  readonly params: Readonly<Record<string, SqlValue>>
  /** Params constant within each run that differ between runs (a sweep): sorted distinct values. */
  readonly sweeps: Readonly<Record<string, readonly SqlValue[]>>
  readonly metrics: Readonly<Record<string, MetricStats>>
}

export interface ExperimentStats {
  readonly params: readonly string[]
  readonly metrics: readonly string[]
  readonly versions: readonly VersionStats[]
}

export interface StatsOptions {
  /** A SQL predicate over the table's rows, supplied by the user (`--where`). */
  readonly where?: string
  /** Only these versions. */
  readonly versions?: readonly string[]
  /** Params to report, instead of detecting them. */
  readonly params?: readonly string[]
  /** Metrics to report, instead of every REAL column that is not a param. */
  readonly metrics?: readonly string[]
  /** Also compute each metric's min and max. */
  readonly withRange?: boolean
  /** Compute each metric's standard deviation (default true; listing means only skips it). */
  readonly withSpread?: boolean
}

const SAMPLE_ROWS = 10_000

/**
 * Computes the statistics. Params are detected as the columns constant within every run
 * (nulls ignored) — so `lr` in a sweep is a param with one value per run — unless `params` names
 * them. Metrics default to the REAL columns that are not params: integer columns in event tables
 * are mostly ids, labels and flags, so they are metrics only when named.
 *
 * @example
 * const stats = computeStats(source, { metrics: ['accuracy'] })
 * // versions: [{ version: 'e0.1.0', rows: 40, metrics: { accuracy: { count: 40, mean: 0.75, … } } }]
 */
export function computeStats(source: ResultsTable, options: StatsOptions = {}): ExperimentStats {
  if (options.metrics) assertColumns(source, options.metrics, 'metric')
  if (options.params) assertColumns(source, options.params, 'param')
  const from = rowsSource(source, options)
  const keys = [source.versionColumn, ...(source.runColumn ? [source.runColumn] : [])]
  const system = new Set<string>([...keys, ...XETRACK_SYSTEM_COLUMNS])
  const explicitMetrics = new Set(options.metrics ?? [])
  const kindOf = new Map(source.columns.map((c) => [c.name, c.kind]))

  let candidates: string[]
  if (options.params) candidates = [...options.params]
  else {
    candidates = source.columns
      .map((c) => c.name)
      .filter((n) => !system.has(n) && !explicitMetrics.has(n))
    const sample = sampleConstancy(source, from, keys, candidates)
    candidates = candidates.filter((c) => sample.constant.has(c))
    // One row per run (a summary table) is no evidence: keep REAL columns as metrics.
    if (!sample.hasMultiRowRun) candidates = candidates.filter((c) => kindOf.get(c) !== 'float')
  }
  // Metric sums are taken for the REAL columns that are not param candidates; a candidate that
  // turns out to vary inside a run is summed in a second, narrower pass (rare).
  const candidateSet = new Set(candidates)
  const defaultMetrics = source.columns
    .filter((c) => c.kind === 'float' && !system.has(c.name))
    .map((c) => c.name)
    .filter((n) => !options.params?.includes(n))
  const summed = options.metrics
    ? [...options.metrics]
    : defaultMetrics.filter((m) => !candidateSet.has(m))
  const shape = { withSpread: options.withSpread ?? true, withRange: options.withRange ?? false }
  const groups = aggregate(source, from, keys, candidates, summed, shape)

  const params = options.params
    ? [...options.params]
    : candidates.filter((c) => groups.every((g) => same(g.min.get(c), g.max.get(c))))
  const paramSet = new Set(params)
  const metrics = options.metrics
    ? [...options.metrics]
    : defaultMetrics.filter((m) => !paramSet.has(m))
  const late = metrics.filter((m) => !summed.includes(m))
  if (late.length > 0) addSums(groups, aggregate(source, from, keys, [], late, shape))
  return { params, metrics, versions: combine(groups, params, metrics, shape) }
}

interface Shape {
  /** Sums of squares, for the standard deviation. */
  readonly withSpread: boolean
  /** Min and max of each metric. */
  readonly withRange: boolean
}

function addSums(groups: readonly Group[], more: readonly Group[]): void {
  const byKey = new Map(more.map((g) => [groupKey(g), g]))
  for (const g of groups) {
    const extra = byKey.get(groupKey(g))
    if (!extra) continue
    for (const [metric, sums] of extra.sums) g.sums.set(metric, sums)
    for (const [metric, value] of extra.min) g.min.set(metric, value)
    for (const [metric, value] of extra.max) g.max.set(metric, value)
  }
}

function groupKey(g: Group): string {
  return JSON.stringify([typeof g.version, String(g.version), typeof g.run, String(g.run)])
}

/** The rows the user asked about: the table, filtered by `--where` and the versions. */
export function rowsSource(
  source: ResultsTable,
  options: Pick<StatsOptions, 'where' | 'versions'>,
): Sql {
  const conditions: Sql[] = []
  // The one place user SQL enters a query: `--where` is documented as a SQL predicate over the
  // table's rows. It is wrapped in parentheses and checked by preparing it alone first; the
  // database is open read-only, and better-sqlite3 refuses a second statement.
  if (options.where !== undefined && options.where.trim() !== '') {
    const predicate = new Sql(`(${options.where})`, [])
    try {
      source.db.prepare(sql`select 1 from ${ident(source.table)} where ${predicate} limit 0`.text)
    } catch (error) {
      throw new DuckmergeError(
        'VALIDATION_FAILED',
        `Invalid --where predicate "${options.where}" on table "${source.table}" of ${source.path}: ${messageOf(error)}. Pass a SQL condition over its columns, e.g. "lr < 0.01".`,
        { path: source.path, table: source.table, where: options.where },
        { cause: error },
      )
    }
    conditions.push(predicate)
  }
  if (options.versions && options.versions.length > 0)
    conditions.push(
      sql`${ident(source.versionColumn)} in (${join(options.versions.map((v) => sql`${v}`))})`,
    )
  const where = conditions.length > 0 ? sql` where ${join(conditions, ' and ')}` : empty
  // Over all versions, an index on the version column only makes SQLite walk the table in index
  // order (a random read per row) and then sort anyway: a plain scan is several times faster.
  // With a versions filter the index is what makes the query read only those rows.
  const scan = options.versions && options.versions.length > 0 ? empty : raw(' not indexed')
  return sql`(select * from ${ident(source.table)}${scan}${where})`
}

function sampleConstancy(
  source: ResultsTable,
  from: Sql,
  keys: readonly string[],
  columns: readonly string[],
): { constant: Set<string>; hasMultiRowRun: boolean } {
  const select = [
    sql`count(*) as n`,
    ...columns.flatMap((c, i) => [
      sql`min(${ident(c)}) as ${ident(`min${i}`)}`,
      sql`max(${ident(c)}) as ${ident(`max${i}`)}`,
    ]),
  ]
  const rows = allSync(
    source.db,
    sql`select ${join(select)} from (select * from ${from} limit ${SAMPLE_ROWS}) group by ${join(keys.map(ident))}`,
  )
  const constant = new Set(columns)
  columns.forEach((c, i) => {
    if (rows.some((r) => !same(r[`min${i}`], r[`max${i}`]))) constant.delete(c)
  })
  return { constant, hasMultiRowRun: rows.some((r) => Number(r.n) > 1) }
}

interface Group {
  readonly version: SqlValue
  readonly run: SqlValue | undefined
  readonly rows: number
  readonly min: Map<string, unknown>
  readonly max: Map<string, unknown>
  readonly sums: Map<string, { count: number; total: number; squares: number }>
}

function aggregate(
  source: ResultsTable,
  from: Sql,
  keys: readonly string[],
  ranged: readonly string[],
  summed: readonly string[],
  shape: Shape,
): Group[] {
  const rangeColumns = [...new Set([...ranged, ...(shape.withRange ? summed : [])])]
  const kindOf = new Map(source.columns.map((c) => [c.name, c.kind]))
  const square = (c: string) =>
    // REAL times REAL cannot overflow; other columns are cast first, as integer squares could.
    kindOf.get(c) === 'float'
      ? sql`${ident(c)} * ${ident(c)}`
      : sql`cast(${ident(c)} as real) * ${ident(c)}`
  const select = [
    sql`${ident(keys[0] ?? '')} as k0`,
    keys[1] !== undefined ? sql`${ident(keys[1])} as k1` : raw('null as k1'),
    sql`count(*) as n`,
    ...rangeColumns.flatMap((c, i) => [
      sql`min(${ident(c)}) as ${ident(`min${i}`)}`,
      sql`max(${ident(c)}) as ${ident(`max${i}`)}`,
    ]),
    // total() never overflows: it always sums in floating point.
    ...summed.flatMap((c, i) => [
      sql`count(${ident(c)}) as ${ident(`cnt${i}`)}`,
      sql`total(${ident(c)}) as ${ident(`sum${i}`)}`,
      ...(shape.withSpread ? [sql`total(${square(c)}) as ${ident(`sq${i}`)}`] : []),
    ]),
  ]
  const rows = allSync(
    source.db,
    sql`select ${join(select)} from ${from} group by ${join(keys.map(ident))}`,
  )
  return rows.map((r) => ({
    version: r.k0 as SqlValue,
    run: keys[1] !== undefined ? (r.k1 as SqlValue) : undefined,
    rows: Number(r.n),
    min: new Map(rangeColumns.map((c, i) => [c, r[`min${i}`]])),
    max: new Map(rangeColumns.map((c, i) => [c, r[`max${i}`]])),
    sums: new Map(
      summed.map((c, i) => [
        c,
        {
          count: Number(r[`cnt${i}`]),
          total: Number(r[`sum${i}`]),
          squares: shape.withSpread ? Number(r[`sq${i}`]) : Number.NaN,
        },
      ]),
    ),
  }))
}

function combine(
  groups: readonly Group[],
  params: readonly string[],
  metrics: readonly string[],
  shape: Shape,
): VersionStats[] {
  const byVersion = new Map<string, Group[]>()
  for (const g of groups) {
    const key = versionName(g.version)
    const list = byVersion.get(key) ?? []
    list.push(g)
    byVersion.set(key, list)
  }
  const versions: VersionStats[] = []
  for (const [version, list] of byVersion) {
    const values: Record<string, SqlValue> = {}
    const sweeps: Record<string, SqlValue[]> = {}
    for (const p of params) {
      const distinct = distinctValues(list.flatMap((g) => [g.min.get(p), g.max.get(p)]))
      if (distinct.length === 1) values[p] = distinct[0] ?? null
      else if (distinct.length > 1) sweeps[p] = distinct
    }
    const stats: Record<string, MetricStats> = {}
    for (const m of metrics) stats[m] = metricStats(list, m, shape)
    versions.push({
      version,
      rows: list.reduce((acc, g) => acc + g.rows, 0),
      runs: list
        .filter((g) => g.run !== undefined)
        .map((g) => ({ id: String(g.run), rows: g.rows }))
        .sort((a, b) => naturalCompare(a.id, b.id)),
      params: values,
      sweeps,
      metrics: stats,
    })
  }
  return versions.sort((a, b) => naturalCompare(a.version, b.version))
}

function metricStats(groups: readonly Group[], metric: string, shape: Shape): MetricStats {
  let count = 0
  let total = 0
  let squares = 0
  for (const g of groups) {
    const s = g.sums.get(metric)
    if (!s) continue
    count += s.count
    total += s.total
    squares += s.squares
  }
  const mean = count > 0 ? total / count : null
  if (!shape.withSpread && !shape.withRange) return { count, mean }
  // Sum-of-squares variance; clamped at 0 against rounding for near-constant metrics.
  const std =
    count > 1 ? Math.sqrt(Math.max(0, (squares - (total * total) / count) / (count - 1))) : null
  const spread = shape.withSpread ? { std } : {}
  if (!shape.withRange) return { count, mean, ...spread }
  const mins = groups.map((g) => g.min.get(metric)).filter((v) => typeof v === 'number')
  const maxs = groups.map((g) => g.max.get(metric)).filter((v) => typeof v === 'number')
  return {
    count,
    mean,
    ...spread,
    min: mins.length > 0 ? Math.min(...mins) : null,
    max: maxs.length > 0 ? Math.max(...maxs) : null,
  }
}

/** A version value as the explorer names it (NULL versions become '(none)'). */
export function versionName(value: SqlValue | undefined): string {
  return value === null || value === undefined ? '(none)' : String(value)
}

function distinctValues(values: readonly unknown[]): SqlValue[] {
  const out: SqlValue[] = []
  for (const v of values) {
    if (v === null || v === undefined) continue
    if (!out.some((o) => same(o, v))) out.push(v as SqlValue)
  }
  return out.sort(compareValues)
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(b)
  return a === b
}

function compareValues(a: SqlValue, b: SqlValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return naturalCompare(String(a), String(b))
}

const collator = new Intl.Collator('en', { numeric: true })

/** e0.2.0 before e0.10.0: digit runs compare as numbers. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b)
}
