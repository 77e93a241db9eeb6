/** One metric's values in the order they were logged, for a time-series chart with a rolling mean. */
import { ident, type SqlValue, sql } from '../engine/sql.js'
import { allSync } from '../engine/sqlite.js'
import {
  assertNumericColumn,
  openResultsTable,
  type ResultsSourceOptions,
} from './explorer-source.js'
import { rowsSource, versionName } from './explorer-stats.js'

export interface MetricSeriesOptions extends ResultsSourceOptions {
  readonly metric: string
  /** A SQL predicate over the table's rows (as `exp list --where`). */
  readonly where?: string
  /** At most this many values, the latest ones (default 5000). */
  readonly limit?: number
}

export interface MetricSeriesPoint {
  readonly version: string
  readonly run: SqlValue
  readonly value: number
}

export interface MetricSeries {
  readonly metric: string
  /** The column the order comes from: xetrack's `timestamp` when present, else insertion order. */
  readonly orderedBy: string
  readonly points: readonly MetricSeriesPoint[]
}

/**
 * Reads `metric` row by row in logging order.
 *
 * @example
 * const { points } = await metricSeries({ db: 'results/experiments.db', metric: 'loss' })
 */
export async function metricSeries(options: MetricSeriesOptions): Promise<MetricSeries> {
  const source = await openResultsTable(options)
  try {
    assertNumericColumn(source, options.metric, 'plot')
    const from = rowsSource(source, options.where === undefined ? {} : { where: options.where })
    const hasTimestamp = source.columns.some((c) => c.name === 'timestamp')
    const m = ident(options.metric)
    const run = source.runColumn === undefined ? sql`null` : ident(source.runColumn)
    const time = hasTimestamp ? ident('timestamp') : sql`null`
    const limit = options.limit ?? 5000
    // A subquery has no rowid: number the rows in scan order (the order SQLite appended them),
    // keep the latest `limit`, then put them back in logging order.
    const rows = allSync<{ v: SqlValue; r: SqlValue; y: number }>(
      source.db,
      sql`select v, r, y from (
          select ${ident(source.versionColumn)} as v, ${run} as r, cast(${m} as real) as y,
            ${time} as t, row_number() over () as n
          from ${from} where ${m} is not null
          order by t desc, n desc limit ${limit})
        order by t, n`,
    )
    return {
      metric: options.metric,
      orderedBy: hasTimestamp ? 'timestamp' : 'insertion order',
      points: rows.map((row) => ({ version: versionName(row.v), run: row.r, value: row.y })),
    }
  } finally {
    source.db.close()
  }
}
