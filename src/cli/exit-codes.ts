/** Process exit codes of the CLI: scripts and DVC stages branch on these. */
import { DuckmergeError } from '../errors.js'

export const ExitCode = {
  ok: 0,
  /** Any failure duckmerge can explain (bad input, conflict, unsupported feature). */
  failed: 1,
  /** The command line itself is wrong (unknown flag, missing argument). */
  usage: 2,
  /** A bug: an error that is not a DuckmergeError. */
  internal: 70,
} as const

export function exitCodeFor(error: unknown): number {
  if (error instanceof DuckmergeError)
    return error.code === 'USAGE' ? ExitCode.usage : ExitCode.failed
  return ExitCode.internal
}
