/** `exp plot`: a metric against a param, one line per experiment, as an SVG chart. */
import { basename } from 'node:path'
import { ident, raw, type SqlValue, sql } from '../engine/sql.js'
import { allSync } from '../engine/sqlite.js'
import { DuckmergeError } from '../errors.js'
import { formatNumber } from './explorer-list.js'
import {
  assertColumns,
  assertNumericColumn,
  openResultsTable,
  type ResultsSourceOptions,
} from './explorer-source.js'
import { naturalCompare, rowsSource, versionName } from './explorer-stats.js'
import { prefersLog } from './plot-scale.js'
import { type ChartPoint, type ChartSeries, renderChart } from './plot-svg.js'

export type Band = 'std' | 'minmax' | 'none'
export type XScale = 'auto' | 'linear' | 'log'

export interface PlotMetricOptions extends ResultsSourceOptions {
  /** The y axis: this column's mean per point. */
  readonly metric: string
  /** The x axis: a param column (numbers give a linear or log axis, text a category axis). */
  readonly by: string
  /** One line per value of this column. Default: the version column; null for a single line. */
  readonly series?: string | null
  /** Default 'std' (mean ± 1 std, clipped to the observed min–max). */
  readonly band?: Band
  /** Default 'auto': log when positive x values span two decades or more. */
  readonly xScale?: XScale
  /** A SQL predicate over the table's rows. */
  readonly where?: string
  /** Only these versions. */
  readonly versions?: readonly string[]
  readonly title?: string
}

export interface PlotPoint {
  readonly series: string
  readonly x: SqlValue
  readonly count: number
  readonly mean: number
  readonly std: number | null
  readonly min: number
  readonly max: number
}

export interface PlotResult {
  readonly svg: string
  readonly table: string
  readonly metric: string
  readonly by: string
  readonly xAxis: 'linear' | 'log' | 'category'
  readonly band: Band
  readonly series: readonly string[]
  readonly points: readonly PlotPoint[]
}

/**
 * Aggregates `metric` per (series, `by` value) and draws it.
 *
 * @example
 * const { svg } = await plotMetric({ db: 'results/experiments.db', metric: 'accuracy', by: 'lr' })
 * await writeFile('accuracy-by-lr.svg', svg)
 */
export async function plotMetric(options: PlotMetricOptions): Promise<PlotResult> {
  const band = options.band ?? 'std'
  const xScale = options.xScale ?? 'auto'
  if (!['std', 'minmax', 'none'].includes(band))
    throw new DuckmergeError('USAGE', `band must be std, minmax or none, got "${band}"`)
  if (!['auto', 'linear', 'log'].includes(xScale))
    throw new DuckmergeError('USAGE', `x scale must be auto, linear or log, got "${xScale}"`)
  const source = await openResultsTable(options)
  let points: PlotPoint[]
  try {
    assertNumericColumn(source, options.metric, 'plot')
    assertColumns(source, [options.by], 'param')
    const seriesColumn = options.series === undefined ? source.versionColumn : options.series
    if (seriesColumn !== null) assertColumns(source, [seriesColumn], 'param')
    const from = rowsSource(source, {
      ...(options.where !== undefined ? { where: options.where } : {}),
      ...(options.versions ? { versions: options.versions } : {}),
    })
    const m = ident(options.metric)
    const x = ident(options.by)
    const s = seriesColumn === null ? raw('null') : ident(seriesColumn)
    const rows = allSync<{
      s: SqlValue
      x: SqlValue
      n: number
      total: number
      squares: number
      lo: number
      hi: number
    }>(
      source.db,
      sql`select ${s} as s, ${x} as x, count(${m}) as n, total(${m}) as total,
        total(cast(${m} as real) * ${m}) as squares, min(cast(${m} as real)) as lo, max(cast(${m} as real)) as hi
        from ${from} where ${m} is not null and ${x} is not null group by 1, 2`,
    )
    points = rows.map((row) => {
      const mean = row.total / row.n
      const variance =
        row.n > 1 ? (row.squares - (row.total * row.total) / row.n) / (row.n - 1) : null
      return {
        series: seriesColumn === null ? options.metric : versionName(row.s),
        x: row.x,
        count: row.n,
        mean,
        std: variance === null ? null : Math.sqrt(Math.max(0, variance)),
        min: row.lo,
        max: row.hi,
      }
    })
    if (points.length === 0)
      throw new DuckmergeError(
        'VALIDATION_FAILED',
        `Nothing to plot: no row of table "${source.table}" in ${source.path} has both ${options.metric} and ${options.by}${options.where ? ` matching "${options.where}"` : ''}${options.versions ? ` in versions ${options.versions.join(', ')}` : ''}.`,
        { path: source.path, table: source.table },
      )
  } finally {
    source.db.close()
  }
  const numeric = points.every((p) => typeof p.x === 'number')
  const xs = points.map((p) => Number(p.x))
  if (xScale === 'log' && (!numeric || xs.some((v) => !(v > 0))))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot draw ${options.by} on a log axis: it has ${numeric ? 'values ≤ 0' : 'non-numeric values'}.`,
      { by: options.by, hint: 'Set {xScale} to linear.' },
    )
  const xAxis = !numeric
    ? 'category'
    : xScale === 'log' || (xScale === 'auto' && prefersLog(xs))
      ? 'log'
      : 'linear'
  const names = [...new Set(points.map((p) => p.series))].sort(naturalCompare)
  const series: ChartSeries[] = names.map((name) => ({
    name,
    points: points.filter((p) => p.series === name).map((p) => chartPoint(p, band, options)),
  }))
  const categories = numeric
    ? undefined
    : [...new Set(points.map((p) => String(p.x)))].sort(naturalCompare)
  const rowsPlotted = points.reduce((acc, p) => acc + p.count, 0)
  const bandText = band === 'std' ? 'mean ± 1 std' : band === 'minmax' ? 'mean, min–max' : 'mean'
  const svg = renderChart({
    title: options.title ?? `${options.metric} by ${options.by}`,
    subtitle: `${bandText} per ${options.by} value · ${rowsPlotted} rows of ${source.table} in ${basename(source.path)}`,
    xLabel: `${options.by}${xAxis === 'log' ? ' (log scale)' : ''}`,
    yLabel: `${options.metric} (mean)`,
    xKind: xAxis,
    ...(categories ? { categories } : {}),
    series,
    ...(band === 'none' ? {} : { bandLabel: band === 'std' ? '± 1 std' : 'min–max' }),
  })
  return {
    svg,
    table: source.table,
    metric: options.metric,
    by: options.by,
    xAxis,
    band,
    series: names,
    points,
  }
}

function chartPoint(p: PlotPoint, band: Band, options: PlotMetricOptions): ChartPoint {
  // A std band can claim values no row has (accuracy above 1): clip it to the observed range.
  const spread = p.std ?? 0
  const [low, high] =
    band === 'minmax'
      ? [p.min, p.max]
      : band === 'std'
        ? [Math.max(p.min, p.mean - spread), Math.min(p.max, p.mean + spread)]
        : [p.mean, p.mean]
  const std = p.std === null ? '' : `, std ${formatNumber(p.std)}`
  return {
    x: typeof p.x === 'number' ? p.x : String(p.x),
    mean: p.mean,
    low,
    high,
    detail: `${p.series}, ${options.by}=${String(p.x)}: mean ${formatNumber(p.mean)} (n=${p.count}${std}, min ${formatNumber(p.min)}, max ${formatNumber(p.max)})`,
  }
}
