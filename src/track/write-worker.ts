/**
 * The worker thread that owns a tracker's SQLite connection, so `log()` never waits on disk:
 * it writes each batch the Tracker posts, then publishes the batch's number in shared memory
 * (read by `flush()` and by the process 'exit' hook, which cannot wait for messages).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { isDuckmergeError, messageOf } from '../errors.js'
import { SqliteRowWriter } from './tracker-sqlite.js'
import {
  processedSlot,
  type WorkerReply,
  type WorkerRequest,
  type WriteWorkerData,
  writeWorkerMarker,
} from './write-worker-protocol.js'

const data = workerData as WriteWorkerData | undefined
if (parentPort !== null && data?.marker === writeWorkerMarker) {
  const port = parentPort
  const state = new Int32Array(data.state)
  let writer: SqliteRowWriter | undefined
  let openError: unknown

  const processed = (seq: number): void => {
    Atomics.store(state, processedSlot, seq)
    Atomics.notify(state, processedSlot)
  }
  const fail = (seq: number, error: unknown): void => {
    processed(seq)
    port.postMessage({
      kind: 'failed',
      seq,
      code: isDuckmergeError(error) ? error.code : 'OUTPUT_UNWRITABLE',
      message: messageOf(error),
    } satisfies WorkerReply)
  }

  try {
    writer = new SqliteRowWriter(data)
  } catch (error) {
    openError = error
  }

  port.on('message', (request: WorkerRequest) => {
    if (request.kind === 'close') {
      writer?.close()
      port.postMessage({ kind: 'closed' } satisfies WorkerReply)
      port.close()
      return
    }
    const { seq } = request.batch
    if (writer === undefined) return fail(seq, openError)
    try {
      writer.write(request.batch)
      processed(seq)
      port.postMessage({ kind: 'done', seq } satisfies WorkerReply)
    } catch (error) {
      fail(seq, error)
    }
  })
}
