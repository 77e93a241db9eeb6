/**
 * A Tracker's records as events in a DuckDB event store: each `log()` becomes a 'log' event,
 * each params change a 'params' event, appended in batches off the caller's path.
 */
import { DuckmergeError } from '../errors.js'
import { EventStore, type NewEvent } from './event-store.js'
import type { CacheRow } from './tracker-sqlite.js'
import type { RecordSink } from './tracker-sqlite-sink.js'
import { formatUtcTimestamp, toCell } from './tracker-values.js'

export interface EventSinkOptions {
  readonly path: string
  readonly run: string
  readonly experiment: (params: Readonly<Record<string, unknown>>) => string
  readonly batchSize: number
}

export class EventRecordSink implements RecordSink {
  readonly #options: EventSinkOptions
  readonly #store: Promise<EventStore>
  #events: NewEvent[] = []
  #experiment: string
  #writes: Promise<void> = Promise.resolve()
  #failure: unknown
  #scheduled = false

  constructor(options: EventSinkOptions) {
    this.#options = options
    this.#experiment = options.experiment({})
    this.#store = EventStore.open({ path: options.path })
    // Reported by ready() / flush(); never an unhandled rejection.
    this.#store.catch(() => undefined)
  }

  setParams(params: Readonly<Record<string, unknown>>, micros: number): void {
    const payload = validPayload(params)
    this.#experiment = this.#options.experiment(params)
    this.#push('params', payload, micros)
  }

  add(values: Readonly<Record<string, unknown>>, micros: number): void {
    this.#push('log', validPayload(values), micros)
  }

  addCache(_row: CacheRow): void {
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      'The result cache needs the sqlite engine; the duckdb event store does not keep one.',
    )
  }

  async ready(): Promise<void> {
    await this.#store
  }

  async flush(): Promise<void> {
    this.#post()
    await this.#writes
    const failure = this.#failure
    this.#failure = undefined
    if (failure !== undefined) throw failure
  }

  /** DuckDB writes are asynchronous: nothing can be waited for inside the 'exit' hook. */
  flushSync(): boolean {
    return this.#events.length === 0
  }

  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      const store = await this.#store.catch(() => undefined)
      store?.close()
    }
  }

  #push(type: string, payload: unknown, micros: number): void {
    const { run } = this.#options
    this.#events.push({
      time: formatUtcTimestamp(micros),
      experiment: this.#experiment,
      run,
      type,
      payload,
    })
    if (this.#events.length >= this.#options.batchSize) this.#post()
    else if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#post())
    }
  }

  #post(): void {
    this.#scheduled = false
    if (this.#events.length === 0) return
    const events = this.#events
    this.#events = []
    this.#writes = this.#writes
      .then(async () => {
        await (await this.#store).append(events)
      })
      .catch((error: unknown) => {
        this.#failure ??= error
      })
  }
}

/** The values as JSON data, after the same checks as a SQLite row (a function names its key). */
function validPayload(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const payload: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(values)) {
    toCell(key, value)
    payload[key] = typeof value === 'bigint' ? value.toString() : value
  }
  return payload
}
