/** Creating a Delta table: protocol, metadata and (optionally) its first data files in version 0. */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { resolve } from 'node:path'
import { DuckDb } from '../../../engine/duckdb.js'
import { DuckmergeError } from '../../../errors.js'
import type { Action, AddFile, Metadata, Protocol } from '../actions.js'
import { listLog } from '../log-store.js'
import { readerFeatures, writerFeatures } from '../protocol-support.js'
import { type DataType, type StructType, schemaToJson } from '../schema.js'
import { txnAction } from '../txn.js'
import { writeDataFiles } from '../write-files.js'
import { type DeltaSource, prepareSource } from './source.js'
import {
  checkInvariants,
  checkpointIntervalOf,
  commitAndCheckpoint,
  interruptOnAbort,
  outputMetrics,
  removeEmptyFolders,
  statsOptionsOf,
  type WriteOptions,
  type WriteResult,
  writeResultOf,
  writing,
} from './write-context.js'

export interface CreateTableOptions extends WriteOptions {
  /** The first rows (their schema becomes the table's), or omit and pass `schema`. */
  readonly source?: DeltaSource
  /** The schema of an empty table (or to force types on the source). */
  readonly schema?: StructType
  readonly partitionBy?: readonly string[]
  /** Table properties (metaData.configuration), e.g. { 'delta.checkpointInterval': '20' }. */
  readonly properties?: Readonly<Record<string, string>>
  readonly name?: string
  readonly description?: string
}

/**
 * Table properties this writer honours. Others under `delta.` would enable features (deletion
 * vectors, change data feed, column mapping…) that this writer does not maintain.
 */
const KNOWN_PROPERTIES = new Set([
  'delta.appendOnly',
  'delta.checkpointInterval',
  'delta.deletedFileRetentionDuration',
  'delta.logRetentionDuration',
  'delta.dataSkippingNumIndexedCols',
  'delta.checkpoint.writeStatsAsJson',
])

/**
 * Creates a Delta table at `path` (version 0): the lowest protocol its schema allows (1/2, or
 * 3/7 with timestampNtz when a column is timestamp_ntz), metaData with Spark's schemaString, and
 * the source rows as data files. Refuses a folder that already holds a Delta log.
 *
 * @example
 * await createTable({ path: '/data/events', source: { file: 'events.parquet' }, partitionBy: ['day'] })
 */
export async function createTable(options: CreateTableOptions): Promise<WriteResult> {
  return writing(options.path, options.signal, () => createTableOnce(options))
}

async function createTableOnce(options: CreateTableOptions): Promise<WriteResult> {
  const table = resolve(options.path)
  await assertNoTable(table)
  for (const key of Object.keys(options.properties ?? {}))
    if (key.startsWith('delta.') && !KNOWN_PROPERTIES.has(key))
      throw new DuckmergeError(
        'UNSUPPORTED_FEATURE',
        `Cannot create Delta table ${table} with property ${key}: duckmerge does not maintain the feature it enables. Supported: ${[...KNOWN_PROPERTIES].join(', ')}.`,
        { table, property: key },
      )
  const db = await DuckDb.open()
  const stopListening = interruptOnAbort(db, options.signal)
  // The first folder this call made: removed again when the create fails (if still empty).
  let made: string | undefined
  try {
    const source = options.source ? await prepareSource(db, options.source) : undefined
    try {
      const schema = options.schema ?? source?.schema
      if (!schema || schema.fields.length === 0)
        throw new DuckmergeError(
          'VALIDATION_FAILED',
          `Cannot create Delta table ${table}: pass a source with columns or a schema.`,
          { table },
        )
      const partitionBy = options.partitionBy ?? []
      for (const p of partitionBy)
        if (!schema.fields.some((f) => f.name === p))
          throw new DuckmergeError(
            'COLUMN_NOT_FOUND',
            `Cannot partition Delta table ${table} by "${p}": no such column (columns: ${schema.fields.map((f) => f.name).join(', ')}).`,
            { table, column: p },
          )
      if (partitionBy.length === schema.fields.length)
        throw new DuckmergeError(
          'VALIDATION_FAILED',
          `Cannot create Delta table ${table}: every column is a partition column; keep at least one data column.`,
          { table },
        )
      made = await fs.mkdir(table, { recursive: true })
      let adds: AddFile[] = []
      if (source) {
        await checkInvariants(db, schema, source.query, table)
        const present = new Set(source.schema.fields.map((f) => f.name))
        adds = await writeDataFiles(db, table, source.query, {
          schema,
          partitionColumns: partitionBy,
          stats: statsOptionsOf({ configuration: options.properties ?? {} }),
          missingColumns: schema.fields.filter((f) => !present.has(f.name)).map((f) => f.name),
          ...(options.compression ? { compression: options.compression } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          signal: options.signal,
        })
      }
      const configuration = { ...(options.properties ?? {}) }
      const metadata: Metadata = {
        id: randomUUID(),
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        format: { provider: 'parquet', options: {} },
        schemaString: schemaToJson(schema),
        partitionColumns: [...partitionBy],
        configuration,
        createdTime: Date.now(),
      }
      const actions: Action[] = [
        { protocol: minimalProtocol(schema, configuration) },
        { metaData: metadata },
        ...(options.txn ? [txnAction(options.txn)] : []),
        ...adds.map((add) => ({ add })),
      ]
      const operation = source ? 'CREATE TABLE AS SELECT' : 'CREATE TABLE'
      const metrics = source ? outputMetrics(adds) : {}
      const result = await commitAndCheckpoint(table, actions, {
        readVersion: null,
        operation,
        operationParameters: {
          isManaged: 'false',
          description: options.description ?? null,
          partitionBy,
          properties: configuration,
        },
        operationMetrics: metrics,
        isBlindAppend: true,
        commitInfo: options.commitInfo,
        signal: options.signal,
        interval: checkpointIntervalOf(metadata, options.checkpointInterval),
      })
      return writeResultOf(result, operation, metrics)
    } finally {
      await source?.release()
    }
  } catch (error) {
    if (made) await removeEmptyFolders(made)
    throw error
  } finally {
    stopListening()
    db.close()
  }
}

/**
 * The lowest protocol the table needs (PROTOCOL.md, Table Features): writer 2 covers appendOnly
 * and invariants; a timestamp_ntz column needs reader 3 / writer 7 with the timestampNtz feature.
 */
export function minimalProtocol(
  schema: StructType,
  configuration: Readonly<Record<string, string>> = {},
): Protocol {
  if (usesType(schema, 'timestamp_ntz')) {
    const writerFeatures = ['timestampNtz']
    if (configuration['delta.appendOnly'] === 'true') writerFeatures.push('appendOnly')
    if (hasInvariants(schema)) writerFeatures.push('invariants')
    return {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['timestampNtz'],
      writerFeatures,
    }
  }
  return { minReaderVersion: 1, minWriterVersion: 2 }
}

/**
 * The protocol a table needs after its schema changed (mergeSchema, overwriteSchema), or
 * undefined when `current` already allows it. Moving a legacy table (writer 2–6, reader 1–2) to
 * reader 3 / writer 7 lists every feature its legacy versions implied (PROTOCOL.md, Table
 * Features), so the table keeps what it had.
 */
export function upgradedProtocol(current: Protocol, schema: StructType): Protocol | undefined {
  if (!usesType(schema, 'timestamp_ntz')) return undefined
  if (current.minWriterVersion >= 7 && (current.writerFeatures ?? []).includes('timestampNtz'))
    if (current.minReaderVersion >= 3 && (current.readerFeatures ?? []).includes('timestampNtz'))
      return undefined
  const readers = new Set(readerFeatures(current))
  const writers = new Set([...writerFeatures(current), ...readers])
  readers.add('timestampNtz')
  writers.add('timestampNtz')
  return {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: [...readers],
    writerFeatures: [...writers],
  }
}

function usesType(type: DataType, name: string): boolean {
  if (typeof type === 'string') return type === name
  if (type.type === 'struct') return type.fields.some((f) => usesType(f.type, name))
  if (type.type === 'array') return usesType(type.elementType, name)
  return usesType(type.keyType, name) || usesType(type.valueType, name)
}

function hasInvariants(schema: StructType): boolean {
  return schema.fields.some((f) => 'delta.invariants' in f.metadata)
}

async function assertNoTable(table: string): Promise<void> {
  const listing = await listLog(table).catch(() => undefined)
  const last = listing?.commits.at(-1)?.version ?? listing?.checkpoints.at(-1)?.version
  if (last !== undefined)
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot create Delta table ${table}: it already exists (version ${last}). Use append or overwrite.`,
      { table, version: last },
    )
}
