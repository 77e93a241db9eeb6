/**
 * Ctrl-C and SIGTERM (from a DVC or CI runner) as an AbortSignal: the library stops at its next
 * safe point (rolls back, removes temp outputs, or finishes the batch in flight) instead of the
 * process dying mid-write. A second signal exits at once, as users expect of a second Ctrl-C.
 */

export async function withInterrupt<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  onFirstSignal?: (signal: NodeJS.Signals) => void,
): Promise<T> {
  const controller = new AbortController()
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143)
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
