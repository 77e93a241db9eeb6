/** The shape of a CLI command and the helpers commands use to read their flags. */
import type { ParseArgsConfig } from 'node:util'
import { DuckmergeError } from '../errors.js'
import type { ProgressCallback } from '../progress.js'

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>
export type Values = Record<string, string | boolean | string[] | undefined>

export interface CommandContext {
  /** Flag values by long name (strings, booleans, or arrays for `multiple` flags). */
  readonly values: Values
  readonly positionals: readonly string[]
  readonly json: boolean
  /** A progress sink for the library's `onProgress`; undefined when nothing should be drawn. */
  readonly progress: ProgressCallback | undefined
  readonly cwd: string
  /**
   * Aborted on the first SIGINT/SIGTERM (cli/interrupt.ts): pass it to library operations as
   * `signal` so they stop at their next safe point and throw INTERRUPTED.
   */
  readonly signal: AbortSignal
}

/** What a command returns: the report (printed as JSON with --json) and its text rendering. */
export interface CommandResult {
  readonly report: unknown
  readonly text: string
  /** Non-zero to fail after printing the report (e.g. a gate that did not pass). */
  readonly exitCode?: number
}

export interface Command {
  /** Words after `duckmerge`, e.g. ['results', 'merge']. */
  readonly path: readonly string[]
  readonly summary: string
  /** Argument synopsis after the path, e.g. '--base BASE --exp EXP [--output OUT]'. */
  readonly usage: string
  readonly options: OptionSpecs
  /** Names of positional arguments, for help and count checks; a trailing '...' allows more. */
  readonly positionals?: readonly string[]
  /**
   * Library option fields whose flag is not their kebab-case name (e.g. `{ key: 'keys' }`), so an
   * error's hint ("Pass {key} …") names the flag this command takes.
   */
  readonly hintFlags?: Readonly<Record<string, string>>
  /** What the command does on a first Ctrl-C, printed then (e.g. 'stopping after the current batch'). */
  readonly onInterrupt?: string
  run(context: CommandContext): Promise<CommandResult>
}

export function usageError(message: string): DuckmergeError {
  return new DuckmergeError('USAGE', message)
}

export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw usageError(`--${name} takes a value`)
  return v
}

export function requiredString(values: Values, name: string): string {
  const v = stringOption(values, name)
  if (v === undefined || v === '') throw usageError(`missing required --${name}`)
  return v
}

/** Comma-separated list flag (`--key a,b`); repeated flags are concatenated. */
export function listOption(values: Values, name: string): string[] | undefined {
  const v = values[name]
  if (v === undefined) return undefined
  const parts = (Array.isArray(v) ? v : [String(v)]).flatMap((s) => s.split(','))
  const list = parts.map((s) => s.trim()).filter((s) => s !== '')
  if (list.length === 0) throw usageError(`--${name} needs at least one name`)
  return list
}

export function multiOption(values: Values, name: string): string[] {
  const v = values[name]
  if (v === undefined) return []
  return Array.isArray(v) ? v : [String(v)]
}

export function intOption(values: Values, name: string, min = 0): number | undefined {
  const v = stringOption(values, name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min)
    throw usageError(`--${name} must be a whole number >= ${min}, got "${v}"`)
  return n
}

export function numberOption(values: Values, name: string): number | undefined {
  const v = stringOption(values, name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n)) throw usageError(`--${name} must be a number, got "${v}"`)
  return n
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true
}

/** Standard `--json` and `--dry-run` flags most commands take. */
export const jsonOption: OptionSpecs = { json: { type: 'boolean' } }

/** The flag a library option field is passed as on this command: `dedupKey` → `--dedup-key`. */
export function flagForField(
  command: Pick<Command, 'hintFlags'> | undefined,
  field: string,
): string {
  const name = command?.hintFlags?.[field] ?? field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
  return `--${name}`
}
