/** CLI commands: duckmerge delta … (reading: show, cat, history, query) */

import { once } from 'node:events'
import { createReadStream, promises as fs, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath, resolve } from 'node:path'
import { DuckDb } from '../../engine/duckdb.js'
import { ident, join, literal, raw, type Sql, sql } from '../../engine/sql.js'
import { history } from '../../formats/delta/history.js'
import { registerSnapshot } from '../../formats/delta/scan.js'
import { typeToString } from '../../formats/delta/schema.js'
import { loadSnapshot } from '../../formats/delta/snapshot.js'
import type { Snapshot, SnapshotOptions } from '../../formats/delta/snapshot-types.js'
import {
  type Command,
  type CommandContext,
  intOption,
  type OptionSpecs,
  stringOption,
  usageError,
} from '../command.js'
import { formatTable, toJson } from '../output.js'

const at: OptionSpecs = {
  version: { type: 'string' },
  timestamp: { type: 'string' },
  'timestamp-source': { type: 'string' },
}
const atUsage = '[--version N | --timestamp ISO [--timestamp-source mtime|commit-info]]'

const show: Command = {
  path: ['delta', 'show'],
  summary: 'Describe a Delta table at a version: rows, files, schema, partitioning, protocol',
  usage: `PATH ${atUsage} [--json]`,
  positionals: ['PATH'],
  options: at,
  async run(context) {
    return withTable(context, async (db, snapshot) => {
      const counted = await db.one<{ n: bigint }>(sql`select count(*) as n from t`)
      const report = describe(snapshot, Number(counted?.n ?? 0))
      return { report, text: describeText(report) }
    })
  },
}

const cat: Command = {
  path: ['delta', 'cat'],
  summary: 'Print the rows of a Delta table (JSON lines or CSV)',
  usage: `PATH ${atUsage} [--format jsonl|csv] [--limit N]`,
  positionals: ['PATH'],
  options: { ...at, format: { type: 'string' }, limit: { type: 'string' } },
  async run(context) {
    const format = formatOption(context, 'jsonl')
    const limit = intOption(context.values, 'limit', 1)
    return withTable(context, async (db) => {
      const query = sql`select * from t${limit === undefined ? raw('') : sql` limit ${raw(String(limit))}`}`
      return render(db, query, format === 'table' ? 'jsonl' : format, context.json)
    })
  },
}

const historyCommand: Command = {
  path: ['delta', 'history'],
  summary: 'List the commits of a Delta table, newest first',
  usage: 'PATH [--limit N] [--json]',
  positionals: ['PATH'],
  options: { limit: { type: 'string' } },
  async run(context) {
    const table = tablePath(context)
    const limit = intOption(context.values, 'limit', 1)
    const commits = await history(table, limit === undefined ? {} : { limit })
    const rows = commits.map((c) => ({
      version: c.version,
      timestamp: new Date(c.timestamp).toISOString(),
      operation: c.operation,
      operationParameters: c.operationParameters,
      operationMetrics: c.operationMetrics,
      userMetadata: c.userMetadata,
    }))
    const text = formatTable(
      rows.map((r) => ({
        version: r.version,
        timestamp: r.timestamp,
        operation: r.operation ?? '',
        parameters: toJson(r.operationParameters),
        userMetadata: r.userMetadata ?? '',
      })),
    )
    return { report: { table, commits: rows }, text }
  },
}

const query: Command = {
  path: ['delta', 'query'],
  summary: 'Run SQL over a Delta table, visible as the view t',
  usage: `PATH SQL ${atUsage} [--format table|jsonl|csv] [--json]`,
  positionals: ['PATH', 'SQL'],
  options: { ...at, format: { type: 'string' } },
  async run(context) {
    const text = context.positionals[1] ?? ''
    if (text.trim() === '')
      throw usageError('the SQL query is empty (e.g. "select count(*) from t")')
    const format = formatOption(context, 'table')
    // The user's SQL is the documented input of this command: it runs as written.
    const statement = raw(text.trim().replace(/;+\s*$/, ''))
    return withTable(context, (db) => render(db, statement, format, context.json))
  },
}

export const deltaReadCommands: readonly Command[] = [show, cat, historyCommand, query]

type Format = 'table' | 'jsonl' | 'csv'

function formatOption(context: CommandContext, fallback: Format): Format {
  const value = stringOption(context.values, 'format') ?? fallback
  if (value !== 'table' && value !== 'jsonl' && value !== 'csv')
    throw usageError(`--format must be jsonl, csv or table, got "${value}"`)
  return value
}

function tablePath(context: CommandContext): string {
  return resolve(context.cwd, context.positionals[0] ?? '')
}

function snapshotOptions(context: CommandContext, db: DuckDb): SnapshotOptions {
  const version = intOption(context.values, 'version', 0)
  const timestamp = stringOption(context.values, 'timestamp')
  const source = stringOption(context.values, 'timestamp-source')
  if (version !== undefined && timestamp !== undefined)
    throw usageError('pass either --version or --timestamp, not both')
  if (source !== undefined && source !== 'mtime' && source !== 'commit-info')
    throw usageError(`--timestamp-source must be mtime or commit-info, got "${source}"`)
  return {
    db,
    ...(version !== undefined ? { version } : {}),
    ...(timestamp !== undefined ? { timestamp } : {}),
    ...(source === 'commit-info' ? { timestampSource: 'commit-info' as const } : {}),
  }
}

async function withTable<T>(
  context: CommandContext,
  fn: (db: DuckDb, snapshot: Snapshot) => Promise<T>,
): Promise<T> {
  const db = await DuckDb.open()
  try {
    // Show TIMESTAMPTZ values in UTC whatever the machine's zone.
    await db.run(sql`set TimeZone = 'UTC'`)
    const snapshot = await loadSnapshot(tablePath(context), snapshotOptions(context, db))
    await registerSnapshot(db, snapshot, 't')
    return await fn(db, snapshot)
  } finally {
    db.close()
  }
}

interface TableDescription {
  readonly table: string
  readonly version: number
  readonly timestamp: string
  readonly numRows: number
  readonly numFiles: number
  readonly sizeInBytes: number
  readonly schema: readonly { name: string; type: string; nullable: boolean }[]
  readonly partitionColumns: readonly string[]
  readonly protocol: {
    readonly minReaderVersion: number
    readonly minWriterVersion: number
    readonly readerFeatures: readonly string[]
    readonly writerFeatures: readonly string[]
  }
  readonly configuration: Readonly<Record<string, string>>
  readonly checkpointVersion: number | null
}

function describe(snapshot: Snapshot, numRows: number): TableDescription {
  const p = snapshot.protocol
  return {
    table: snapshot.tablePath,
    version: snapshot.version,
    timestamp: new Date(snapshot.timestamp).toISOString(),
    numRows,
    numFiles: snapshot.files.length,
    sizeInBytes: snapshot.files.reduce((sum, f) => sum + (f.size ?? 0), 0),
    schema: snapshot.schema.fields.map((f) => ({
      name: f.name,
      type: typeToString(f.type),
      nullable: f.nullable,
    })),
    partitionColumns: snapshot.partitionColumns,
    protocol: {
      minReaderVersion: p.minReaderVersion,
      minWriterVersion: p.minWriterVersion,
      readerFeatures: p.readerFeatures ?? [],
      writerFeatures: p.writerFeatures ?? [],
    },
    configuration: snapshot.metadata.configuration,
    checkpointVersion: snapshot.checkpointVersion ?? null,
  }
}

function describeText(d: TableDescription): string {
  const features = [...d.protocol.readerFeatures, ...d.protocol.writerFeatures]
  return [
    `${d.table} at version ${d.version} (${d.timestamp})`,
    `${d.numRows} rows in ${d.numFiles} files (${d.sizeInBytes} bytes)`,
    `partitioned by: ${d.partitionColumns.join(', ') || '(none)'}`,
    `protocol: reader ${d.protocol.minReaderVersion}, writer ${d.protocol.minWriterVersion}${features.length ? ` (features: ${[...new Set(features)].join(', ')})` : ''}`,
    '',
    formatTable(d.schema.map((c) => ({ column: c.name, type: c.type, nullable: c.nullable }))),
  ].join('\n')
}

/**
 * Renders a query's rows. jsonl: one object per line from DuckDB's JSON functions, so BIGINT
 * and DECIMAL are exact JSON numbers (DECIMAL through its text, never a double); binary is
 * base64 and NaN/Infinity are strings (Spark's JSON form). --json: { columns, rows } with BIGINT/DECIMAL as exact strings.
 */
async function render(db: DuckDb, query: Sql, format: Format, json: boolean) {
  const columns = await db.all<{ column_name: string; column_type: string }>(sql`describe ${query}`)
  if (json) {
    const rows = await db.allJson(query)
    return {
      report: { columns: columns.map((c) => ({ name: c.column_name, type: c.column_type })), rows },
      text: '',
    }
  }
  if (format === 'csv') return { report: null, text: await csv(db, query) }
  if (format === 'table') return { report: null, text: formatTable(await db.all(query)) }
  // Each line is assembled as text so that no value passes through a double on the way.
  const fields = columns.map((c) => {
    const v = sql`q.${ident(c.column_name)}`
    const value =
      c.column_type === 'BLOB'
        ? sql`to_json(base64(${v}))::VARCHAR`
        : c.column_type.startsWith('DECIMAL')
          ? sql`${v}::VARCHAR`
          : c.column_type === 'DOUBLE' || c.column_type === 'FLOAT'
            ? sql`CASE WHEN isfinite(${v}) THEN to_json(${v}) ELSE to_json(${v}::VARCHAR) END::VARCHAR`
            : sql`to_json(${v})::VARCHAR`
    return sql`${literal(`${JSON.stringify(c.column_name)}:`)} || coalesce(${value}, 'null')`
  })
  const lines = sql`select '{' || concat_ws(',', ${join(fields)}) || '}' as j from (${query}) as q`
  return { report: null, text: await streamLines(db, lines) }
}

/**
 * Streams the single text column of `query` to stdout chunk by chunk (a table of any size never
 * sits in memory) and returns the last line, which the CLI prints with its final newline.
 */
async function streamLines(db: DuckDb, query: Sql): Promise<string> {
  if (query.values.length > 0) throw new TypeError('streamLines takes a query without bound values')
  const result = await db.connection.stream(query.text)
  let held: string | undefined
  for (;;) {
    const chunk = await result.fetchChunk()
    if (!chunk || chunk.rowCount === 0) break
    const lines = chunk.getColumnValues(0).map(String)
    let text = held === undefined ? '' : `${held}\n`
    held = lines.pop()
    for (const line of lines) text += `${line}\n`
    await write(text)
  }
  return held ?? ''
}

/** CSV through DuckDB's writer into a temp file, then streamed to stdout. */
async function csv(db: DuckDb, query: Sql): Promise<string> {
  const dir = mkdtempSync(joinPath(tmpdir(), 'duckmerge-csv-'))
  const file = joinPath(dir, 'rows.csv')
  try {
    await db.run(sql`copy (${query}) to ${literal(file)} (format csv, header true)`)
    let pending = ''
    for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
      await write(pending)
      pending = String(chunk)
    }
    // The CLI ends the output with a newline: hold the file's own back.
    return pending.replace(/\n$/, '')
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

async function write(text: string): Promise<void> {
  if (text !== '' && !process.stdout.write(text)) await once(process.stdout, 'drain')
}
