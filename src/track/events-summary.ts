/**
 * Summary tables of an event store, the materialized views DuckDB does not have: per experiment
 * and metric the points, sum, sum of squares, min and max of every numeric log field. `refresh`
 * folds in only the events added since the last refresh: the watermark is the set of event ids
 * already counted (`summary_seen`), so a late event with an old time is still counted once, and
 * an event moved to the archive is not counted again.
 *
 *   new = events_all − summary_seen → aggregate → upsert metric_summary → add ids to summary_seen
 */
import { empty, raw, sql } from '../engine/sql.js'
import type { EventStore } from './event-store.js'
import { metricPoints } from './event-views.js'

export interface RefreshReport {
  /** Events folded in by this refresh. */
  readonly events: number
  /** Metric points they carried. */
  readonly points: number
  /** (experiment, metric) rows of metric_summary after the refresh. */
  readonly summaries: number
}

const createTables = [
  `create table if not exists metric_summary (experiment VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    points BIGINT NOT NULL, total DOUBLE NOT NULL, total_sq DOUBLE NOT NULL, min DOUBLE, max DOUBLE,
    PRIMARY KEY (experiment, metric))`,
  'create table if not exists summary_seen (event_id VARCHAR PRIMARY KEY)',
  `create table if not exists summary_state (refreshed_at TIMESTAMP, events BIGINT)`,
]

/**
 * Brings `metric_summary` up to date with the store's events, incrementally.
 *
 * @example
 * await refreshSummaries(store) // { events: 120, points: 300, summaries: 4 }
 * await refreshSummaries(store) // { events: 0, points: 0, summaries: 4 }
 */
export async function refreshSummaries(store: EventStore): Promise<RefreshReport> {
  for (const statement of createTables) await store.query(statement)
  await store.query('begin transaction')
  try {
    await store.query(`create or replace temp table summary_new as
      select event_id, experiment, type, payload from events_all e
      where not exists (select 1 from summary_seen s where s.event_id = e.event_id)`)
    await store.query(`create or replace temp table summary_points as
      select experiment, metric, value from (${metricPoints('summary_new', 'e.experiment')})`)
    await store.query(`insert into metric_summary
      select experiment, metric, count(*), sum(value), sum(value * value), min(value), max(value)
      from summary_points group by experiment, metric
      on conflict (experiment, metric) do update set
        points = metric_summary.points + excluded.points,
        total = metric_summary.total + excluded.total,
        total_sq = metric_summary.total_sq + excluded.total_sq,
        min = least(metric_summary.min, excluded.min),
        max = greatest(metric_summary.max, excluded.max)`)
    await store.query('insert into summary_seen select event_id from summary_new')
    const [counts] = await store.query<{ events: string; points: string; summaries: string }>(
      `select (select count(*) from summary_new) as events,
        (select count(*) from summary_points) as points,
        (select count(*) from metric_summary) as summaries`,
    )
    await store.query(
      raw(`insert into summary_state select now()::TIMESTAMP, (select count(*) from summary_new)`),
    )
    await store.query('drop table summary_new')
    await store.query('drop table summary_points')
    await store.query('commit')
    return {
      events: Number(counts?.events ?? 0),
      points: Number(counts?.points ?? 0),
      summaries: Number(counts?.summaries ?? 0),
    }
  } catch (error) {
    await store.query('rollback').catch(() => undefined)
    throw error
  }
}

/**
 * The dashboard from `metric_summary` when a refresh made it (mean, stddev, min, max, points),
 * else undefined so the caller reads the live `dashboard` view.
 */
export async function summaryDashboard(
  store: EventStore,
  experiment: string | undefined,
): Promise<Record<string, unknown>[] | undefined> {
  const [exists] = await store.query<{ n: string }>(
    `select count(*) as n from duckdb_tables() where table_name = 'metric_summary'`,
  )
  if (Number(exists?.n ?? 0) === 0) return undefined
  const filter = experiment === undefined ? empty : sql`where experiment = ${experiment}`
  return store.query(sql`select experiment, metric, points, total / points as mean,
      sqrt(greatest(total_sq / points - (total / points) * (total / points), 0)) as stddev, min, max
    from metric_summary ${filter} order by experiment, metric`)
}
