/** Appending rows to a Delta table (Spark's WRITE with mode Append), optionally adding columns. */
import { DuckDb } from '../../../engine/duckdb.js'
import type { Action, Metadata } from '../actions.js'
import { columnMappingMode } from '../column-mapping.js'
import { schemaToJson } from '../schema.js'
import { isTxnApplied, txnAction } from '../txn.js'
import { writeDataFiles } from '../write-files.js'
import { upgradedProtocol } from './create.js'
import { reconcileSchema } from './reconcile-schema.js'
import { type DeltaSource, prepareSource } from './source.js'
import {
  assertSchemaKept,
  checkInvariants,
  checkpointIntervalOf,
  commitAndCheckpoint,
  interruptOnAbort,
  openForWrite,
  outputMetrics,
  skipIfTxnWon,
  statsOptionsOf,
  type WriteOptions,
  type WriteResult,
  writeResultOf,
  writing,
} from './write-context.js'

export interface AppendOptions extends WriteOptions {
  readonly source: DeltaSource
  /** Add source columns the table lacks (as nullable columns) instead of failing. */
  readonly mergeSchema?: boolean
}

/**
 * Appends the source rows as new data files in one commit. A source column the table lacks is
 * SCHEMA_MISMATCH (naming it) unless `mergeSchema`; table columns the source lacks are NULL.
 * A blind append: concurrent appends never conflict with it. With `txn`, a batch the table
 * already holds is skipped (`skipped: true`).
 *
 * @example
 * const { version, metrics } = await appendTable({ path: '/data/events', source: { file: 'new.parquet' } })
 */
export async function appendTable(options: AppendOptions): Promise<WriteResult> {
  return writing(options.path, options.signal, () =>
    skipIfTxnWon(options, 'WRITE', () => appendTableOnce(options)),
  )
}

async function appendTableOnce(options: AppendOptions): Promise<WriteResult> {
  const db = await DuckDb.open()
  const stopListening = interruptOnAbort(db, options.signal)
  try {
    const snapshot = await openForWrite(options.path, db)
    const table = snapshot.tablePath
    if (isTxnApplied(snapshot, options.txn))
      return { version: snapshot.version, operation: 'WRITE', metrics: {}, skipped: true }
    const source = await prepareSource(db, options.source, snapshot.schema)
    try {
      const { schema, missingColumns, changed } = reconcileSchema(snapshot.schema, source.schema, {
        ...(options.mergeSchema !== undefined ? { mergeSchema: options.mergeSchema } : {}),
        tablePath: table,
        what: source.describe,
      })
      assertSchemaKept(snapshot, changed)
      await checkInvariants(db, schema, source.query, table)
      const adds = await writeDataFiles(db, table, source.query, {
        schema,
        partitionColumns: snapshot.partitionColumns,
        stats: statsOptionsOf(snapshot.metadata),
        columnMapping: columnMappingMode(snapshot.metadata),
        missingColumns,
        ...(options.compression ? { compression: options.compression } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        signal: options.signal,
      })
      const metadata: Metadata | undefined = changed
        ? { ...snapshot.metadata, schemaString: schemaToJson(schema) }
        : undefined
      const upgrade = metadata ? upgradedProtocol(snapshot.protocol, schema) : undefined
      const actions: Action[] = [
        ...(upgrade ? [{ protocol: upgrade }] : []),
        ...(metadata ? [{ metaData: metadata }] : []),
        ...(options.txn ? [txnAction(options.txn)] : []),
        ...adds.map((add) => ({ add })),
      ]
      const metrics = outputMetrics(adds)
      const result = await commitAndCheckpoint(table, actions, {
        readVersion: snapshot.version,
        operation: 'WRITE',
        operationParameters: { mode: 'Append', partitionBy: snapshot.partitionColumns },
        operationMetrics: metrics,
        isBlindAppend: !changed,
        commitInfo: options.commitInfo,
        signal: options.signal,
        interval: checkpointIntervalOf(snapshot.metadata, options.checkpointInterval),
      })
      return writeResultOf(result, 'WRITE', metrics)
    } finally {
      await source.release()
    }
  } finally {
    stopListening()
    db.close()
  }
}
