/** Overwriting a Delta table (Spark's WRITE with mode Overwrite): all of it, or what replaceWhere selects. */
import { DuckDb } from '../../../engine/duckdb.js'
import { raw, sql } from '../../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../../errors.js'
import type { Action, AddFile, Metadata } from '../actions.js'
import { columnMappingMode } from '../column-mapping.js'
import { schemaToJson } from '../schema.js'
import { isTxnApplied, txnAction } from '../txn.js'
import { writeDataFiles } from '../write-files.js'
import { upgradedProtocol } from './create.js'
import { planDelete } from './delete-plan.js'
import { reconcileSchema } from './reconcile-schema.js'
import { type DeltaSource, prepareSource } from './source.js'
import {
  assertNotAppendOnly,
  assertSchemaKept,
  checkInvariants,
  checkpointIntervalOf,
  commitAndCheckpoint,
  interruptOnAbort,
  openForWrite,
  outputMetrics,
  removeOf,
  skipIfTxnWon,
  statsOptionsOf,
  type WriteOptions,
  type WriteResult,
  writeResultOf,
  writing,
} from './write-context.js'

export interface OverwriteOptions extends WriteOptions {
  readonly source: DeltaSource
  /**
   * replaceWhere: replace only the rows matching this DuckDB SQL predicate (passed through as an
   * expression); every source row must match it. Omitted: the whole table is replaced.
   */
  readonly where?: string
  /** Add source columns the table lacks. */
  readonly mergeSchema?: boolean
  /** Replace the schema (and partitioning, with partitionBy) by the source's; whole-table only. */
  readonly overwriteSchema?: boolean
  readonly partitionBy?: readonly string[]
}

/**
 * Replaces the table's rows (or those matching `where`) with the source rows, in one commit.
 * With `where`, files entirely inside the predicate are removed, files partly inside are
 * rewritten without the matching rows, and a source row outside the predicate is
 * VALIDATION_FAILED (nothing written), as Spark's replaceWhere does.
 *
 * @example
 * await overwriteTable({ path: '/data/events', source: { file: 'day.parquet' }, where: "day = DATE '2024-05-01'" })
 */
export async function overwriteTable(options: OverwriteOptions): Promise<WriteResult> {
  return writing(options.path, options.signal, () =>
    skipIfTxnWon(options, 'WRITE', () => overwriteTableOnce(options)),
  )
}

async function overwriteTableOnce(options: OverwriteOptions): Promise<WriteResult> {
  const db = await DuckDb.open()
  const stopListening = interruptOnAbort(db, options.signal)
  try {
    const snapshot = await openForWrite(options.path, db)
    const table = snapshot.tablePath
    assertNotAppendOnly(snapshot, 'overwrite')
    if (isTxnApplied(snapshot, options.txn))
      return { version: snapshot.version, operation: 'WRITE', metrics: {}, skipped: true }
    if (options.overwriteSchema && options.where !== undefined)
      throw new DuckmergeError(
        'USAGE',
        `Cannot overwrite the schema of ${table} with a predicate: overwriteSchema replaces the whole table.`,
      )
    const source = await prepareSource(db, options.source, snapshot.schema)
    try {
      let schema = snapshot.schema
      let missingColumns: readonly string[] = []
      let metadata: Metadata | undefined
      let partitionColumns = snapshot.partitionColumns
      if (options.overwriteSchema) {
        schema = source.schema
        partitionColumns = options.partitionBy ?? snapshot.partitionColumns
        metadata = {
          ...snapshot.metadata,
          schemaString: schemaToJson(schema),
          partitionColumns: [...partitionColumns],
        }
      } else {
        const reconciled = reconcileSchema(snapshot.schema, source.schema, {
          ...(options.mergeSchema !== undefined ? { mergeSchema: options.mergeSchema } : {}),
          tablePath: table,
          what: source.describe,
        })
        schema = reconciled.schema
        missingColumns = reconciled.missingColumns
        if (reconciled.changed)
          metadata = { ...snapshot.metadata, schemaString: schemaToJson(schema) }
      }
      assertSchemaKept(snapshot, metadata !== undefined)
      if (options.where !== undefined)
        await assertSourceMatches(db, source.query, options.where, table)
      await checkInvariants(db, schema, source.query, table)
      const plan = await planDelete(db, snapshot, options.where)
      const rewritten: AddFile[] = plan.rewriteQuery
        ? await writeDataFiles(db, table, plan.rewriteQuery, {
            schema,
            partitionColumns,
            stats: statsOptionsOf(snapshot.metadata),
            columnMapping: columnMappingMode(snapshot.metadata),
          })
        : []
      const adds = await writeDataFiles(db, table, source.query, {
        schema,
        partitionColumns,
        missingColumns,
        stats: statsOptionsOf(snapshot.metadata),
        columnMapping: columnMappingMode(snapshot.metadata),
        ...(options.compression ? { compression: options.compression } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        signal: options.signal,
      })
      const removed = [...plan.removeWhole, ...plan.rewrite]
      const now = Date.now()
      const upgrade = metadata ? upgradedProtocol(snapshot.protocol, schema) : undefined
      const actions: Action[] = [
        ...(upgrade ? [{ protocol: upgrade }] : []),
        ...(metadata ? [{ metaData: metadata }] : []),
        ...(options.txn ? [txnAction(options.txn)] : []),
        ...removed.map((f) => ({ remove: removeOf(f, now) })),
        ...[...rewritten, ...adds].map((add) => ({ add })),
      ]
      const metrics = {
        ...outputMetrics([...rewritten, ...adds]),
        numRemovedFiles: removed.length,
        numRemovedBytes: removed.reduce((n, f) => n + f.size, 0),
        numDeletedRows: plan.numDeletedRows,
        numCopiedRows: plan.numCopiedRows,
      }
      const result = await commitAndCheckpoint(table, actions, {
        readVersion: snapshot.version,
        operation: 'WRITE',
        operationParameters: {
          mode: 'Overwrite',
          partitionBy: partitionColumns,
          ...(options.where !== undefined ? { predicate: [options.where] } : {}),
        },
        operationMetrics: metrics,
        isBlindAppend: false,
        reads: { files: snapshot.files, scope: 'all' },
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

async function assertSourceMatches(
  db: Awaited<ReturnType<typeof DuckDb.open>>,
  query: ReturnType<typeof sql>,
  where: string,
  table: string,
): Promise<void> {
  let outside: number
  try {
    const row = await db.one<{ n: bigint }>(
      sql`SELECT count(*) AS n FROM (${query}) q WHERE (${raw(where)}) IS NOT TRUE`,
    )
    outside = Number(row?.n ?? 0)
  } catch (error) {
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot evaluate the predicate ${where} on the new rows for ${table}: ${messageOf(error)}`,
      { table, predicate: where },
      { cause: error },
    )
  }
  if (outside > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot overwrite ${table} where ${where}: ${outside} new row(s) do not match the predicate, so they would land outside the replaced range.`,
      { table, predicate: where, rows: outside, hint: 'Filter the input or widen {where}.' },
    )
}
