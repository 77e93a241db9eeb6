/**
 * Turns tracked values into xetrack-layout rows on the caller's thread (validation, column
 * names, types: microseconds), buffers them, and hands full buffers to the write worker.
 */
import type { CacheRow } from './tracker-sqlite.js'
import {
  type Cell,
  type ColumnType,
  columnName,
  columnType,
  formatTimestamp,
  toCell,
} from './tracker-values.js'
import { WriteWorkerClient } from './write-worker-client.js'

/** Where a Tracker's records go: the SQLite write worker or the DuckDB event store. */
export interface RecordSink {
  /** Validates and buffers one record; throws VALIDATION_FAILED naming a bad key. */
  add(values: Readonly<Record<string, unknown>>, micros: number): void
  addCache(row: CacheRow): void
  setParams(params: Readonly<Record<string, unknown>>): void
  /** Resolves when the storage is open (or rejects with why not). */
  ready(): Promise<void>
  flush(): Promise<void>
  /** Best effort for the process 'exit' hook: true when everything buffered is durable. */
  flushSync(timeoutMs: number): boolean
  close(): Promise<void>
}

export interface SqliteSinkOptions {
  readonly path: string
  readonly table: string
  readonly trackId: string
  readonly synchronous: 'normal' | 'full'
  readonly busyTimeoutMs: number
  readonly batchSize: number
}

type Row = [number, ...Cell[]]

/** Keys xetrack sets itself on every row (tracker.py _validate_data): a value never overrides them. */
const reserved = new Set(['track_id', 'timestamp'])

export class SqliteRowSink implements RecordSink {
  readonly #client: WriteWorkerClient
  readonly #options: SqliteSinkOptions
  /** Columns this tracker has declared a type for; a null in an unknown column is skipped. */
  readonly #types = new Map<string, ColumnType>()
  #newTypes: Record<string, ColumnType> = {}
  readonly #shapeIds = new Map<string, number>()
  #newShapes: [number, string[]][] = []
  #paramColumns: string[] = []
  #paramCells: Cell[] = []
  #rows: Row[] = []
  #cache: CacheRow[] = []
  #scheduled = false

  constructor(options: SqliteSinkOptions) {
    this.#options = options
    this.#client = new WriteWorkerClient(options)
  }

  setParams(params: Readonly<Record<string, unknown>>): void {
    const columns: string[] = []
    const cells: Cell[] = []
    for (const [key, value] of Object.entries(params)) {
      const name = columnName(key)
      if (reserved.has(name)) continue
      const cell = toCell(key, value)
      if (cell === null && !this.#types.has(name)) continue
      this.#declare(name, cell, value)
      const at = columns.indexOf(name)
      if (at >= 0) cells[at] = cell
      else {
        columns.push(name)
        cells.push(cell)
      }
    }
    this.#paramColumns = columns
    this.#paramCells = cells
  }

  add(values: Readonly<Record<string, unknown>>, micros: number): void {
    const columns = ['track_id', 'timestamp', ...this.#paramColumns]
    const row: Row = [0, this.#options.trackId, formatTimestamp(micros), ...this.#paramCells]
    const declared: [string, Cell, unknown][] = []
    for (const key in values) {
      const name = columnName(key)
      if (reserved.has(name)) continue
      const value = values[key]
      const cell = toCell(key, value)
      if (cell === null && !this.#types.has(name)) continue
      if (cell !== null && !this.#types.has(name)) declared.push([name, cell, value])
      const at = columns.indexOf(name)
      if (at >= 0) row[at + 1] = cell
      else {
        columns.push(name)
        row.push(cell)
      }
    }
    // Declared only once every value passed validation: a rejected row leaves no trace.
    for (const [name, cell, value] of declared) this.#declare(name, cell, value)
    row[0] = this.#shapeId(columns)
    this.#rows.push(row)
    this.#schedule()
  }

  addCache(row: CacheRow): void {
    this.#cache.push(row)
    this.#schedule()
  }

  ready(): Promise<void> {
    this.#client.post({ columnTypes: {}, shapes: [], rows: [], cache: [] })
    return this.flush()
  }

  flush(): Promise<void> {
    this.#post()
    return this.#client.flush()
  }

  flushSync(timeoutMs: number): boolean {
    this.#post()
    return this.#client.waitSync(timeoutMs)
  }

  close(): Promise<void> {
    this.#post()
    return this.#client.close()
  }

  #declare(name: string, cell: Cell, value: unknown): void {
    if (cell === null || this.#types.has(name)) return
    const type = columnType(cell, value)
    this.#types.set(name, type)
    this.#newTypes[name] = type
  }

  #shapeId(columns: string[]): number {
    const key = columns.join('\u0001')
    let id = this.#shapeIds.get(key)
    if (id === undefined) {
      id = this.#shapeIds.size
      this.#shapeIds.set(key, id)
      this.#newShapes.push([id, columns])
    }
    return id
  }

  #schedule(): void {
    if (this.#rows.length + this.#cache.length >= this.#options.batchSize) this.#post()
    else if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#post())
    }
  }

  #post(): void {
    this.#scheduled = false
    if (this.#rows.length === 0 && this.#cache.length === 0) return
    this.#client.post({
      columnTypes: this.#newTypes,
      shapes: this.#newShapes,
      rows: this.#rows,
      cache: this.#cache,
    })
    this.#newTypes = {}
    this.#newShapes = []
    this.#rows = []
    this.#cache = []
  }
}
