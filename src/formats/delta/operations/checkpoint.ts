/** Writing a checkpoint of a Delta table's latest version on demand (`delta checkpoint`). */
import { type CheckpointResult, writeCheckpoint } from '../checkpoint-write.js'
import { openForWrite, writing } from './write-context.js'

/**
 * Writes `N.checkpoint.parquet` and `_last_checkpoint` for the latest version N.
 *
 * @example
 * const { version, path } = await checkpoint('/data/events')
 */
export async function checkpoint(tablePath: string): Promise<CheckpointResult> {
  return writing(tablePath, undefined, async () => writeCheckpoint(await openForWrite(tablePath)))
}
