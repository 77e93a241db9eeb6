/**
 * The DuckDB event store: an append-only `events` table is the source of truth (one writing
 * process, DuckDB's rule), with views derived from it (event-views.ts), JSON Lines import, and
 * archiving of old runs to date-partitioned Parquet.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, promises as fs } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { DuckDb } from '../engine/duckdb.js'
import { ident, join as joinSql, literal, raw, Sql, sql } from '../engine/sql.js'
import { DuckmergeError, messageOf } from '../errors.js'
import {
  fixedKeysSql,
  metricColumnsView,
  metricShapes,
  objectPaths,
  payloadStructureSql,
} from './event-metric-columns.js'
import { type ArchiveOptions, type ArchiveReport, archiveRuns } from './event-store-archive.js'
import {
  createEventsTable,
  dashboardView,
  eventsAllView,
  metricsView,
  runsView,
} from './event-views.js'

export interface EventStoreOptions {
  /** The DuckDB file; created when missing (its folder must exist). */
  readonly path: string
  /** Where archived runs go, as date=YYYY-MM-DD/*.parquet. Default: `<path>.archive`. */
  readonly archiveDir?: string
  /** Points averaged by the metrics view's `rolling_avg`. Default 10. */
  readonly rollingWindow?: number
  /**
   * How long to keep trying while another process holds the file (DuckDB allows one), in ms.
   * Default 0: fail with LOCKED at once.
   */
  readonly lockTimeoutMs?: number
}

/** An event to append; time defaults to now, event_id to a fresh UUID. */
export interface NewEvent {
  readonly eventId?: string
  /** A Date, or text DuckDB reads as a timestamp ('2024-05-01 12:00:00', ISO with offset). */
  readonly time?: Date | string
  readonly experiment: string
  readonly run: string
  readonly type: string
  readonly payload: unknown
}

export interface ImportReport {
  readonly file: string
  readonly imported: number
  /** Lines whose event_id the store already holds (live or archived). */
  readonly skipped: number
}

/** Files open for writing in this process: DuckDB's own lock only stops other processes. */
const openHere = new Set<string>()
const rowsPerInsert = 1000

export class EventStore {
  readonly path: string
  readonly archiveDir: string
  readonly #db: DuckDb
  readonly #rollingWindow: number
  #queue: Promise<unknown> = Promise.resolve()
  #isOpen = true
  /** Set by writes: metrics_wide's columns are recomputed before the next read. */
  #isWideStale = true

  private constructor(db: DuckDb, path: string, options: EventStoreOptions) {
    this.#db = db
    this.path = path
    this.archiveDir = resolve(options.archiveDir ?? `${path}.archive`)
    this.#rollingWindow = options.rollingWindow ?? 10
  }

  /**
   * Opens (or creates) an event store for writing.
   *
   * @example
   * const store = await EventStore.open({ path: 'results/events.duckdb' })
   * await store.append([{ experiment: 'e0.1.0', run: 'r1', type: 'log', payload: { loss: 0.3 } }])
   * const dash = await store.dashboard()
   * store.close()
   */
  static async open(options: EventStoreOptions): Promise<EventStore> {
    const path = resolve(options.path)
    if (!existsSync(dirname(path))) {
      throw new DuckmergeError(
        'OUTPUT_UNWRITABLE',
        `Cannot open event store ${options.path}: folder ${dirname(path)} does not exist. ` +
          'Create it first.',
        { path: options.path },
      )
    }
    if (openHere.has(path)) throw lockedError(options.path, 'this process')
    // Claimed before the first await, so two opens racing in this process cannot both win.
    openHere.add(path)
    const deadline = Date.now() + (options.lockTimeoutMs ?? 0)
    let db: DuckDb | undefined
    while (db === undefined) {
      try {
        db = await DuckDb.open({ path })
      } catch (error) {
        const message = messageOf(error)
        const isLocked = /lock/i.test(message)
        if (isLocked && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50))
          continue
        }
        openHere.delete(path)
        const holder = /Conflicting lock is held in (.*?)(\.|$)/.exec(message)?.[1]
        if (isLocked) throw lockedError(options.path, holder ?? 'another process', error)
        throw new DuckmergeError(
          'INPUT_UNREADABLE',
          `Cannot open event store ${options.path}: ${message}. Pass a DuckDB file or a new path.`,
          { path: options.path },
          { cause: error },
        )
      }
    }
    const store = new EventStore(db, path, options)
    try {
      // Naive times are UTC everywhere in the store, whatever the machine's zone.
      await db.run(raw(`set TimeZone = 'UTC'`))
      await db.run(createEventsTable)
      await store.#refreshViews()
    } catch (error) {
      store.close()
      throw error
    }
    return store
  }

  /** Appends events in one transaction; returns how many. */
  append(events: readonly NewEvent[]): Promise<number> {
    return this.#exclusive(async () => {
      if (events.length === 0) return 0
      const rows = events.map(toRow)
      await this.#db.transaction(async () => {
        for (let i = 0; i < rows.length; i += rowsPerInsert) {
          const values = rows.slice(i, i + rowsPerInsert).map(
            (r) => sql`(${r.eventId}, ${r.time}::TIMESTAMPTZ::TIMESTAMP, ${r.experiment},
              ${r.run}, ${r.type}, ${r.payload}::JSON)`,
          )
          await this.#db.run(sql`insert into events values ${joinSql(values)}`)
        }
      })
      this.#isWideStale = true
      return rows.length
    })
  }

  /**
   * Imports a JSON Lines file of events (`{"event_id"?, "time", "experiment", "run", "type",
   * "payload"}` per line), read by DuckDB directly. Events whose event_id the store already
   * holds are skipped, so importing a file twice adds nothing.
   */
  importJsonl(file: string): Promise<ImportReport> {
    return this.#exclusive(async () => {
      if (!existsSync(file)) {
        throw new DuckmergeError('INPUT_NOT_FOUND', `Events file not found: ${file}`, { file })
      }
      const source = sql`read_json(${literal(resolve(file))}, format = 'newline_delimited',
        columns = {event_id: 'VARCHAR', time: 'VARCHAR', experiment: 'VARCHAR', run: 'VARCHAR',
          type: 'VARCHAR', payload: 'JSON'})`
      return this.#db.transaction(async () => {
        // A line without an event_id gets one derived from its content, so importing it again
        // is recognised too (identical lines without ids are one event).
        await this.#db
          .run(sql`create or replace temp table import_batch as
          select coalesce(event_id, 'md5-' || md5(concat_ws(chr(31), time, experiment, run, type,
              payload::VARCHAR))) as event_id,
            try_cast(time as TIMESTAMPTZ)::TIMESTAMP as time, time as time_text,
            experiment, run, type, payload, row_number() over () as line
          from ${source}`)
          .catch((error: unknown) => {
            throw new DuckmergeError(
              'INPUT_UNREADABLE',
              `Cannot import ${file}: it is not JSON Lines of events (${messageOf(error)}). ` +
                'Write one JSON object per line.',
              { file },
              { cause: error },
            )
          })
        const bad = await this.#db.one<{ n: bigint; line: bigint; time_text: string | null }>(
          raw(`select count(*) over () as n, line, time_text from import_batch
            where time is null or experiment is null or run is null or type is null
            order by line limit 1`),
        )
        if (bad) {
          throw new DuckmergeError(
            'VALIDATION_FAILED',
            `Cannot import ${file}: ${bad.n} line(s) lack a readable time, experiment, run or ` +
              `type (first: line ${bad.line}${bad.time_text ? `, time "${bad.time_text}"` : ''}). ` +
              'Fix those lines; nothing was imported.',
            { file, line: Number(bad.line) },
          )
        }
        const total = Number(
          (await this.#db.one<{ n: bigint }>(raw('select count(*) as n from import_batch')))?.n ??
            0,
        )
        const imported = await this.#db.run(
          raw(`insert into events
          select event_id, time, experiment, run, type, payload from import_batch b
          where not exists (select 1 from events_all e where e.event_id = b.event_id)
          qualify row_number() over (partition by event_id order by line) = 1`),
        )
        await this.#db.run(raw('drop table import_batch'))
        this.#isWideStale = true
        return { file, imported, skipped: total - imported }
      })
    })
  }

  /**
   * Imports every JSON Lines file a glob matches (`*`, `?`, `[…]`, and `**` for any depth, as
   * DuckDB's glob() reads them), in name order, or one file when `pattern` has no glob
   * characters. Idempotent like `importJsonl`: files imported before add nothing.
   *
   * @example
   * await store.importJsonlGlob(join('runs', '*', 'events.jsonl'))
   * // [{ file: 'runs/a/events.jsonl', imported: 3, skipped: 0 }, …]
   */
  async importJsonlGlob(pattern: string): Promise<ImportReport[]> {
    if (!/[*?[]/.test(pattern)) return [await this.importJsonl(pattern)]
    const files = (
      await this.#exclusive(() =>
        this.#db.all<{ file: string }>(
          sql`select file from glob(${literal(resolve(pattern))}) order by file`,
        ),
      )
    ).map((r) => r.file)
    if (files.length === 0)
      throw new DuckmergeError('INPUT_NOT_FOUND', `No events files match ${pattern}`, {
        file: pattern,
      })
    const reports: ImportReport[] = []
    for (const file of files) reports.push(await this.importJsonl(file))
    return reports
  }

  /**
   * Moves runs whose last event is older than `olderThanDays` into Parquet under `archiveDir`,
   * partitioned by event date, then deletes them from the live table. `events_all` and the
   * views over it show the same rows before, during and after.
   */
  archive(options: ArchiveOptions): Promise<ArchiveReport> {
    return this.#exclusive(async () => {
      return archiveRuns(this.#db, this.archiveDir, options, () => this.#refreshViews())
    })
  }

  /**
   * Rows of a query over the store's tables and views (values JSON-safe: BIGINT as string).
   * A string is the caller's own SQL, run as written (bind values through an `Sql` fragment).
   *
   * @example
   * await store.query(`select metric, trend from dashboard where experiment = 'e0.2.0'`)
   */
  query<T = Record<string, unknown>>(query: string | Sql): Promise<T[]> {
    const statement = typeof query === 'string' ? new Sql(query, []) : query
    return this.#exclusive(async () => {
      if (this.#isWideStale) await this.#refreshWide()
      return this.#db.allJson<T>(statement)
    })
  }

  /** All rows of one derived view, in a stable order. */
  view<T = Record<string, unknown>>(
    name: 'events_all' | 'runs' | 'metrics' | 'dashboard' | 'metrics_wide',
  ): Promise<T[]> {
    const order: Record<typeof name, string> = {
      events_all: 'time, event_id',
      runs: 'experiment, run',
      metrics: 'experiment, run, metric, step',
      dashboard: 'experiment, metric',
      metrics_wide: 'experiment, run, step',
    }
    return this.query<T>(sql`select * from ${ident(name)} order by ${raw(order[name])}`)
  }

  close(): void {
    if (!this.#isOpen) return
    this.#isOpen = false
    openHere.delete(this.path)
    this.#db.close()
  }

  async #refreshViews(): Promise<void> {
    const hasArchive = await hasParquet(this.archiveDir)
    await this.#db.run(eventsAllView(hasArchive ? archiveGlob(this.archiveDir) : undefined))
    await this.#db.run(runsView)
    await this.#db.run(metricsView(this.#rollingWindow))
    await this.#db.run(dashboardView)
    await this.#refreshWide()
  }

  /** Recreates metrics_wide with a column per numeric payload field the events hold now. */
  async #refreshWide(): Promise<void> {
    const structure =
      (await this.#db.one<{ structure: string | null }>(payloadStructureSql))?.structure ?? null
    const paths = objectPaths(structure)
    const fixed =
      paths.length > 0 ? await this.#db.one<Record<string, boolean>>(fixedKeysSql(paths)) : {}
    const isFixed = (path: string) =>
      fixed?.[`fixed_${paths.findIndex((p) => p.path === path)}`] !== false
    await this.#db.run(metricColumnsView(metricShapes(structure, isFixed)))
    this.#isWideStale = false
  }

  /** One operation at a time on the one connection: an archive never interleaves an append. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#isOpen) {
      return Promise.reject(
        new DuckmergeError('USAGE', `Event store ${this.path} is closed.`, { path: this.path }),
      )
    }
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => undefined)
    return run
  }
}

/**
 * The Parquet files of an archive folder, as DuckDB globs them.
 *
 * @example
 * archiveGlob('results/events.duckdb.archive') // 'results/events.duckdb.archive/date=…/….parquet'
 */
export function archiveGlob(dir: string): string {
  return join(dir, 'date=*', '*.parquet')
}

async function hasParquet(dir: string): Promise<boolean> {
  const parts = await fs.readdir(dir).catch(() => [] as string[])
  for (const part of parts.filter((p) => p.startsWith('date='))) {
    const files = await fs.readdir(join(dir, part)).catch(() => [] as string[])
    if (files.some((f) => f.endsWith('.parquet'))) return true
  }
  return false
}

function toRow(event: NewEvent) {
  const time = event.time ?? new Date()
  return {
    eventId: event.eventId ?? randomUUID(),
    time: time instanceof Date ? time.toISOString() : time,
    experiment: event.experiment,
    run: event.run,
    type: event.type,
    payload: JSON.stringify(event.payload ?? null),
  }
}

function lockedError(path: string, holder: string, cause?: unknown): DuckmergeError {
  return new DuckmergeError(
    'LOCKED',
    `Cannot open event store ${path} for writing: ${holder} holds its lock. DuckDB allows one ` +
      'writing process per file: let parallel runs write events.jsonl files and import them ' +
      'from one process, or close the other writer.',
    { path, holder },
    cause === undefined ? undefined : { cause },
  )
}
