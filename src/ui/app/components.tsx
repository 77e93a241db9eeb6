/**
 * Small building blocks shared by the pages. Every value is rendered as text through Preact's
 * escaping (never innerHTML), so a cell or a column named `<script>` shows as those characters.
 */
import type { ComponentChildren } from 'preact'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api'

export interface Async<T> {
  readonly data: T | undefined
  readonly error: unknown
  readonly loading: boolean
  reload(): void
}

/** Runs `load` when `deps` change; a newer load wins over an older one still in flight. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const ctl = new AbortController()
    setState((s) => ({ ...s, loading: true }))
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, loading: false }),
      (error) => !ctl.signal.aborted && setState({ error, loading: false }),
    )
    return () => ctl.abort()
  }, [...deps, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { data: state.data, error: state.error, loading: state.loading, reload }
}

/** An error in words, with the request id the server logged it under. */
export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null
  if (error instanceof ApiError)
    return (
      <p class="error" role="alert" data-testid="error">
        {error.message}{' '}
        <span class="muted">
          ({error.code}
          {error.requestId ? `, request id ${error.requestId}` : ''})
        </span>
      </p>
    )
  return (
    <p class="error" role="alert" data-testid="error">
      {error instanceof Error ? error.message : String(error)}
    </p>
  )
}

/** A value exactly as the API sent it: strings stay strings (big integers, decimals), NULL apart. */
export function Value({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="null">NULL</span>
  if (typeof value === 'object') return <span>{JSON.stringify(value)}</span>
  return <span>{String(value)}</span>
}

export interface Crumb {
  readonly href: string
  /** Undefined while it loads (shown as an ellipsis). */
  readonly label: string | undefined
}

/** "1 row", "2 rows", "? rows". */
export function plural(n: unknown, noun: string): string {
  return `${String(n ?? '?')} ${nounFor(n, noun)}`
}

/** The noun alone as the count `n` reads: "row" for 1, "rows" for any other. */
export function nounFor(n: unknown, noun: string): string {
  return String(n ?? '?') === '1' ? noun : `${noun}s`
}

/** A project's or dataset's name once loaded. */
export function nameOf(body: Record<string, unknown> | undefined): string | undefined {
  return body?.name === undefined ? undefined : String(body.name)
}

/** Where a page sits: Projects / the project's name / the dataset's name / (this page). */
export function Crumbs({ trail }: { trail: readonly Crumb[] }) {
  return (
    <nav class="crumbs" aria-label="Breadcrumb" data-testid="crumbs">
      {trail.map((c) => (
        <span key={c.href}>
          <a href={c.href}>{c.label ?? '…'}</a> /{' '}
        </span>
      ))}
    </nav>
  )
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading {what}…
    </p>
  )
}

export interface TabSpec<T extends string> {
  readonly id: T
  readonly label: string
  readonly badge?: number | string | undefined
}

export function Tabs<T extends string>(props: {
  tabs: readonly TabSpec<T>[]
  active: T
  onSelect(id: T): void
}) {
  return (
    <div role="tablist" class="tabs">
      {props.tabs.map((t) => (
        <button
          type="button"
          role="tab"
          key={t.id}
          aria-selected={t.id === props.active}
          class={t.id === props.active ? 'tab active' : 'tab'}
          onClick={() => props.onSelect(t.id)}
        >
          {t.label}
          {t.badge !== undefined && <span class="badge">{t.badge}</span>}
        </button>
      ))}
    </div>
  )
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select, textarea'

/**
 * A modal dialog: focus starts on its first control, Tab and Shift+Tab cycle inside it, Escape
 * closes it, and focus goes back to what opened it.
 */
export function Modal(props: { title: string; onClose(): void; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null
    ref.current?.querySelector<HTMLElement>(FOCUSABLE)?.focus()
    return () => opener?.focus()
  }, [])
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') props.onClose()
      if (e.key !== 'Tab' || !ref.current) return
      const inside = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)]
      const first = inside[0]
      const last = inside.at(-1)
      const at = document.activeElement
      const outside = !ref.current.contains(at)
      if (e.shiftKey ? at === first || outside : at === last || outside) {
        e.preventDefault()
        ;(e.shiftKey ? last : first)?.focus()
      }
    }
    addEventListener('keydown', onKey)
    return () => removeEventListener('keydown', onKey)
  }, [props.onClose])
  return (
    <div class="backdrop">
      <div class="modal" role="dialog" aria-modal="true" aria-label={props.title} ref={ref}>
        <h2>{props.title}</h2>
        {props.children}
      </div>
    </div>
  )
}

export type ToastKind = 'success' | 'error' | 'info'
export interface Toast {
  readonly id: number
  readonly kind: ToastKind
  readonly text: string
  readonly link?: { readonly href: string; readonly label: string } | undefined
  readonly about?: string | undefined
}

let toastId = 0
let toasts: Toast[] = []
const listeners = new Set<(t: Toast[]) => void>()

/**
 * Shows a notification; errors stay until dismissed, others fade after 8 s. A notification
 * `about` something replaces the earlier ones about it (a merge's success, its failed attempt).
 */
export function notify(kind: ToastKind, text: string, link?: Toast['link'], about?: string): void {
  const toast: Toast = { id: ++toastId, kind, text, link, about }
  toasts = [...toasts.filter((t) => about === undefined || t.about !== about), toast]
  for (const l of listeners) l(toasts)
  if (kind !== 'error') setTimeout(() => dismiss(toast.id), 8000)
}

function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id)
  for (const l of listeners) l(toasts)
}

export function Toasts() {
  const [list, setList] = useState(toasts)
  useEffect(() => {
    listeners.add(setList)
    return () => void listeners.delete(setList)
  }, [])
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div
          key={t.id}
          class={`toast ${t.kind}`}
          role={t.kind === 'error' ? 'alert' : 'status'}
          data-testid={`toast-${t.kind}`}
        >
          <span>{t.text}</span>
          {t.link && (
            <a href={t.link.href} onClick={() => dismiss(t.id)}>
              {t.link.label}
            </a>
          )}
          <button
            type="button"
            class="link"
            aria-label="Dismiss notification"
            onClick={() => dismiss(t.id)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  )
}

/** Forward-only paging with the server's opaque cursor; keeps earlier cursors to go back. */
export function usePager(deps: unknown[]) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined])
  useEffect(() => setCursors([undefined]), deps)
  const cursor = cursors[cursors.length - 1]
  return {
    cursor,
    page: cursors.length,
    next: (c: string) => setCursors((cs) => [...cs, c]),
    previous: () => setCursors((cs) => (cs.length > 1 ? cs.slice(0, -1) : cs)),
  }
}

export function Pager(props: {
  page: number
  nextCursor: string | null | undefined
  hasMore: boolean
  onNext(c: string): void
  onPrevious(): void
}) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={props.page <= 1} onClick={props.onPrevious}>
        Previous page
      </button>
      <span>Page {props.page}</span>
      <button
        type="button"
        disabled={!props.hasMore || !props.nextCursor}
        onClick={() => props.nextCursor && props.onNext(props.nextCursor)}
      >
        Next page
      </button>
    </nav>
  )
}

/** Rows of objects as a table; `columns` fixes the order, else the first row's keys. */
export function RowsTable(props: {
  rows: readonly Record<string, unknown>[]
  columns?: readonly string[]
  testid?: string
  class?: string
}) {
  const columns = props.columns ?? Object.keys(props.rows[0] ?? {})
  if (props.rows.length === 0) return <p class="muted">No rows.</p>
  return (
    <div class="scroll">
      <table data-testid={props.testid} class={props.class}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r, i) => (
            <tr key={i}>
              {columns.map((c) => (
                <td key={c}>
                  <Value value={r[c]} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
