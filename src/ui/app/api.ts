/**
 * The one way the app talks to the service: JSON over fetch with the bearer token.
 *
 * The token lives in sessionStorage (gone when the tab closes) and travels only in the
 * Authorization header: no cookies, so no ambient credential for another site to ride on,
 * and never in a URL, where logs and history would keep it.
 */

const TOKEN_KEY = 'duckmerge.token'
export const API = '/api/v1'

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function signIn(value: string): void {
  sessionStorage.setItem(TOKEN_KEY, value.trim())
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY)
}

/** An error body from the service, `{code, message, details?, request_id}`, with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly body: Record<string, unknown>,
  ) {
    super(message)
  }
}

export type Json = Record<string, unknown>

function headers(extra?: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { Accept: 'application/json', ...extra }
  const t = token()
  if (t) out.Authorization = `Bearer ${t}`
  return out
}

async function failure(res: Response): Promise<ApiError> {
  let body: Json = {}
  try {
    body = (await res.json()) as Json
  } catch {
    // A proxy's HTML page or an empty body: the status says enough.
  }
  const requestId =
    (typeof body.request_id === 'string' ? body.request_id : undefined) ??
    res.headers.get('X-Request-Id') ??
    undefined
  const code = typeof body.code === 'string' ? body.code : `http_${res.status}`
  const message = typeof body.message === 'string' ? body.message : res.statusText
  return new ApiError(res.status, code, message, requestId, body)
}

export interface RequestOptions {
  readonly body?: unknown
  readonly headers?: Record<string, string>
  readonly signal?: AbortSignal
}

/** Sends a request; a non-2xx answer throws ApiError. A FormData or Blob body goes as is. */
export async function request<T = Json>(
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const { body } = options
  const raw = body instanceof FormData || body instanceof Blob
  const init: RequestInit = {
    method,
    headers: headers({
      ...(body !== undefined && !raw ? { 'Content-Type': 'application/json' } : {}),
      ...options.headers,
    }),
  }
  if (body !== undefined) init.body = raw ? body : JSON.stringify(body)
  if (options.signal) init.signal = options.signal
  const res = await fetch(path.startsWith('/') ? path : `${API}/${path}`, init)
  if (!res.ok) throw await failure(res)
  if (res.status === 204) return {} as T
  return (await res.json()) as T
}

export const get = <T = Json>(path: string, signal?: AbortSignal) =>
  request<T>('GET', path, signal ? { signal } : {})

/** Query string from defined values only. */
export function query(
  params: Record<string, string | number | boolean | undefined | null>,
): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** Lists come as a bare array or under a named field (`{datasets: […]}`, `{items: […]}`). */
export function listOf<T = Json>(body: unknown, field: string): T[] {
  if (Array.isArray(body)) return body as T[]
  const o = body as Json
  const v = o?.[field] ?? o?.items
  return Array.isArray(v) ? (v as T[]) : []
}

export interface ServerEvent {
  readonly event: string
  readonly data: string
  readonly id?: string
}

/**
 * Reads a text/event-stream with fetch, since EventSource cannot send the Authorization header.
 * Resolves when the stream ends or the signal aborts.
 */
export async function readEvents(
  path: string,
  onEvent: (e: ServerEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const init: RequestInit = { headers: headers({ Accept: 'text/event-stream' }) }
  if (signal) init.signal = signal
  const res = await fetch(path.startsWith('/') ? path : `${API}/${path}`, init)
  if (!res.ok || !res.body) throw await failure(res)
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let blank = /\r?\n\r?\n/.exec(buffer)
    while (blank) {
      dispatch(buffer.slice(0, blank.index), onEvent)
      buffer = buffer.slice(blank.index + blank[0].length)
      blank = /\r?\n\r?\n/.exec(buffer)
    }
  }
}

function dispatch(block: string, onEvent: (e: ServerEvent) => void): void {
  let event = 'message'
  let id: string | undefined
  const data: string[] = []
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':') || line === '') continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id') id = value
  }
  if (data.length === 0 && event === 'message') return
  onEvent(
    id === undefined ? { event, data: data.join('\n') } : { event, data: data.join('\n'), id },
  )
}
