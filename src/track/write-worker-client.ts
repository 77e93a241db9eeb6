/**
 * The Tracker's side of its write worker: posts batches, keeps the process alive only while a
 * batch is in flight, and answers `flush()` once the worker has committed everything posted.
 */
import { Worker } from 'node:worker_threads'
import { workerScript } from '../engine/worker-script.js'
import { DuckmergeError, type ErrorCode } from '../errors.js'
import type { RowBatch, SqliteWriterOptions } from './tracker-sqlite.js'
import {
  processedSlot,
  type WorkerReply,
  type WorkerRequest,
  type WriteWorkerData,
  writeWorkerMarker,
} from './write-worker-protocol.js'

interface Waiter {
  readonly seq: number
  readonly resolve: () => void
  readonly reject: (error: Error) => void
}

export class WriteWorkerClient {
  readonly #worker: Worker
  readonly #state = new Int32Array(new SharedArrayBuffer(8))
  readonly #path: string
  readonly #table: string
  #posted = 0
  #processed = 0
  #waiters: Waiter[] = []
  #failures: DuckmergeError[] = []
  #dead: DuckmergeError | undefined
  #closed: Promise<void> | undefined

  constructor(options: SqliteWriterOptions) {
    this.#path = options.path
    this.#table = options.table
    const script = workerScript(import.meta.url, 'write-worker')
    const data: WriteWorkerData = {
      ...options,
      marker: writeWorkerMarker,
      state: this.#state.buffer as SharedArrayBuffer,
    }
    this.#worker = new Worker(script.source, { workerData: data, eval: script.isEval })
    this.#worker.on('message', (reply: WorkerReply) => this.#onReply(reply))
    this.#worker.on('error', (error) => this.#die(error))
    this.#worker.on('exit', () => this.#die(new Error('the write worker stopped')))
    // After the listeners: adding a 'message' listener refs the worker's port again, which kept
    // a script that logged nothing alive forever.
    this.#worker.unref()
  }

  /** Hands a batch to the worker; its number is what `flush()` waits for. */
  post(batch: Omit<RowBatch, 'seq'>): void {
    // A dead worker rejects the next flush(); throwing here would surface in a timer instead.
    if (this.#dead) return
    const seq = ++this.#posted
    if (seq === this.#processed + 1) this.#worker.ref()
    this.#worker.postMessage({ kind: 'batch', batch: { ...batch, seq } } satisfies WorkerRequest)
  }

  /** Resolves once every batch posted so far is committed; rejects with the first write failure. */
  flush(): Promise<void> {
    const seq = this.#posted
    if (this.#processed >= seq) return this.#settled()
    if (this.#dead) return Promise.reject(this.#dead)
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ seq, resolve, reject })
    }).then(() => this.#settled())
  }

  /**
   * Blocks this thread until the worker has processed every posted batch, or `timeoutMs`
   * passes. Only for the process 'exit' hook, where no promise can settle any more.
   */
  waitSync(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const done = Atomics.load(this.#state, processedSlot)
      if (done >= this.#posted || this.#dead) return done >= this.#posted
      const left = deadline - Date.now()
      if (left <= 0) return false
      Atomics.wait(this.#state, processedSlot, done, Math.min(left, 50))
    }
  }

  /** Flushes, then closes the connection and ends the thread. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      let failure: unknown
      await this.flush().catch((error: unknown) => {
        failure = error
      })
      if (!this.#dead) {
        this.#worker.ref()
        const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()))
        this.#worker.postMessage({ kind: 'close' } satisfies WorkerRequest)
        await exited
      }
      if (failure) throw failure
    })()
    return this.#closed
  }

  #settled(): Promise<void> {
    const failure = this.#failures.shift()
    this.#failures = []
    return failure ? Promise.reject(failure) : Promise.resolve()
  }

  #onReply(reply: WorkerReply): void {
    if (reply.kind === 'closed') return
    if (reply.kind === 'failed') {
      this.#failures.push(
        new DuckmergeError(
          reply.code as ErrorCode,
          `Cannot write tracked rows to ${this.#path}, table "${this.#table}": ${reply.message}`,
          { path: this.#path, table: this.#table },
        ),
      )
    }
    this.#processed = reply.seq
    if (this.#processed >= this.#posted) this.#worker.unref()
    const ready = this.#waiters.filter((w) => w.seq <= reply.seq)
    this.#waiters = this.#waiters.filter((w) => w.seq > reply.seq)
    for (const w of ready) w.resolve()
  }

  #die(error: Error): void {
    if (this.#dead) return
    this.#dead =
      error instanceof DuckmergeError
        ? error
        : new DuckmergeError(
            'INTERNAL',
            `The tracker's write worker for ${this.#path} stopped: ${error.message}`,
            {
              path: this.#path,
            },
          )
    // A clean close has flushed already: nothing waits then.
    for (const w of this.#waiters.splice(0)) w.reject(this.#dead)
  }
}
