/**
 * The service as users run it: `duckmerge serve --port 0` as a child process on 127.0.0.1, its
 * URL read from the first stdout line, tokens made with `duckmerge token create`.
 */
import type { ChildProcess } from 'node:child_process'
import { afterEach } from 'vitest'
import { runCli, startCli } from '../support/cli.js'

export interface Served {
  readonly url: string
  readonly child: ChildProcess
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>
  /** stderr so far (the JSON logs). */
  stderr(): string
}

const running: ChildProcess[] = []

afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
})

/** Starts `duckmerge serve --root ROOT --port 0` and waits for its "listening on" line. */
export async function serve(
  root: string,
  extra: readonly string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<Served> {
  const child = startCli(['serve', '--root', root, '--port', '0', ...extra], env ? { env } : {})
  running.push(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stderr}`)), 60_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n')[0] ?? ''
      if (out.includes('\n')) {
        clearTimeout(timer)
        const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line)
        if (match?.[1]) resolve(match[1])
        else reject(new Error(`unexpected first line ${JSON.stringify(line)}\n${stderr}`))
      }
    })
    child.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${stderr}`)))
  })
  return {
    url,
    child,
    stderr: () => stderr,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode)
        child.once('exit', (code) => resolve(code))
        child.kill('SIGTERM')
      }),
  }
}

/** A fresh user token (`--admin`, `--service` as asked). */
export function token(root: string, user: string, ...flags: string[]): string {
  const result = runCli(['token', 'create', '--user', user, '--root', root, '--json', ...flags])
  if (result.code !== 0) throw new Error(result.stderr)
  return result.json<{ token: string }>().token
}

/** fetch with a bearer token and JSON in and out. */
export async function call(
  served: Pick<Served, 'url'>,
  method: string,
  path: string,
  options: {
    token?: string
    json?: unknown
    body?: RequestInit['body']
    headers?: Record<string, string>
  } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  let body = options.body
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.json)
  }
  const res = await fetch(`${served.url}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body, duplex: 'half' } : {}),
  } as RequestInit)
  const text = await res.text()
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(text) as Record<string, unknown>
  } catch {
    parsed = { text }
  }
  return { status: res.status, headers: res.headers, body: parsed }
}
