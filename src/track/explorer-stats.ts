/**
 * Per-experiment statistics of a results table: which columns are params and which metrics,
 * each version's params, runs, and per-metric count/mean/std/min/max.
 *
 *   sample (first 10k rows): drop columns that vary inside a run
 *   → GROUP BY version: count, and per metric count, total, total of squares (min, max)
 *   → SELECT DISTINCT version, run, <param candidates>: runs, and each run's param values
 *
 * SQLite sorts every row for a GROUP BY, so the one sort is keyed on the version alone; the runs
 * come from a DISTINCT, which SQLite dedups through a small index instead of sorting.
 */

import { empty, ident, join, raw, Sql, type SqlValue, sql } from '../engine/sql.js'
import { allSync } from '../engine/sqlite.js'
import { assertColumns, type ResultsTable } from './explorer-source.js'
import { assertWherePredicate } from './explorer-where.js'

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

export interface VersionStats {
  readonly version: string
  readonly rows: number
  /** Runs (track_ids) of the version, sorted; empty when the table has no run column. */
  readonly runs: readonly string[]
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
  const run = source.runColumn
  const keys = [source.versionColumn, ...(run ? [run] : [])]
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
  // Without a run column each version is one run: its params are found in the same pass.
  const byVersion = rowsSource(source, options, true)
  const versions = versionAggregates(source, byVersion, summed, run ? [] : candidates, shape)
  const runValues = run
    ? runParamValues(source, from, run, candidates)
    : versionParamValues(versions, candidates)

  const params = options.params
    ? [...options.params]
    : candidates.filter((c) => [...runValues.values()].every((r) => r.values.get(c)?.constant))
  const paramSet = new Set(params)
  const metrics = options.metrics
    ? [...options.metrics]
    : defaultMetrics.filter((m) => !paramSet.has(m))
  const late = metrics.filter((m) => !summed.includes(m))
  if (late.length > 0) {
    const more = versionAggregates(source, byVersion, late, [], shape)
    for (const [key, v] of more) {
      const target = versions.get(key)
      if (!target) continue
      for (const [m, sums] of v.sums) target.sums.set(m, sums)
      for (const [m, value] of v.min) target.min.set(m, value)
      for (const [m, value] of v.max) target.max.set(m, value)
    }
  }
  return { params, metrics, versions: combine(versions, runValues, params, metrics, shape) }
}

interface Shape {
  /** Sums of squares, for the standard deviation. */
  readonly withSpread: boolean
  /** Min and max of each metric. */
  readonly withRange: boolean
}

/** The rows the user asked about: the table, filtered by `--where` and the versions. */
export function rowsSource(
  source: ResultsTable,
  options: Pick<StatsOptions, 'where' | 'versions'>,
  groupsByVersionOnly = false,
): Sql {
  const conditions: Sql[] = []
  // The one place user SQL enters a query: `--where` is documented as a SQL predicate over the
  // table's rows. It must be one expression (explorer-where.ts), is wrapped in parentheses, and
  // is tried alone on the first row first; the database is open read-only.
  if (options.where !== undefined && options.where.trim() !== '') {
    const predicate = new Sql(`(${options.where})`, [])
    assertWherePredicate(source.db, options.where, {
      path: source.path,
      table: source.table,
      query: sql`select 1 from ${ident(source.table)} where ${predicate} limit 1`.text,
    })
    conditions.push(predicate)
  }
  if (options.versions && options.versions.length > 0)
    conditions.push(
      sql`${ident(source.versionColumn)} in (${join(options.versions.map((v) => sql`${v}`))})`,
    )
  const where = conditions.length > 0 ? sql` where ${join(conditions, ' and ')}` : empty
  // An index on the version column pays when the query reads only some versions, or groups by
  // the version alone (index order replaces the sort; experiments are appended one after another,
  // so that order is close to the table's). Otherwise SQLite would walk the index (a random read
  // per row) and sort anyway: a plain scan is several times faster.
  const filtered = options.versions !== undefined && options.versions.length > 0
  const scan = filtered || groupsByVersionOnly ? empty : raw(' not indexed')
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

interface VersionGroup {
  readonly version: SqlValue
  readonly rows: number
  readonly min: Map<string, unknown>
  readonly max: Map<string, unknown>
  readonly sums: Map<string, { count: number; total: number; squares: number }>
}

/** One row per version: row count, metric sums (and min/max), min/max of `ranged` columns. */
function versionAggregates(
  source: ResultsTable,
  from: Sql,
  summed: readonly string[],
  ranged: readonly string[],
  shape: Shape,
): Map<string, VersionGroup> {
  const rangeColumns = [...new Set([...ranged, ...(shape.withRange ? summed : [])])]
  const kindOf = new Map(source.columns.map((c) => [c.name, c.kind]))
  const square = (c: string) =>
    // REAL times REAL cannot overflow; other columns are cast first, as integer squares could.
    kindOf.get(c) === 'float'
      ? sql`${ident(c)} * ${ident(c)}`
      : sql`cast(${ident(c)} as real) * ${ident(c)}`
  const select = [
    sql`${ident(source.versionColumn)} as k0`,
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
    sql`select ${join(select)} from ${from} group by ${ident(source.versionColumn)}`,
  )
  const out = new Map<string, VersionGroup>()
  for (const r of rows)
    out.set(versionName(r.k0 as SqlValue), {
      version: r.k0 as SqlValue,
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
    })
  return out
}

/** Rows without a run id still carry params; they are not listed as a run. */
const NO_RUN = '\u0000'

/** Per version: its runs, and for each candidate its values and whether every run has one. */
interface ParamValues {
  readonly runs: Set<string>
  readonly values: Map<string, { values: SqlValue[]; constant: boolean }>
}

/**
 * `SELECT DISTINCT version, run, candidates…`: one row per run when its params are constant (more
 * when one varies inside the run). SQLite answers it through a temporary index, without the sort
 * a GROUP BY would need.
 */
function runParamValues(
  source: ResultsTable,
  from: Sql,
  run: string,
  candidates: readonly string[],
): Map<string, ParamValues> {
  const select = [
    sql`${ident(source.versionColumn)} as k0`,
    sql`${ident(run)} as k1`,
    ...candidates.map((c, i) => sql`${ident(c)} as ${ident(`p${i}`)}`),
  ]
  const rows = allSync(source.db, sql`select distinct ${join(select)} from ${from}`)
  // version → run → candidate → distinct non-null values
  const perRun = new Map<string, Map<string, unknown[][]>>()
  for (const r of rows) {
    const version = versionName(r.k0 as SqlValue)
    const runs = perRun.get(version) ?? new Map<string, unknown[][]>()
    perRun.set(version, runs)
    const id = r.k1 === null || r.k1 === undefined ? NO_RUN : String(r.k1)
    const values = runs.get(id) ?? candidates.map(() => [])
    runs.set(id, values)
    candidates.forEach((_, i) => {
      const v = r[`p${i}`]
      const list = values[i]
      if (list && v !== null && v !== undefined && !list.some((o) => same(o, v))) list.push(v)
    })
  }
  const out = new Map<string, ParamValues>()
  for (const [version, runs] of perRun) {
    const values = new Map<string, { values: SqlValue[]; constant: boolean }>()
    candidates.forEach((c, i) => {
      const lists = [...runs.values()].map((v) => v[i] ?? [])
      values.set(c, {
        values: distinctValues(lists.flat()),
        constant: lists.every((l) => l.length <= 1),
      })
    })
    out.set(version, { runs: new Set([...runs.keys()].filter((id) => id !== NO_RUN)), values })
  }
  return out
}

/** Without runs: a candidate is a param of a version when its min equals its max there. */
function versionParamValues(
  versions: ReadonlyMap<string, VersionGroup>,
  candidates: readonly string[],
): Map<string, ParamValues> {
  const out = new Map<string, ParamValues>()
  for (const [key, g] of versions) {
    const values = new Map<string, { values: SqlValue[]; constant: boolean }>()
    for (const c of candidates)
      values.set(c, {
        values: distinctValues([g.min.get(c), g.max.get(c)]),
        constant: same(g.min.get(c), g.max.get(c)),
      })
    out.set(key, { runs: new Set(), values })
  }
  return out
}

function combine(
  versions: ReadonlyMap<string, VersionGroup>,
  runValues: ReadonlyMap<string, ParamValues>,
  params: readonly string[],
  metrics: readonly string[],
  shape: Shape,
): VersionStats[] {
  const out: VersionStats[] = []
  for (const [version, g] of versions) {
    const found = runValues.get(version)
    const values: Record<string, SqlValue> = {}
    const sweeps: Record<string, SqlValue[]> = {}
    for (const p of params) {
      const distinct = found?.values.get(p)?.values ?? []
      if (distinct.length === 1) values[p] = distinct[0] ?? null
      else if (distinct.length > 1) sweeps[p] = distinct
    }
    const stats: Record<string, MetricStats> = {}
    for (const m of metrics) stats[m] = metricStats(g, m, shape)
    out.push({
      version,
      rows: g.rows,
      runs: [...(found?.runs ?? [])].sort(naturalCompare),
      params: values,
      sweeps,
      metrics: stats,
    })
  }
  return out.sort((a, b) => naturalCompare(a.version, b.version))
}

function metricStats(g: VersionGroup, metric: string, shape: Shape): MetricStats {
  const s = g.sums.get(metric) ?? { count: 0, total: 0, squares: 0 }
  const { count, total, squares } = s
  const mean = count > 0 ? total / count : null
  if (!shape.withSpread && !shape.withRange) return { count, mean }
  // Sum-of-squares variance; clamped at 0 against rounding for near-constant metrics.
  const std =
    count > 1 ? Math.sqrt(Math.max(0, (squares - (total * total) / count) / (count - 1))) : null
  const spread = shape.withSpread ? { std } : {}
  if (!shape.withRange) return { count, mean, ...spread }
  const min = g.min.get(metric)
  const max = g.max.get(metric)
  return {
    count,
    mean,
    ...spread,
    min: typeof min === 'number' ? min : null,
    max: typeof max === 'number' ? max : null,
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
