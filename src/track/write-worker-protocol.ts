/** Messages and shared memory between a Tracker and its write worker thread. */
import type { RowBatch, SqliteWriterOptions } from './tracker-sqlite.js'

/** Shared state slot holding the number of the last batch processed (committed or failed). */
export const processedSlot = 0

/** Marks the worker's data, so the entry file never acts inside some other worker thread. */
export const writeWorkerMarker = 'duckmerge-tracker-write-worker'

export interface WriteWorkerData extends SqliteWriterOptions {
  readonly marker: typeof writeWorkerMarker
  readonly state: SharedArrayBuffer
}

export type WorkerRequest =
  | { readonly kind: 'batch'; readonly batch: RowBatch }
  | { readonly kind: 'close' }

export type WorkerReply =
  | { readonly kind: 'done'; readonly seq: number }
  | {
      readonly kind: 'failed'
      readonly seq: number
      readonly code: string
      readonly message: string
    }
  | { readonly kind: 'closed' }
