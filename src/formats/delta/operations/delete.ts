/** DELETE FROM a Delta table WHERE a predicate: remove or rewrite only the files holding matches. */
import { DuckDb } from '../../../engine/duckdb.js'
import type { Action, AddFile } from '../actions.js'
import { columnMappingMode } from '../column-mapping.js'
import { isTxnApplied, txnAction } from '../txn.js'
import { writeDataFiles } from '../write-files.js'
import { planDelete } from './delete-plan.js'
import {
  assertNotAppendOnly,
  checkpointIntervalOf,
  commitAndCheckpoint,
  interruptOnAbort,
  openForWrite,
  removeOf,
  skipIfTxnWon,
  statsOptionsOf,
  type WriteOptions,
  type WriteResult,
  writeResultOf,
  writing,
} from './write-context.js'

export interface DeleteOptions extends WriteOptions {
  /**
   * DuckDB SQL over the table's columns, passed through as an expression (e.g.
   * `"score < 0.5 AND day = DATE '2024-01-01'"`). Omitted: every row is deleted.
   */
  readonly where?: string
}

/**
 * Deletes the rows matching `where` in one commit. Files whose rows all match are only removed;
 * files with some matches are rewritten without them; no other file is touched. Nothing is
 * committed when no row matches (`skipped: true`). Metrics use Spark's names (numRemovedFiles,
 * numAddedFiles, numDeletedRows, numCopiedRows, …).
 *
 * @example
 * const { metrics } = await deleteWhere({ path: '/data/events', where: "status = 'test'" })
 * metrics.numDeletedRows // 42
 */
export async function deleteWhere(options: DeleteOptions): Promise<WriteResult> {
  return writing(options.path, options.signal, () =>
    skipIfTxnWon(options, 'DELETE', () => deleteWhereOnce(options)),
  )
}

async function deleteWhereOnce(options: DeleteOptions): Promise<WriteResult> {
  const started = Date.now()
  const db = await DuckDb.open()
  const stopListening = interruptOnAbort(db, options.signal)
  try {
    const snapshot = await openForWrite(options.path, db)
    const table = snapshot.tablePath
    assertNotAppendOnly(snapshot, 'delete from')
    if (isTxnApplied(snapshot, options.txn))
      return { version: snapshot.version, operation: 'DELETE', metrics: {}, skipped: true }
    const plan = await planDelete(db, snapshot, options.where)
    const removed = [...plan.removeWhole, ...plan.rewrite]
    if (removed.length === 0)
      return {
        version: snapshot.version,
        operation: 'DELETE',
        metrics: zeroMetrics(Date.now() - started),
        skipped: true,
      }
    const adds: AddFile[] = plan.rewriteQuery
      ? await writeDataFiles(db, table, plan.rewriteQuery, {
          schema: snapshot.schema,
          partitionColumns: snapshot.partitionColumns,
          stats: statsOptionsOf(snapshot.metadata),
          columnMapping: columnMappingMode(snapshot.metadata),
          ...(options.compression ? { compression: options.compression } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          signal: options.signal,
        })
      : []
    const now = Date.now()
    const actions: Action[] = [
      ...(options.txn ? [txnAction(options.txn)] : []),
      ...removed.map((f) => ({ remove: removeOf(f, now) })),
      ...adds.map((add) => ({ add })),
    ]
    const metrics = {
      numRemovedFiles: removed.length,
      numAddedFiles: adds.length,
      numDeletedRows: plan.numDeletedRows,
      numCopiedRows: plan.numCopiedRows,
      numRemovedBytes: removed.reduce((n, f) => n + f.size, 0),
      numAddedBytes: adds.reduce((n, f) => n + f.size, 0),
      numAddedChangeFiles: 0,
      executionTimeMs: Date.now() - started,
    }
    const result = await commitAndCheckpoint(table, actions, {
      readVersion: snapshot.version,
      operation: 'DELETE',
      operationParameters: { predicate: options.where === undefined ? [] : [options.where] },
      operationMetrics: metrics,
      isBlindAppend: false,
      reads: { files: snapshot.files, scope: 'all' },
      commitInfo: options.commitInfo,
      signal: options.signal,
      interval: checkpointIntervalOf(snapshot.metadata, options.checkpointInterval),
    })
    return writeResultOf(result, 'DELETE', metrics)
  } finally {
    stopListening()
    db.close()
  }
}

function zeroMetrics(executionTimeMs: number): Record<string, number> {
  return {
    numRemovedFiles: 0,
    numAddedFiles: 0,
    numDeletedRows: 0,
    numCopiedRows: 0,
    numRemovedBytes: 0,
    numAddedBytes: 0,
    numAddedChangeFiles: 0,
    executionTimeMs,
  }
}
