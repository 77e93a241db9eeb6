/**
 * CLI commands: duckmerge events import | query | archive | dashboard | tail | refresh | search,
 * the DuckDB event store (src/track/event-store.ts) from the command line.
 */
import { resolve } from 'node:path'
import { literal, sql } from '../../engine/sql.js'
import { EventStore } from '../../track/event-store.js'
import { searchEvents } from '../../track/events-search.js'
import { refreshSummaries, summaryDashboard } from '../../track/events-summary.js'
import {
  type Command,
  type CommandContext,
  flag,
  intOption,
  numberOption,
  stringOption,
  usageError,
} from '../command.js'
import { formatTable, toJson } from '../output.js'

/** How long a command waits for another process (a writer, `events tail`'s poll) to let go. */
const lockTimeoutMs = 10_000

/** `experiment = E`, or `true` without one: the filter dashboard and tail share. */
function experimentIs(experiment: string | undefined) {
  return experiment === undefined ? sql`true` : sql`experiment = ${experiment}`
}

/** The columns `events tail` prints, the payload as text. */
const tailColumns = sql`time, experiment, run, type, payload::VARCHAR as payload, event_id`

async function withStore<T>(
  context: CommandContext,
  fn: (store: EventStore) => Promise<T>,
  options: { readonly lockTimeoutMs?: number } = {},
) {
  const store = await EventStore.open({
    path: resolve(context.cwd, context.positionals[0] ?? ''),
    lockTimeoutMs: options.lockTimeoutMs ?? lockTimeoutMs,
  })
  try {
    return await fn(store)
  } finally {
    store.close()
  }
}

const importCommand: Command = {
  path: ['events', 'import'],
  summary:
    "Import JSON Lines event files or globs (quote them: 'runs/*/events.jsonl') into an event store (idempotent by event_id)",
  usage: 'STORE FILE_OR_GLOB... [--json]',
  positionals: ['STORE', 'FILE_OR_GLOB...'],
  options: {},
  async run(context) {
    const files = context.positionals.slice(1)
    if (files.length === 0) throw usageError('events import needs at least one JSON Lines file')
    const reports = await withStore(context, async (store) => {
      const out = []
      for (const file of files)
        out.push(...(await store.importJsonlGlob(resolve(context.cwd, file))))
      return out
    })
    return {
      report: { files: reports },
      text: formatTable(
        reports.map((r) => ({ file: r.file, imported: r.imported, skipped: r.skipped })),
      ),
    }
  },
}

const query: Command = {
  path: ['events', 'query'],
  summary:
    'Run SQL over an event store (views events, events_all, runs, metrics, dashboard; --jsonl GLOB adds view jsonl over JSON Lines files read in place)',
  usage: 'STORE "SQL" [--jsonl GLOB] [--json]',
  positionals: ['STORE', 'SQL'],
  options: { jsonl: { type: 'string' } },
  async run(context) {
    const text = context.positionals[1] ?? ''
    const glob = stringOption(context.values, 'jsonl')
    const rows = await withStore(context, async (store) => {
      if (glob !== undefined)
        // Read in place, never imported: a temp view lives only for this session.
        await store.query(
          sql`create or replace temp view jsonl as select * from read_json(${literal(resolve(context.cwd, glob))}, format = 'newline_delimited', union_by_name = true)`,
        )
      return store.query(text)
    })
    return { report: { rows }, text: formatTable(rows) }
  },
}

const archive: Command = {
  path: ['events', 'archive'],
  summary:
    'Move runs idle for more than --older-than days to Parquet (events_all still shows them)',
  usage: 'STORE --older-than DAYS [--json]',
  positionals: ['STORE'],
  options: { 'older-than': { type: 'string' } },
  async run(context) {
    const days = numberOption(context.values, 'older-than')
    if (days === undefined) throw usageError('missing required --older-than DAYS')
    const report = await withStore(context, (store) => store.archive({ olderThanDays: days }))
    return {
      report,
      text: `archived ${report.runs} runs (${report.events} events) into ${report.files.length} Parquet files`,
    }
  },
}

const dashboard: Command = {
  path: ['events', 'dashboard'],
  summary:
    'Per experiment and metric: runs, points, mean, median, p90, trend (from the summary table when `events refresh` made one)',
  usage: 'STORE [--experiment E] [--live] [--json]',
  positionals: ['STORE'],
  options: { experiment: { type: 'string' }, live: { type: 'boolean' } },
  async run(context) {
    const experiment = stringOption(context.values, 'experiment')
    const { rows, source } = await withStore(context, async (store) => {
      const summary = flag(context.values, 'live')
        ? undefined
        : await summaryDashboard(store, experiment)
      if (summary) return { rows: summary, source: 'metric_summary' }
      return {
        rows: await store.query(
          sql`select * from dashboard where ${experimentIs(experiment)} order by experiment, metric`,
        ),
        source: 'dashboard',
      }
    })
    return { report: { source, rows }, text: `${formatTable(rows)}\n(from ${source})` }
  },
}

const tail: Command = {
  path: ['events', 'tail'],
  summary:
    'Show the latest events, then follow new ones (polls the store; needs no other process holding it open)',
  usage: 'STORE [--count N] [--experiment E] [--interval-ms MS] [--once] [--json]',
  positionals: ['STORE'],
  options: {
    count: { type: 'string' },
    experiment: { type: 'string' },
    'interval-ms': { type: 'string' },
    once: { type: 'boolean' },
  },
  async run(context) {
    const count = intOption(context.values, 'count', 1) ?? 10
    const experiment = stringOption(context.values, 'experiment')
    const interval = intOption(context.values, 'interval-ms', 50) ?? 1000
    const filter = experimentIs(experiment)
    const latest = await withStore(context, (store) =>
      store.query<Record<string, unknown>>(
        sql`select * from (select ${tailColumns} from events_all where ${filter}
          order by time desc, event_id desc limit ${count}) order by time, event_id`,
      ),
    )
    if (flag(context.values, 'once'))
      return { report: { events: latest }, text: formatTable(latest) }
    const print = (rows: readonly Record<string, unknown>[]) => {
      for (const r of rows)
        process.stdout.write(
          context.json
            ? `${toJson(r)}\n`
            : `${r.time}  ${r.experiment}/${r.run}  ${r.type}  ${r.payload}\n`,
        )
    }
    print(latest)
    const seen = new Set(latest.map((r) => String(r.event_id)))
    let since = String(latest.at(-1)?.time ?? '1970-01-01 00:00:00')
    let followed = 0
    // Follows until Ctrl-C; each poll opens the store briefly so writers can take turns (a poll
    // that finds the store busy is skipped, never waited for).
    while (!context.signal.aborted) {
      await abortableSleep(interval, context.signal)
      if (context.signal.aborted) break
      const rows = await withStore(
        context,
        (store) =>
          store.query<Record<string, unknown>>(
            sql`select ${tailColumns} from events_all
            where time >= ${since}::TIMESTAMP and ${filter} order by time, event_id`,
          ),
        { lockTimeoutMs: 0 },
      ).catch(() => [] as Record<string, unknown>[])
      const fresh = rows.filter((r) => !seen.has(String(r.event_id)))
      for (const r of fresh) seen.add(String(r.event_id))
      followed += fresh.length
      print(fresh)
      since = String(rows.at(-1)?.time ?? since)
    }
    return { report: { followed }, text: `(stopped; ${followed} new events)` }
  },
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(finish, ms)
    function finish() {
      clearTimeout(timer)
      signal.removeEventListener('abort', finish)
      done()
    }
    signal.addEventListener('abort', finish, { once: true })
  })
}

const refresh: Command = {
  path: ['events', 'refresh'],
  summary: 'Update the summary table metric_summary with the events added since the last refresh',
  usage: 'STORE [--json]',
  positionals: ['STORE'],
  options: {},
  async run(context) {
    const report = await withStore(context, (store) => refreshSummaries(store))
    return {
      report,
      text: `folded ${report.events} new events (${report.points} metric points); metric_summary has ${report.summaries} rows`,
    }
  },
}

const search: Command = {
  path: ['events', 'search'],
  summary:
    'Full-text search over the text fields of event payloads, ranked by BM25 (SQLite FTS5 sidecar)',
  usage: 'STORE "QUERY" [--limit N] [--json]',
  positionals: ['STORE', 'QUERY'],
  options: { limit: { type: 'string' } },
  async run(context) {
    const limit = intOption(context.values, 'limit', 1) ?? 10
    const hits = await withStore(context, (store) =>
      searchEvents(store, context.positionals[1] ?? '', { limit }),
    )
    return { report: { hits }, text: formatTable(hits.map((h) => ({ ...h }))) }
  },
}

export const eventsCommands: readonly Command[] = [
  importCommand,
  query,
  archive,
  dashboard,
  tail,
  refresh,
  search,
]
