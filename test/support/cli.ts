/** Runs the built CLI as a subprocess, exactly as a user or a DVC stage would. */
import { type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process'
import { inject } from 'vitest'

/** The CLI built for this test run by global-setup.ts. */
export function cliPath(): string {
  return inject('cliPath')
}

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T
}

export interface CliOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  readonly input?: string
  readonly timeoutMs?: number
}

export function runCli(args: readonly string[], options: CliOptions = {}): CliResult {
  const spawnOptions: SpawnSyncOptions = {
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
  }
  if (options.cwd) spawnOptions.cwd = options.cwd
  if (options.input !== undefined) spawnOptions.input = options.input
  const result = spawnSync(process.execPath, [cliPath(), ...args], spawnOptions)
  const stdout = String(result.stdout ?? '')
  return {
    code: result.status ?? -1,
    stdout,
    stderr: String(result.stderr ?? ''),
    json<T>() {
      return JSON.parse(stdout) as T
    },
  }
}

/** Starts the CLI without waiting, for signal and concurrency tests. */
export function startCli(args: readonly string[], options: CliOptions = {}) {
  return spawn(process.execPath, [cliPath(), ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}
