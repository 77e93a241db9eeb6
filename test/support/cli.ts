/** Runs the built CLI as a subprocess, exactly as a user or a DVC stage would. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const cliPath = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T
}

export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
  })
  const stdout = result.stdout ?? ''
  return {
    code: result.status ?? -1,
    stdout,
    stderr: result.stderr ?? '',
    json<T>() {
      return JSON.parse(stdout) as T
    },
  }
}
