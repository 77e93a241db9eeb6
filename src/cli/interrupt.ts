/**
 * Ctrl-C and SIGTERM (from a DVC or CI runner) as an AbortSignal for every command: main.ts runs
 * each command inside `withInterrupt` and hands the signal on as `context.signal`. The library
 * stops at its next safe point (rolls back, removes temp outputs, or finishes the batch in flight)
 * and throws INTERRUPTED, which exits 1. A second signal exits at once, as users expect of a
 * second Ctrl-C, after removing what operations registered with `removeOnExit`
 * (src/engine/interrupt.ts).
 */
import { runExitCleanups } from '../engine/interrupt.js'

export async function withInterrupt<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  onFirstSignal?: (signal: NodeJS.Signals) => void,
): Promise<T> {
  const controller = new AbortController()
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      runExitCleanups()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    onFirstSignal?.(signal)
    controller.abort()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  try {
    return await fn(controller.signal)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
