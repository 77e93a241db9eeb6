/**
 * Turns tracked values into xetrack-layout rows on the caller's thread (validation, column
 * names, types: microseconds), buffers them, and hands full buffers to the write worker.
 */

import { DuckmergeError } from '../errors.js'
import { ColumnNames } from './tracker-columns.js'
import type { BatchClient } from './tracker-duckdb.js'
import type { CacheRow } from './tracker-sqlite.js'
import {
  type Cell,
  type ColumnType,
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
  setParams(params: Readonly<Record<string, unknown>>, micros: number): void
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
  /**
   * DuckDB columns hold one type each: numbers get DOUBLE columns (JavaScript has no integer
   * type to tell them apart) and a value its column cannot hold is refused at log().
   */
  readonly strictTypes?: boolean
}

type Row = [number, ...Cell[]]

/** Where each key of the previous row went: a cell index, or one of these. */
const alwaysSkipped = -1
const skippedWhileNull = -2

interface LastShape {
  readonly keys: readonly string[]
  readonly positions: readonly number[]
  /** The row with params filled in and value cells empty. */
  readonly template: Row
  /** The column of each key, for type checks. */
  readonly names: readonly string[]
}

/** Keys xetrack sets itself on every row (tracker.py _validate_data): a value never overrides them. */
const reserved = new Set(['track_id', 'timestamp'])
const isReserved = (name: string): boolean => reserved.has(name.toLowerCase())

export class SqliteRowSink implements RecordSink {
  readonly #client: BatchClient
  readonly #options: SqliteSinkOptions
  /** Columns this tracker has declared a type for; a null in an unknown column is skipped. */
  readonly #types = new Map<string, ColumnType>()
  readonly #names = new ColumnNames()
  #newTypes: Record<string, ColumnType> = {}
  readonly #shapeIds = new Map<string, number>()
  #newShapes: [number, string[]][] = []
  #paramColumns: string[] = []
  #paramCells: Cell[] = []
  #rows: Row[] = []
  readonly #strict: boolean
  #cache: CacheRow[] = []
  #scheduled = false
  #last: LastShape | undefined

  constructor(options: SqliteSinkOptions, client?: BatchClient) {
    this.#options = options
    this.#strict = options.strictTypes ?? false
    this.#client = client ?? new WriteWorkerClient(options)
  }

  setParams(params: Readonly<Record<string, unknown>>, _micros: number): void {
    const columns: string[] = []
    const cells: Cell[] = []
    const names = this.#names.forRow(Object.keys(params))
    for (const [key, value] of Object.entries(params)) {
      const name = names.get(key) as string
      if (isReserved(name)) continue
      const cell = toCell(key, value)
      if (cell === null && !this.#types.has(name)) continue
      this.#assertFits(key, name, cell)
      this.#declare(name, cell, value)
      const at = columns.indexOf(name)
      if (at >= 0) cells[at] = cell
      else {
        columns.push(name)
        cells.push(cell)
      }
    }
    this.#names.remember(names)
    this.#paramColumns = columns
    this.#paramCells = cells
    this.#last = undefined
  }

  add(values: Readonly<Record<string, unknown>>, micros: number): void {
    const row = this.#sameShapeRow(values, micros) ?? this.#newShapeRow(values, micros)
    this.#rows.push(row)
    this.#schedule()
  }

  /**
   * The hot path: the same keys as the previous row (the usual case, a loop logging one kind of
   * record) reuse its shape, with no column lookups. Undefined when anything differs.
   */
  #sameShapeRow(values: Readonly<Record<string, unknown>>, micros: number): Row | undefined {
    const last = this.#last
    if (last === undefined) return undefined
    const row = last.template.slice() as Row
    let i = 0
    for (const key in values) {
      if (key !== last.keys[i]) return undefined
      const at = last.positions[i] as number
      const cell = toCell(key, values[key])
      if (this.#strict && cell !== null) this.#assertFits(key, last.names[i] as string, cell)
      i++
      if (at > 0) row[at] = cell
      else if (at === skippedWhileNull && cell !== null) return undefined
    }
    if (i !== last.keys.length) return undefined
    row[2] = formatTimestamp(micros)
    return row
  }

  #newShapeRow(values: Readonly<Record<string, unknown>>, micros: number): Row {
    const columns = ['track_id', 'timestamp', ...this.#paramColumns]
    const row: Row = [0, this.#options.trackId, formatTimestamp(micros), ...this.#paramCells]
    const declared: [string, Cell, unknown][] = []
    const keys: string[] = []
    const positions: number[] = []
    const names = this.#names.forRow(Object.keys(values))
    for (const key in values) {
      keys.push(key)
      const name = names.get(key) as string
      const value = values[key]
      const cell = toCell(key, value)
      this.#assertFits(key, name, cell)
      if (isReserved(name)) {
        positions.push(alwaysSkipped)
        continue
      }
      if (cell === null && !this.#types.has(name) && !declared.some(([d]) => d === name)) {
        positions.push(skippedWhileNull)
        continue
      }
      if (cell !== null && !this.#types.has(name)) declared.push([name, cell, value])
      let at = columns.indexOf(name)
      if (at >= 0) row[at + 1] = cell
      else {
        at = columns.push(name) - 1
        row.push(cell)
      }
      positions.push(at + 1)
    }
    // Declared only once every value passed validation: a rejected row leaves no trace.
    this.#names.remember(names)
    for (const [name, cell, value] of declared) this.#declare(name, cell, value)
    row[0] = this.#shapeId(columns)
    const template = row.slice() as Row
    for (const at of positions) if (at > 0) template[at] = null
    this.#last = { keys, positions, template, names: keys.map((k) => names.get(k) as string) }
    return row
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
    const type =
      this.#strict && typeof value === 'number' && typeof cell === 'number'
        ? 'REAL'
        : columnType(cell, value)
    this.#types.set(name, type)
    this.#newTypes[name] = type
  }

  /** Strict types only: VALIDATION_FAILED naming the key when its column cannot hold `cell`. */
  #assertFits(key: string, name: string, cell: Cell): void {
    if (!this.#strict || cell === null) return
    const type = this.#types.get(name)
    if (type === undefined || fitsColumn(type, cell)) return
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot track "${key}": column "${name}" holds ${type} values, not ` +
        `${cellKind(cell)} ${cell instanceof Uint8Array ? 'bytes' : JSON.stringify(String(cell))}. ` +
        'Log it under another key, or as the column type.',
      { key, column: name, type },
    )
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

/** Whether a cell goes into a DuckDB column of `type` without losing anything. */
function fitsColumn(type: ColumnType, cell: Cell): boolean {
  switch (type) {
    case 'TEXT':
      return !(cell instanceof Uint8Array)
    case 'BLOB':
      return cell instanceof Uint8Array
    case 'REAL':
      return (
        typeof cell === 'number' ||
        (typeof cell === 'bigint' && cell <= maxExactDouble && cell >= -maxExactDouble)
      )
    case 'INTEGER':
      return typeof cell === 'bigint' || (typeof cell === 'number' && Number.isSafeInteger(cell))
  }
}

const maxExactDouble = 2n ** 53n

function cellKind(cell: Cell): string {
  if (typeof cell === 'string') return 'the text'
  if (cell instanceof Uint8Array) return 'raw'
  return 'the number'
}
