/**
 * The views an event store derives from its `events` table (the source of truth): every event
 * live or archived, runs with their params, metric time series, and the experiment dashboard.
 * Views hold no data, so they are always exactly what the events say.
 *
 *   events ─┐
 *           ├─ events_all ── runs
 *  archive ─┘      └──────── metrics ── dashboard
 */
import { literal, raw, type Sql, sql } from '../engine/sql.js'

/** Names of the derived views, for readers that query them by name. */
export const eventViews = ['events_all', 'runs', 'metrics', 'dashboard'] as const
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
 * Every numeric field of every 'log' event as a time series per (experiment, run, metric):
 * `step` counts the metric's points in time order, `rolling_avg` averages the last `window`.
 *
 * @example
 * metricsView(10)
 * // create or replace view metrics as … avg(value) over (partition by experiment, run, metric
 * //   order by time, event_id rows between 9 preceding and current row) as rolling_avg …
 */
export function metricsView(window: number): Sql {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window ${window} must be ≥ 1`)
  return raw(`create or replace view metrics as
  with fields as (
    -- A quoted JSON path per key: a bare key like '$x' or 'a.b' would be read as a path.
    select e.experiment, e.run, e.time, e.event_id, k.metric,
      json_extract(e.payload, '$."' || replace(k.metric, '"', '\\"') || '"') as field
    from events_all e, unnest(json_keys(e.payload)) as k(metric)
    where e.type = 'log'
  ),
  points as (
    select experiment, run, time, event_id, metric, field::DOUBLE as value
    from fields where json_type(field) in ('DOUBLE', 'BIGINT', 'UBIGINT')
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
