/**
 * Stopping long work when asked (Ctrl-C, SIGTERM from a DVC or CI runner) without leaving
 * anything behind. One mechanism for every operation:
 *
 * - An operation takes `signal?: AbortSignal` and calls `throwIfInterrupted(signal)` at its safe
 *   points: between statements of a transaction (the rollback then undoes them), before renaming
 *   a temp output into place, between batches that commit whole. Long engine calls are cut short
 *   with `onAbort(signal, () => connection.interrupt())`. The error it throws is INTERRUPTED, and
 *   its `finally` blocks remove what it wrote.
 * - A second signal cannot wait for those `finally` blocks: the process exits at once. Whatever
 *   must not survive that exit (a temp output, a staging folder) is registered with
 *   `removeOnExit(path)`, whose synchronous removal `runExitCleanups()` performs before exiting.
 *
 * first signal → abort() → next safe point throws INTERRUPTED → finally: rollback / rm temp → exit 1
 * second signal → runExitCleanups() (rmSync of registered paths) → exit 130/143
 */
import { rmSync } from 'node:fs'
import { DuckmergeError } from '../errors.js'

/**
 * The error of an operation stopped through its AbortSignal. `outcome` says what is left, in the
 * operation's words (default: nothing was written).
 */
export function interruptedError(
  outcome = 'nothing was written',
  details: Readonly<Record<string, unknown>> = {},
  cause?: unknown,
): DuckmergeError {
  return new DuckmergeError(
    'INTERRUPTED',
    `Interrupted: ${outcome}.`,
    details,
    cause === undefined ? undefined : { cause },
  )
}

/**
 * A safe point: throws INTERRUPTED when `signal` has been aborted.
 *
 * @example
 * for (const table of tables) {
 *   throwIfInterrupted(options.signal) // inside the transaction: the rollback undoes the others
 *   await mergeTable(table)
 * }
 */
export function throwIfInterrupted(signal: AbortSignal | undefined, outcome?: string): void {
  if (signal?.aborted) throw interruptedError(outcome)
}

/**
 * Runs `stop` once when `signal` aborts (at once if it already has); returns the function that
 * unregisters it, for a `finally` block.
 *
 * @example
 * const off = onAbort(options.signal, () => db.connection.interrupt())
 * try { await db.run(bigQuery) } finally { off() }
 */
export function onAbort(signal: AbortSignal | undefined, stop: () => void): () => void {
  if (!signal) return () => undefined
  if (signal.aborted) {
    stop()
    return () => undefined
  }
  signal.addEventListener('abort', stop, { once: true })
  return () => signal.removeEventListener('abort', stop)
}

const exitCleanups = new Set<() => void>()

/**
 * Registers `path` (a file or folder, with any `-journal`/`-wal`/`-shm`/`.wal` beside it) for
 * synchronous removal if the process must exit before the operation's own cleanup runs. Returns
 * the function that unregisters it: call it once the path is renamed into place or removed.
 *
 * @example
 * const forget = removeOnExit(temp)
 * try { await write(temp); await rename(temp, target) } finally { forget() }
 */
export function removeOnExit(path: string): () => void {
  const remove = () => {
    for (const suffix of ['', '-journal', '-wal', '-shm', '.wal'])
      rmSync(`${path}${suffix}`, { recursive: true, force: true })
  }
  exitCleanups.add(remove)
  return () => {
    exitCleanups.delete(remove)
  }
}

/** Performs every registered removal now (best effort), for an exit that cannot wait. */
export function runExitCleanups(): void {
  for (const cleanup of exitCleanups) {
    try {
      cleanup()
    } catch {
      // Exiting anyway: a path that cannot be removed now stays, as it would after a crash.
    }
  }
  exitCleanups.clear()
}
