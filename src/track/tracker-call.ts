/** How `Tracker.track` records a call: its arguments, its result's fields, its error. */

/** True for a promise or any thenable: `track()` then records when it settles. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/**
 * An object result's fields become columns; anything else lands in `function_result`.
 *
 * @example
 * resultFields({ prediction: 1, label: 0 }) // { prediction: 1, label: 0 }
 * resultFields(42)                          // { function_result: 42 }
 */
export function resultFields(value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    if (value instanceof Date || value instanceof Uint8Array) return { function_result: value }
    const fields: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) fields[k] = storable(v)
    return fields
  }
  return { function_result: storable(value) }
}

/** Results are recorded, never rejected: what no column holds is recorded as its text. */
function storable(value: unknown): unknown {
  return typeof value === 'function' || typeof value === 'symbol' ? String(value) : value
}

/**
 * The `args` column: the arguments as JSON (xetrack writes Python's repr of the list).
 *
 * @example
 * argsText([{ id: 0, x: 0.5 }]) // '[{"id":0,"x":0.5}]'
 */
export function argsText(args: readonly unknown[]): string {
  try {
    return JSON.stringify(args, (_k, v: unknown) =>
      typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol' ? String(v) : v,
    )
  } catch {
    return String(args)
  }
}

/** The `error` column: the message of what was thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
