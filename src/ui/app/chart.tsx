/**
 * Two small SVG charts drawn by Preact (no charting library: these two shapes are all we need,
 * and each point's values show on hover through an SVG <title>).
 */
import { useCallback, useRef, useState } from 'preact/hooks'

export interface Series {
  readonly name: string
  readonly points: readonly {
    /** A number, or a category (text params are spread evenly in first-seen order). */
    readonly x: number | string
    readonly y: number
    readonly low?: number
    readonly high?: number
    readonly label: string
  }[]
}

/** Drawn at the width its box gives it, within these bounds, so text stays 11-12 px. */
const WIDTH = { initial: 640, min: 280, max: 760 }
const H = 320
const M = { left: 56, right: 16, top: 16, bottom: 40 }
const COLORS = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#4d7c0f',
  '#be185d',
]

interface Axis {
  (v: number): number
  readonly ticks: number[]
}

function axis(min: number, max: number, from: number, to: number, log: boolean): Axis {
  if (log) {
    const a = Math.log10(min)
    const b = Math.log10(max)
    const f = ((v: number) => from + ((Math.log10(v) - a) / (b - a || 1)) * (to - from)) as Axis
    const ticks: number[] = []
    for (let e = Math.floor(a); e <= Math.ceil(b); e++)
      if (10 ** e >= min && 10 ** e <= max) ticks.push(10 ** e)
    return Object.assign(f, { ticks })
  }
  const span = max - min || Math.abs(max) || 1
  const lo = max === min ? min - span / 2 : min
  const hi = max === min ? max + span / 2 : max
  const step = niceStep((hi - lo) / 5)
  const ticks: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step / 1e6; v += step)
    ticks.push(Number(v.toPrecision(12)))
  return Object.assign((v: number) => from + ((v - lo) / (hi - lo)) * (to - from), { ticks })
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw))
  const n = raw / p
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * p
}

const fmt = (v: number) =>
  Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
    ? v.toExponential(1)
    : String(Number(v.toPrecision(4)))

/** Lines through the points (means), with a shaded band from low to high when given. */
export function LineChart(props: {
  series: readonly Series[]
  xLabel: string
  yLabel: string
  logX?: boolean
  testid?: string
}) {
  const [W, box] = useBoxWidth()
  const categories = [
    ...new Set(
      props.series.flatMap((s) => s.points.map((p) => p.x)).filter((x) => typeof x === 'string'),
    ),
  ]
  const position = (x: number | string) => (typeof x === 'string' ? categories.indexOf(x) : x)
  const series = props.series.map((s) => ({
    ...s,
    points: s.points.map((p) => ({ ...p, x: position(p.x) })),
  }))
  const all = series.flatMap((s) => s.points)
  if (all.length === 0) return <p class="muted">Nothing to draw.</p>
  const xs = all.map((p) => p.x)
  const ys = all.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y])
  const logX = Boolean(props.logX) && xs.every((x) => x > 0)
  const x = categories.length
    ? Object.assign(
        (v: number) => M.left + ((v + 0.5) / categories.length) * (W - M.left - M.right),
        {
          ticks: categories.map((_, i) => i),
        },
      )
    : axis(Math.min(...xs), Math.max(...xs), M.left, W - M.right, logX)
  const xTick = (t: number) => (categories.length ? (categories[t] ?? '') : fmt(t))
  const y = axis(Math.min(...ys), Math.max(...ys), H - M.bottom, M.top, false)
  return (
    <figure class="chart" ref={box}>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        width={W}
        height={H}
        role="img"
        aria-label={`${props.yLabel} against ${props.xLabel}`}
        data-testid={props.testid}
      >
        <g class="grid">
          {y.ticks.map((t) => (
            <g key={`y${t}`}>
              <line x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} />
              <text x={M.left - 6} y={y(t) + 4} text-anchor="end">
                {fmt(t)}
              </text>
            </g>
          ))}
          {x.ticks.map((t) => (
            <text key={`x${t}`} x={x(t)} y={H - M.bottom + 16} text-anchor="middle">
              {xTick(t)}
            </text>
          ))}
        </g>
        <text x={(M.left + W - M.right) / 2} y={H - 6} text-anchor="middle" class="label">
          {props.xLabel}
          {logX ? ' (log)' : ''}
        </text>
        <text
          x={14}
          y={(M.top + H - M.bottom) / 2}
          text-anchor="middle"
          class="label"
          transform={`rotate(-90 14 ${(M.top + H - M.bottom) / 2})`}
        >
          {props.yLabel}
        </text>
        {series.map((s, i) => {
          const color = COLORS[i % COLORS.length]
          const pts = [...s.points].sort((a, b) => a.x - b.x)
          const band = pts.every((p) => p.low !== undefined && p.high !== undefined)
            ? `${pts.map((p) => `${x(p.x)},${y(p.high ?? p.y)}`).join(' ')} ${[...pts]
                .reverse()
                .map((p) => `${x(p.x)},${y(p.low ?? p.y)}`)
                .join(' ')}`
            : null
          return (
            <g key={s.name} data-series={s.name}>
              {band && <polygon points={band} fill={color} opacity={0.15} />}
              <polyline
                points={pts.map((p) => `${x(p.x)},${y(p.y)}`).join(' ')}
                fill="none"
                stroke={color}
                stroke-width={2}
              />
              {pts.map((p) => (
                <circle
                  key={`${p.x}`}
                  cx={x(p.x)}
                  cy={y(p.y)}
                  r={4}
                  fill={color}
                  data-testid="point"
                >
                  <title>{p.label}</title>
                </circle>
              ))}
            </g>
          )
        })}
      </svg>
      {props.series.length > 1 && (
        <figcaption class="legend">
          {props.series.map((s, i) => (
            <span key={s.name}>
              <i style={{ background: COLORS[i % COLORS.length] }} /> {s.name}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  )
}

/**
 * The width of the element the returned ref is put on, in CSS pixels, followed as it changes (a
 * phone turned, a window resized): a chart drawn at that width scales by 1, so its text does not
 * shrink. A callback ref, so an element mounted later (once there is data) is observed too.
 */
function useBoxWidth(): [number, (el: Element | null) => void] {
  const [width, setWidth] = useState(WIDTH.initial)
  const observer = useRef<ResizeObserver | null>(null)
  const ref = useCallback((el: Element | null) => {
    observer.current?.disconnect()
    observer.current = null
    if (!el) return
    observer.current = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.round(entry.contentRect.width))
    })
    observer.current.observe(el)
  }, [])
  return [Math.max(WIDTH.min, Math.min(WIDTH.max, width)), ref]
}

/** Rolling mean over a trailing window, for the time series' smoothed line. */
export function rolling(values: readonly number[], window: number): number[] {
  const out: number[] = []
  let sum = 0
  for (let i = 0; i < values.length; i++) {
    sum += values[i] ?? 0
    if (i >= window) sum -= values[i - window] ?? 0
    out.push(sum / Math.min(i + 1, window))
  }
  return out
}
