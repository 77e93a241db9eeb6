/**
 * Runs the built CLI as a subprocess, exactly as a user or a DVC stage would.
 *
 * Exit 70 is for bugs only (an error that is not a DuckmergeError): every run through these
 * helpers fails its test when the CLI exits 70, unless the test passes `expectInternal: true`.
 * So each failure path the tests exercise also checks that it is explained, not a stack trace.
 */
import { type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process'
import { afterEach, inject } from 'vitest'

const INTERNAL = 70
const internalExits: string[] = []

afterEach(() => {
  const found = internalExits.splice(0)
  if (found.length > 0)
    throw new Error(`the CLI exited 70 (an internal error, i.e. a bug):\n${found.join('\n')}`)
})

function internalExit(args: readonly string[], stderr: string): string {
  return `duckmerge ${args.join(' ')}\n${stderr}`
}

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
  /** The test is about an internal error: exit 70 is what it expects, not a failure. */
  readonly expectInternal?: boolean
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
  if (result.status === INTERNAL && !options.expectInternal)
    throw new Error(
      `the CLI exited 70 (an internal error, i.e. a bug):\n${internalExit(args, String(result.stderr ?? ''))}`,
    )
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
  const child = spawn(process.execPath, [cliPath(), ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.on('exit', (code) => {
    if (code === INTERNAL && !options.expectInternal) internalExits.push(internalExit(args, stderr))
  })
  return child
}
