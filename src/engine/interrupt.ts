/**
 * Stopping long work when asked (Ctrl-C, SIGTERM from a DVC or CI runner) without leaving
 * anything behind. One mechanism for every operation:
 *
 * - An operation takes `signal?: AbortSignal` and calls `throwIfInterrupted(signal)` (or, after
 *   synchronous work, `await safePoint(signal)`) at its safe points: between statements of a transaction (the rollback then undoes them), before renaming
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
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
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
 * A safe point after synchronous work (a better-sqlite3 statement blocks the event loop, so a
 * signal that arrived meanwhile is delivered only on the next turn): yields one turn, then throws
 * INTERRUPTED when `signal` has been aborted. Use it before a commit or a rename.
 *
 * @example
 * const result = await fn()
 * await safePoint(options.signal) // a Ctrl-C during fn() rolls back instead of committing
 * commit()
 */
export async function safePoint(signal: AbortSignal | undefined, outcome?: string): Promise<void> {
  if (!signal) return
  await new Promise((resolve) => setImmediate(resolve))
  throwIfInterrupted(signal, outcome)
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

/** A path and the journals an engine may leave beside a database written there. */
export const withJournals = (path: string): string[] =>
  ['', '-journal', '-wal', '-shm', '.wal'].map((suffix) => `${path}${suffix}`)

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
    for (const file of withJournals(path)) rmSync(file, { recursive: true, force: true })
  }
  exitCleanups.add(remove)
  return () => {
    exitCleanups.delete(remove)
  }
}

/**
 * Registers folder `dir` so that a forced exit removes this process's temporary files in it:
 * the hidden `.<name>.tmp-<pid>-…` names `tempPathBeside` (engine/files.ts) gives. For work that
 * creates and renames several temps (a model copied into the store and into production), where
 * registering each one would be as long as the work. Returns the function that unregisters it.
 *
 * @example
 * const forget = removeTempsOnExit('models/store')
 * try { await stageAndPlace() } finally { forget() }
 */
export function removeTempsOnExit(dir: string): () => void {
  const mark = `.tmp-${process.pid}-`
  const remove = () => {
    for (const name of readdirSync(dir))
      if (name.startsWith('.') && name.includes(mark))
        rmSync(join(dir, name), { recursive: true, force: true })
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
