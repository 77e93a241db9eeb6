/**
 * One DuckDB database and connection, with bound-parameter helpers. The only place (with
 * sqlite.ts) that imports an engine driver; everything above speaks `Sql` fragments.
 */
import {
  blobValue,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBTimestampTZValue,
  type DuckDBValue,
  quotedString,
} from '@duckdb/node-api'
import type { Sql, SqlValue } from './sql.js'

export interface DuckDbOptions {
  /** Database file; in memory when omitted. */
  readonly path?: string
  readonly readOnly?: boolean
  readonly threads?: number
  /** e.g. '1GB'. DuckDB spills to disk past it. */
  readonly memoryLimit?: string
  /**
   * `false` lets DuckDB stream unions and copies without buffering for order: measured here, a
   * 33M-row union held ~240 MB RSS instead of 1.85 GB. Default true (DuckDB's default).
   */
  readonly preserveInsertionOrder?: boolean
  readonly tempDirectory?: string
  /**
   * Session time zone. Default 'UTC', whatever the machine's zone: TIMESTAMPTZ values then print
   * the same everywhere, and a table mixing INT96 and UTC-adjusted INT64 timestamps is not shifted
   * by the local offset when DuckDB casts between them.
   */
  readonly timeZone?: string
}

// The driver renders TIMESTAMPTZ values to strings with the process's UTC offset, taken once at
// load (so even wrong across a DST change). Sessions here run in UTC; render in UTC to match.
DuckDBTimestampTZValue.timezoneOffsetInMinutes = 0

/**
 * Where DuckDB may touch files. Set once by a process that runs queries on others' behalf (the
 * HTTP service): every DuckDB opened afterwards refuses files outside these folders, loads no
 * extension on its own and cannot lift either (lock_configuration).
 */
export interface DuckDbSandbox {
  /** Folders DuckDB may read and write (the data root); its temp_directory is added by DuckDB. */
  readonly allowedDirectories: readonly string[]
  /** Single files outside those folders it may read (e.g. results databases served read-only). */
  readonly allowedPaths?: readonly string[]
}

let sandbox: DuckDbSandbox | undefined

/**
 * Confines every DuckDB this process opens from now on; there is no way back (a server sets it
 * at start-up). Directories get a trailing slash so `/data` does not also allow `/data2`.
 *
 * @example
 * confineDuckDb({ allowedDirectories: ['/srv/duckmerge'] })
 */
export function confineDuckDb(value: DuckDbSandbox): void {
  sandbox = Object.freeze({
    allowedDirectories: value.allowedDirectories.map((d) => (d.endsWith('/') ? d : `${d}/`)),
    allowedPaths: [...(value.allowedPaths ?? [])],
  })
}

/** The sandbox in force, if any. */
export function duckDbSandbox(): DuckDbSandbox | undefined {
  return sandbox
}

export class DuckDb {
  readonly #instance: DuckDBInstance
  /** The raw connection, for appenders and streaming; prefer the methods below. */
  readonly connection: DuckDBConnection
  readonly #timeZone: string
  /** False for a connection made by connect(): closing it leaves the database open. */
  readonly #ownsInstance: boolean

  private constructor(
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    timeZone: string,
    ownsInstance: boolean,
  ) {
    this.#instance = instance
    this.connection = connection
    this.#timeZone = timeZone
    this.#ownsInstance = ownsInstance
  }

  static async open(options: DuckDbOptions = {}): Promise<DuckDb> {
    const config: Record<string, string> = {}
    if (options.readOnly) config.access_mode = 'READ_ONLY'
    if (options.threads !== undefined) config.threads = String(options.threads)
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit
    if (options.preserveInsertionOrder !== undefined)
      config.preserve_insertion_order = String(options.preserveInsertionOrder)
    if (options.tempDirectory !== undefined) config.temp_directory = options.tempDirectory
    // Offline by design: never try to download an extension at run time.
    config.autoinstall_known_extensions = 'false'
    // Parquet, JSON and ICU are linked in; a sandboxed session loads nothing else on its own.
    config.autoload_known_extensions = sandbox ? 'false' : 'true'
    const instance = await DuckDBInstance.create(options.path ?? ':memory:', config)
    const connection = await instance.connect()
    const timeZone = options.timeZone ?? 'UTC'
    // ICU is linked in but loads after the instance starts, so TimeZone cannot go in `config`.
    await connection.run(`SET TimeZone = ${quotedString(timeZone)}`)
    if (sandbox) {
      // Lists cannot go in `config` (DuckDB refuses them there): set, then lock, before any query.
      const list = (items: readonly string[]) => `[${items.map(quotedString).join(', ')}]`
      await connection.run(`SET allowed_directories = ${list(sandbox.allowedDirectories)}`)
      if (sandbox.allowedPaths?.length)
        await connection.run(`SET allowed_paths = ${list(sandbox.allowedPaths)}`)
      await connection.run('SET enable_external_access = false')
      await connection.run('SET lock_configuration = true')
    }
    return new DuckDb(instance, connection, timeZone, true)
  }

  /**
   * A second connection to the same database, to run a query alongside this one's (two queries
   * overlap where one alone leaves a core idle). Temporary views and tables are per connection;
   * settings made with SET are too (the sandbox's are global). Close it before this one.
   */
  async connect(): Promise<DuckDb> {
    const connection = await this.#instance.connect()
    await connection.run(`SET TimeZone = ${quotedString(this.#timeZone)}`)
    return new DuckDb(this.#instance, connection, this.#timeZone, false)
  }

  /** Runs a statement; returns the number of rows it changed. */
  async run(query: Sql): Promise<number> {
    const result = await this.connection.run(query.text, bind(query.values))
    return Number(result.rowsChanged)
  }

  /** All rows as objects with JS values (BIGINT as bigint, DECIMAL as number, dates as Date). */
  async all<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    const reader = await this.connection.runAndReadAll(query.text, bind(query.values))
    return reader.getRowObjectsJS() as T[]
  }

  /**
   * The rows as allJson gives them, a chunk (~2048 rows) at a time, so that a large result never
   * sits whole in memory as objects.
   */
  async *chunksJson<T = Record<string, unknown>>(query: Sql): AsyncGenerator<T[]> {
    const result = await this.connection.stream(query.text, bind(query.values))
    for await (const rows of result.yieldRowObjectJson()) yield rows as T[]
  }

  /** All rows as JSON-safe objects (BIGINT, DECIMAL, timestamps as exact strings). */
  async allJson<T = Record<string, unknown>>(query: Sql): Promise<T[]> {
    const reader = await this.connection.runAndReadAll(query.text, bind(query.values))
    return reader.getRowObjectsJson() as T[]
  }

  /** The first row, or undefined. */
  async one<T = Record<string, unknown>>(query: Sql): Promise<T | undefined> {
    return (await this.all<T>(query))[0]
  }

  /** Runs `fn` inside BEGIN … COMMIT; rolls back and rethrows on failure. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.connection.run('BEGIN TRANSACTION')
    try {
      const result = await fn()
      await this.connection.run('COMMIT')
      return result
    } catch (error) {
      await this.connection.run('ROLLBACK').catch(() => undefined)
      throw error
    }
  }

  close(): void {
    this.connection.closeSync()
    if (this.#ownsInstance) this.#instance.closeSync()
  }
}

/** Opens a database for the duration of `fn` and always closes it. */
export async function withDuckDb<T>(
  options: DuckDbOptions,
  fn: (db: DuckDb) => Promise<T>,
): Promise<T> {
  const db = await DuckDb.open(options)
  try {
    return await fn(db)
  } finally {
    db.close()
  }
}

function bind(values: readonly SqlValue[]): DuckDBValue[] {
  return values.map((v) => (v instanceof Uint8Array ? blobValue(v) : v))
}
