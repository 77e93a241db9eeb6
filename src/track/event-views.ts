/**
 * The views an event store derives from its `events` table (the source of truth): every event
 * live or archived, runs with their params, metric time series, and the experiment dashboard.
 * Views hold no data, so they are always exactly what the events say.
 *
 *   events ─┐
 *           ├─ events_all ── runs
 *  archive ─┘      ├──────── metrics ── dashboard
 *                  └──────── metrics_wide (typed columns, event-metric-columns.ts)
 */
import { literal, raw, type Sql, sql } from '../engine/sql.js'

/** Names of the derived views, for readers that query them by name. */
export const eventViews = ['events_all', 'runs', 'metrics', 'dashboard', 'metrics_wide'] as const
export type EventView = (typeof eventViews)[number]

/** The `events` table: one row per event, payload as JSON. */
export const createEventsTable = raw(`create table if not exists events (
  event_id VARCHAR NOT NULL,
  time TIMESTAMP NOT NULL,
  experiment VARCHAR NOT NULL,
  run VARCHAR NOT NULL,
  type VARCHAR NOT NULL,
  payload JSON
)`)

/**
 * Live and archived events together. An archived event whose id is still live is left out, so
 * while an archive moves rows (files renamed into place, then the live rows deleted) a reader
 * sees each event exactly once. `archiveGlob` is undefined while nothing is archived.
 *
 * @example
 * eventsAllView(archiveGlob)
 * // create or replace view events_all as select …, 'live' as source from events
 * //   union all select …, 'archive' as source from read_parquet('…') a
 * //   where not exists (select 1 from events e where e.event_id = a.event_id)
 */
export function eventsAllView(archiveGlob: string | undefined): Sql {
  const columns = 'event_id, time, experiment, run, type, payload'
  const archived =
    archiveGlob === undefined
      ? raw(`select ${columns}, 'archive' as source from events where false`)
      : sql`select a.event_id, a.time::TIMESTAMP as time, a.experiment, a.run, a.type,
          a.payload::JSON as payload, 'archive' as source
        from read_parquet(${literal(archiveGlob)}, hive_partitioning = true) a
        where not exists (select 1 from events e where e.event_id = a.event_id)`
  return sql`create or replace view events_all as
    select ${raw(columns)}, 'live' as source from events
    union all ${archived}`
}

/** One row per run: when it ran, how many events, and its latest params event. */
export const runsView = raw(`create or replace view runs as
  select experiment, run,
    min(time) as started,
    max(time) as ended,
    count(*) as events,
    count(*) filter (where type = 'log') as logs,
    arg_max(payload, (time, event_id)) filter (where type = 'params') as params
  from events_all
  group by experiment, run`)

/**
 * The numeric leaves of 'log' payloads at any depth, one row each: `metric` is the field's path
 * of keys ('loss', 'eval.acc', 'counts.cat'). Values inside arrays are not metrics.
 * `columns` are taken from the source `e` as they are.
 *
 * @example
 * metricPoints('events_all', 'e.experiment, e.run, e.time, e.event_id')
 * // select e.experiment, …, substr(t.fullkey, 3) as metric, t.atom::DOUBLE as value
 * //   from events_all e, json_tree(e.payload) t where e.type = 'log' and t.type in (…)
 */
export function metricPoints(source: string, columns: string): string {
  // json_tree names a field by its keys joined with '.', unquoted ('$.a.b' for key "a.b" too);
  // an array element's fullkey is its parent's path plus [index].
  return `select ${columns}, substr(t.fullkey, 3) as metric, t.atom::DOUBLE as value
    from ${source} e, json_tree(e.payload) t
    where e.type = 'log' and t.key is not null and t.type in ('DOUBLE', 'BIGINT', 'UBIGINT')
      and t.fullkey <> t.path || '[' || t.key || ']'
      and not regexp_matches(t.path, '\\[[0-9]+\\]')`
}

/**
 * Every numeric field of every 'log' event (nested ones too, see `metricPoints`) as a time
 * series per (experiment, run, metric): `step` counts the metric's points in time order,
 * `rolling_avg` averages the last `window`.
 *
 * @example
 * metricsView(10)
 * // create or replace view metrics as … avg(value) over (partition by experiment, run, metric
 * //   order by time, event_id rows between 9 preceding and current row) as rolling_avg …
 */
export function metricsView(window: number): Sql {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window ${window} must be ≥ 1`)
  return raw(`create or replace view metrics as
  with points as (
    ${metricPoints('events_all', 'e.experiment, e.run, e.time, e.event_id')}
  )
  select experiment, run, metric,
    row_number() over (partition by experiment, run, metric order by time, event_id) as step,
    time, value,
    avg(value) over (partition by experiment, run, metric order by time, event_id
      rows between ${window - 1} preceding and current row) as rolling_avg
  from points`)
}

/**
 * Per experiment and metric: runs, points, mean / median / p90, and the trend, the least-squares
 * slope of value over step (regr_slope): negative when a loss falls as runs progress.
 */
export const dashboardView = raw(`create or replace view dashboard as
  select experiment, metric,
    count(distinct run) as runs,
    count(*) as points,
    avg(value) as mean,
    median(value) as median,
    quantile_cont(value, 0.9) as p90,
    min(value) as min,
    max(value) as max,
    -- One step has no slope: NULL rather than regr_slope's NaN.
    case when var_pop(step) > 0 then regr_slope(value, step) end as trend
  from metrics
  group by experiment, metric`)
