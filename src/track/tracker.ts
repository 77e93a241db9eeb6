/**
 * The experiment tracker: logs values, params and tracked function calls of one run into a
 * results database in xetrack's layout (a SQLite file, or a DuckDB file with `engine: 'duckdb'`),
 * without making the caller wait on disk, and safely beside other writers of the same file.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DuckmergeError } from '../errors.js'
import { cacheKey, ResultCache } from './result-cache.js'
import { argsText, errorText, isPromiseLike, resultFields } from './tracker-call.js'
import { DuckDbRowClient } from './tracker-duckdb.js'
import { type RecordSink, SqliteRowSink } from './tracker-sqlite-sink.js'
import { formatTimestamp, generateTrackId, MonotonicClock } from './tracker-values.js'

export type TrackerEngine = 'sqlite' | 'duckdb'

export interface TrackerOptions {
  /** The results database; created when missing, but its folder must exist. */
  readonly db: string
  /** Values attached to every row, as columns right after the key (xetrack's params). */
  readonly params?: Readonly<Record<string, unknown>>
  /** Default 'default', xetrack's table name. */
  readonly table?: string
  /**
   * Default 'sqlite'. 'duckdb', as xetrack's DuckDB engine: the same layout, written into the
   * SQLite file when `db` is one or a new path not ending in `.duckdb` (any number of processes
   * may write it), else into a DuckDB file (one writing process per file).
   */
  readonly engine?: TrackerEngine
  /** This run's id; default a readable `adjective-animal-1234`. */
  readonly trackId?: string
  /** Cache `track()` results by function name and arguments in the database (SQLite files). */
  readonly cache?: boolean
  /** 'full' also survives power loss, at a cost per commit. Default 'normal'. */
  readonly synchronous?: 'normal' | 'full'
  /** Rows handed to the writer at once. Default 4096. */
  readonly batchSize?: number
  /** How long a writer waits for another's lock before retrying, in ms. Default 10 000. */
  readonly busyTimeoutMs?: number
}

/** Trackers with rows possibly not yet durable, for the process 'exit' hook. */
const live = new Set<Tracker>()
let exitHookInstalled = false
const exitWaitMs = 10_000

export class Tracker {
  readonly trackId: string
  readonly table: string
  readonly engine: TrackerEngine
  /** The kind of file written: 'duckdb' only for engine 'duckdb' on a DuckDB file. */
  readonly fileFormat: 'sqlite' | 'duckdb'
  readonly db: string
  readonly #sink: RecordSink
  readonly #cache: ResultCache | undefined
  readonly #clock = new MonotonicClock()
  #params: Record<string, unknown>
  #closed: Promise<void> | undefined

  /**
   * @example
   * const tracker = new Tracker({ db: 'results/experiments.db', params: { model: 'mlp', lr: 0.01 },
   *   table: 'predictions' })
   * for (const item of dataset) tracker.track(predict, [item])
   * tracker.log({ accuracy: 0.93 })
   * await tracker.close() // every row durable
   */
  constructor(options: TrackerOptions) {
    this.db = options.db
    this.table = options.table ?? 'default'
    this.engine = options.engine ?? 'sqlite'
    this.trackId = options.trackId ?? generateTrackId()
    this.#params = { ...options.params }
    this.fileFormat = checkDbPath(options.db, this.engine)
    if (this.table === '') {
      throw new DuckmergeError('USAGE', 'Tracker table name must not be empty.', { db: options.db })
    }
    const sinkOptions = {
      path: options.db,
      table: this.table,
      trackId: this.trackId,
      synchronous: options.synchronous ?? 'normal',
      busyTimeoutMs: options.busyTimeoutMs ?? 10_000,
      batchSize: options.batchSize ?? 4096,
    } as const
    if (this.fileFormat === 'duckdb') {
      if (options.cache) {
        throw new DuckmergeError(
          'UNSUPPORTED_FEATURE',
          `Cannot cache results in DuckDB file ${options.db}: the result cache lives in SQLite ` +
            'files. Track into a path not ending in .duckdb to use it.',
          { db: options.db },
        )
      }
      this.#sink = new SqliteRowSink(
        { ...sinkOptions, strictTypes: true },
        new DuckDbRowClient({ path: options.db, table: this.table }),
      )
    } else {
      this.#sink = new SqliteRowSink(sinkOptions)
    }
    this.#cache = options.cache ? new ResultCache(options.db) : undefined
    if (Object.keys(this.#params).length > 0)
      this.#sink.setParams(this.#params, this.#clock.nowMicros())
    live.add(this)
    installExitHook()
  }

  /** The params attached to every row. */
  get params(): Readonly<Record<string, unknown>> {
    return this.#params
  }

  /**
   * Records one row: the params, then `values` (keys become columns, `my-metric x` →
   * `my_metric_x`; new keys add columns). Costs microseconds; the row is durable after `flush()`.
   * Throws VALIDATION_FAILED naming the key for a function or symbol value; nothing is recorded.
   *
   * @example
   * tracker.log({ epoch: 3, loss: 0.21, 'val-acc': 0.9 })
   */
  log(values: Readonly<Record<string, unknown>>): void {
    this.#assertOpen()
    this.#sink.add(values, this.#clock.nowMicros())
  }

  /** Records several rows, as `log()` each. */
  logBatch(rows: readonly Readonly<Record<string, unknown>>[]): void {
    for (const row of rows) this.log(row)
  }

  /**
   * Merges `values` into the params; later rows carry them (new params add columns).
   *
   * @example
   * tracker.setParams({ dropout: 0.1 })
   */
  setParams(values: Readonly<Record<string, unknown>>): void {
    this.#assertOpen()
    const next = { ...this.#params, ...values }
    this.#sink.setParams(next, this.#clock.nowMicros())
    this.#params = next
  }

  /**
   * Runs `fn(...args)` and records a row like xetrack's `Tracker.track`: function_name, args
   * (JSON), kwargs ('{}'), error ('' or the message), function_time (seconds), then the fields
   * of an object result (or `function_result`). Returns what `fn` returns: a promise for an async
   * fn, settled after the row is recorded. An error is recorded, then rethrown. With `cache`, a
   * call seen before (same name and arguments, even in an earlier process) returns the stored
   * result without running, recorded with `cache` = the track id that computed it.
   *
   * @example
   * const prediction = tracker.track(predict, [item])
   * const answer = await tracker.track(askModel, [prompt]) // async fns too
   */
  track<A extends readonly unknown[], R>(fn: (...args: A) => R, args: A): R {
    this.#assertOpen()
    const name = fn.name || 'anonymous'
    const call = { function_name: name, args: argsText(args), kwargs: '{}' }
    const key = this.#cache ? cacheKey(name, args) : undefined
    if (key !== undefined && this.#cache) {
      const hit = this.#cache.get(key)
      if (hit) {
        this.log({
          ...call,
          error: '',
          function_time: 0,
          cache: hit.trackId,
          ...resultFields(hit.value),
        })
        return (hit.isAsync ? Promise.resolve(hit.value) : hit.value) as R
      }
    }
    const started = performance.now()
    const record = (error: unknown, value: unknown): void => {
      const seconds = (performance.now() - started) / 1000
      const failed = error !== undefined
      this.log({
        ...call,
        error: failed ? errorText(error) : '',
        function_time: seconds,
        ...(failed ? {} : resultFields(value)),
        ...(key === undefined ? {} : { cache: '' }),
      })
    }
    let result: R
    try {
      result = fn(...args)
    } catch (error) {
      record(error ?? 'error', undefined)
      throw error
    }
    if (isPromiseLike(result)) {
      return result.then(
        (value) => {
          record(undefined, value)
          this.#rememberResult(key, name, value, true)
          return value
        },
        (error: unknown) => {
          record(error ?? 'error', undefined)
          throw error
        },
      ) as R
    }
    record(undefined, result)
    this.#rememberResult(key, name, result, false)
    return result
  }

  /**
   * `fn` with every call tracked, as `track(fn, args)`.
   *
   * @example
   * const trackedPredict = tracker.wrap(predict)
   * trackedPredict(item)
   */
  wrap<A extends readonly unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    const wrapped = (...args: A): R => this.track(fn, args)
    Object.defineProperty(wrapped, 'name', { value: fn.name })
    return wrapped
  }

  /** Resolves once the database is open and usable; rejects with why not (e.g. LOCKED). */
  ready(): Promise<void> {
    return this.#sink.ready()
  }

  /** Resolves when every row logged so far is durable (committed in the database). */
  flush(): Promise<void> {
    return this.#sink.flush()
  }

  /** Flushes and releases the database. Further calls to log() throw. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      live.delete(this)
      this.#cache?.close()
      await this.#sink.close()
    })()
    return this.#closed
  }

  /** For the 'exit' hook: hands the buffer over and blocks until it is committed or time is up. */
  flushSyncOnExit(timeoutMs: number): boolean {
    return this.#sink.flushSync(timeoutMs)
  }

  #rememberResult(key: string | undefined, name: string, value: unknown, isAsync: boolean): void {
    if (key === undefined || this.#cache === undefined) return
    const text = this.#cache.remember(key, { value, isAsync, trackId: this.trackId })
    if (text === undefined) return
    this.#sink.addCache({
      key,
      functionName: name,
      result: text,
      trackId: this.trackId,
      timestamp: formatTimestamp(this.#clock.nowMicros()),
    })
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new DuckmergeError('USAGE', `Tracker ${this.trackId} on ${this.db} is closed.`, {
        db: this.db,
      })
    }
  }
}

/**
 * A normal exit (end of the event loop, or process.exit()) commits what is buffered: the write
 * worker keeps running while the main thread waits here. SIGKILL or a crash loses at most the
 * rows logged since the last flush (see docs/tracker.md).
 */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    const deadline = Date.now() + exitWaitMs
    for (const tracker of live) tracker.flushSyncOnExit(Math.max(0, deadline - Date.now()))
  })
}

/** The kind of file to write, after checking the folder exists and an existing file is one. */
function checkDbPath(db: string, engine: TrackerEngine): 'sqlite' | 'duckdb' {
  const folder = dirname(resolve(db))
  if (!existsSync(folder)) {
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot track into ${db}: folder ${folder} does not exist. Create it first (mkdir -p).`,
      { path: db },
    )
  }
  if (!existsSync(db) || statSync(db).size === 0) {
    return engine === 'duckdb' && db.toLowerCase().endsWith('.duckdb') ? 'duckdb' : 'sqlite'
  }
  const head = Buffer.alloc(16)
  const fd = openSync(db, 'r')
  try {
    readSync(fd, head, 0, 16, 0)
  } finally {
    closeSync(fd)
  }
  const isSqlite = head.toString('latin1', 0, 16) === 'SQLite format 3\0'
  const isDuckDb = head.toString('latin1', 8, 12) === 'DUCK'
  if (isSqlite) return 'sqlite'
  if (isDuckDb && engine === 'duckdb') return 'duckdb'
  throw new DuckmergeError(
    'INPUT_UNREADABLE',
    isDuckDb
      ? `Cannot track into ${db}: it is a DuckDB database, which engine 'sqlite' does not write.`
      : `Cannot track into ${db}: it is neither a SQLite nor a DuckDB database.`,
    {
      path: db,
      hint: isDuckDb ? "Choose {engine} 'duckdb', or a new path." : 'Choose a new path.',
    },
  )
}
