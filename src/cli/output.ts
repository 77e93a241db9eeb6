/**
 * Everything the CLI shows: one JSON object with --json, a short text summary otherwise, a
 * progress bar on a TTY for long work, and aligned tables.
 */
import type { Progress, ProgressCallback } from '../progress.js'

/** JSON with bigint as a number when exact, else as a string; Dates as ISO strings. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
      return v
    },
    indent,
  )
}

export interface OutputOptions {
  readonly json: boolean
  readonly stdout?: NodeJS.WriteStream
  readonly stderr?: NodeJS.WriteStream
}

/** A progress bar drawn on stderr when it is a TTY, shown only for work over ~1 s. */
export function progressBar(options: OutputOptions): ProgressCallback | undefined {
  const stream = options.stderr ?? process.stderr
  if (options.json || !stream.isTTY) return undefined
  const started = Date.now()
  let lastDraw = 0
  let drawn = false
  const draw = (p: Progress) => {
    const now = Date.now()
    const finished = p.total !== undefined && p.done >= p.total
    if (now - started < 1000 || (!finished && now - lastDraw < 100)) return
    lastDraw = now
    drawn = true
    const unit = p.unit ? ` ${p.unit}` : ''
    let line: string
    if (p.total !== undefined && p.total > 0) {
      const ratio = Math.min(1, p.done / p.total)
      const width = 30
      const filled = Math.round(ratio * width)
      line = `${p.phase} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${p.done}/${p.total}${unit} ${(ratio * 100).toFixed(0)}%`
    } else {
      line = `${p.phase} ${p.done}${unit}`
    }
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 100) - 1)}`)
    if (finished) {
      stream.write('\n')
      drawn = false
    }
  }
  process.once('exit', () => {
    if (drawn) stream.write('\n')
  })
  return draw
}

/** Left-aligned text columns, numbers right-aligned, for human output. */
export function formatTable(
  rows: readonly Record<string, unknown>[],
  columns?: readonly string[],
): string {
  if (rows.length === 0) return '(no rows)'
  const cols = columns ?? Object.keys(rows[0] ?? {})
  const cells = rows.map((row) => cols.map((c) => formatCell(row[c])))
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)))
  const isNumeric = cols.map((c) =>
    rows.every((r) => r[c] == null || typeof r[c] === 'number' || typeof r[c] === 'bigint'),
  )
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (isNumeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}

/** NULL and an empty string look different: NULL as `NULL`, '' as `""`; an absent cell stays blank. */
function formatCell(value: unknown): string {
  if (value === undefined) return ''
  if (value === null) return 'NULL'
  if (value === '') return '""'
  if (typeof value === 'number')
    return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, '')
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object') return toJson(value)
  return String(value)
}

/** "1.2 s" / "340 ms" */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`
}
