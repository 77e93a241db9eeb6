/**
 * Draws a line chart with uncertainty bands as a standalone SVG document (no dependency): one
 * series per experiment, mean markers joined by lines over a band, error bars for lone points.
 */
import { linearScale, logScale, type Scale } from './plot-scale.js'

export interface ChartPoint {
  /** A number on linear/log axes, a label on a category axis. */
  readonly x: number | string
  readonly mean: number
  /** The band around the mean (std or min–max); equal to mean when there is one row. */
  readonly low: number
  readonly high: number
  /** Shown in the point's tooltip. */
  readonly detail: string
}

export interface ChartSeries {
  readonly name: string
  readonly points: readonly ChartPoint[]
}

export interface ChartSpec {
  readonly title: string
  readonly subtitle: string
  readonly xLabel: string
  readonly yLabel: string
  readonly xKind: 'linear' | 'log' | 'category'
  /** Category order (category axis only). */
  readonly categories?: readonly string[]
  readonly series: readonly ChartSeries[]
  /** Legend entry for the band, e.g. '± 1 std'; omitted when there is no band. */
  readonly bandLabel?: string
}

/** Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. */
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000']

const WIDTH = 800
const HEIGHT = 480
const MARGIN = { top: 64, right: 190, bottom: 64, left: 76 }

/**
 * Renders `spec` as an SVG document string.
 *
 * @example
 * renderChart({ title: 'accuracy by lr', subtitle: '', xLabel: 'lr', yLabel: 'accuracy', xKind: 'log',
 *   series: [{ name: 'e0.2.0', points: [{ x: 0.003, mean: 0.85, low: 0.5, high: 1, detail: '' }] }] })
 */
export function renderChart(spec: ChartSpec): string {
  const plot = {
    left: MARGIN.left,
    right: WIDTH - MARGIN.right,
    top: MARGIN.top,
    bottom: HEIGHT - MARGIN.bottom,
  }
  const points = spec.series.flatMap((s) => s.points)
  const ys = points.flatMap((p) => [p.low, p.high, p.mean])
  const y = linearScale(Math.min(...ys), Math.max(...ys), [plot.bottom, plot.top])
  const x = xAxis(spec, [plot.left, plot.right])
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${esc(spec.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${plot.left}" y="28" font-size="17" font-weight="600" fill="#111">${esc(spec.title)}</text>`,
    `<text x="${plot.left}" y="47" fill="#555">${esc(spec.subtitle)}</text>`,
  )
  // Grid and ticks.
  for (const t of y.ticks) {
    const py = r(y.map(t.value))
    out.push(
      `<line x1="${plot.left}" x2="${plot.right}" y1="${py}" y2="${py}" stroke="#e6e6e6"/>`,
      `<text x="${plot.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#333">${esc(t.label)}</text>`,
    )
  }
  for (const t of x.ticks) {
    const px = r(x.map(t.value))
    if (px < plot.left - 0.5 || px > plot.right + 0.5) continue
    out.push(
      `<line x1="${px}" x2="${px}" y1="${plot.top}" y2="${plot.bottom}" stroke="${t.minor ? '#f3f3f3' : '#e6e6e6'}"/>`,
      `<line x1="${px}" x2="${px}" y1="${plot.bottom}" y2="${plot.bottom + (t.minor ? 3 : 6)}" stroke="#666"/>`,
    )
    if (t.label)
      out.push(
        `<text x="${px}" y="${plot.bottom + 20}" text-anchor="middle" fill="#333">${esc(t.label)}</text>`,
      )
  }
  out.push(
    `<line x1="${plot.left}" x2="${plot.right}" y1="${plot.bottom}" y2="${plot.bottom}" stroke="#666"/>`,
    `<line x1="${plot.left}" x2="${plot.left}" y1="${plot.top}" y2="${plot.bottom}" stroke="#666"/>`,
    `<text x="${r((plot.left + plot.right) / 2)}" y="${HEIGHT - 18}" text-anchor="middle" font-size="13" fill="#111">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(20 ${r((plot.top + plot.bottom) / 2)}) rotate(-90)" text-anchor="middle" font-size="13" fill="#111">${esc(spec.yLabel)}</text>`,
  )
  // Series: band, line, error bars for lone points, markers with tooltips.
  const count = spec.series.length
  spec.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000'
    // Experiments sharing an x are nudged apart a few pixels so their bars stay readable.
    const dodge = count > 1 ? (i - (count - 1) / 2) * Math.min(6, 24 / count) : 0
    const placed = series.points
      .map((p) => ({ p, px: x.map(p.x) + dodge }))
      .sort((a, b) => a.px - b.px)
    const joined = spec.xKind !== 'category' && placed.length > 1
    out.push(`<g class="series" data-name="${esc(series.name)}">`)
    if (joined) {
      const upper = placed.map(({ p, px }) => `${r(px)},${r(y.map(p.high))}`)
      const lower = placed.map(({ p, px }) => `${r(px)},${r(y.map(p.low))}`).reverse()
      out.push(
        `<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.14" stroke="none"/>`,
        `<polyline points="${placed.map(({ p, px }) => `${r(px)},${r(y.map(p.mean))}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
      )
    } else {
      for (const { p, px } of placed) {
        if (p.high === p.low) continue
        const [top, bottom] = [r(y.map(p.high)), r(y.map(p.low))]
        out.push(
          `<line x1="${r(px)}" x2="${r(px)}" y1="${top}" y2="${bottom}" stroke="${color}" stroke-width="1.5"/>`,
          `<line x1="${r(px - 5)}" x2="${r(px + 5)}" y1="${top}" y2="${top}" stroke="${color}" stroke-width="1.5"/>`,
          `<line x1="${r(px - 5)}" x2="${r(px + 5)}" y1="${bottom}" y2="${bottom}" stroke="${color}" stroke-width="1.5"/>`,
        )
      }
    }
    for (const { p, px } of placed)
      out.push(
        `<circle cx="${r(px)}" cy="${r(y.map(p.mean))}" r="4.5" fill="${color}" stroke="#fff" stroke-width="1.5"><title>${esc(p.detail)}</title></circle>`,
      )
    out.push('</g>')
  })
  out.push(...legend(spec, plot.right + 24, plot.top))
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

interface XAxis {
  map(value: number | string): number
  readonly ticks: readonly { value: number | string; label: string; minor: boolean }[]
}

function xAxis(spec: ChartSpec, range: [number, number]): XAxis {
  if (spec.xKind === 'category') {
    const categories = spec.categories ?? []
    const step = (range[1] - range[0]) / Math.max(1, categories.length)
    const at = (value: number | string) =>
      range[0] + step * (categories.indexOf(String(value)) + 0.5)
    return {
      map: at,
      ticks: categories.map((c) => ({ value: c, label: c, minor: false })),
    }
  }
  const xs = spec.series.flatMap((s) => s.points.map((p) => Number(p.x)))
  const lo = Math.min(...xs)
  const hi = Math.max(...xs)
  let scale: Scale
  if (spec.xKind === 'log') scale = logScale(lo, hi, range)
  else {
    // Pad 5% so the first and last points do not sit on the frame.
    const pad = hi > lo ? (hi - lo) * 0.05 : 0
    scale = linearScale(lo - pad, hi + pad, range)
  }
  return { map: (v) => scale.map(Number(v)), ticks: scale.ticks }
}

function legend(spec: ChartSpec, left: number, top: number): string[] {
  const out = [
    `<text x="${left}" y="${top + 4}" font-weight="600" fill="#111">${esc(spec.series.length > 1 || spec.series[0]?.name ? 'experiment' : '')}</text>`,
  ]
  let row = top + 26
  // Room for about 15 entries beside the plot; the rest are summed up in one line.
  const room = 15
  const shown = spec.series.length > room ? spec.series.slice(0, room - 1) : spec.series
  shown.forEach((series, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000'
    out.push(
      `<line x1="${left}" x2="${left + 22}" y1="${row}" y2="${row}" stroke="${color}" stroke-width="2"/>`,
      `<circle cx="${left + 11}" cy="${row}" r="4.5" fill="${color}" stroke="#fff" stroke-width="1.5"/>`,
      `<text x="${left + 30}" y="${row}" dominant-baseline="middle" fill="#222">${esc(truncate(series.name, 22))}</text>`,
    )
    row += 22
  })
  if (shown.length < spec.series.length) {
    out.push(
      `<text x="${left}" y="${row}" dominant-baseline="middle" fill="#555">… and ${spec.series.length - shown.length} more</text>`,
    )
    row += 22
  }
  if (spec.bandLabel) {
    row += 6
    out.push(
      `<rect x="${left}" y="${row - 7}" width="22" height="14" fill="#777" fill-opacity="0.2"/>`,
      `<line x1="${left + 11}" x2="${left + 11}" y1="${row - 7}" y2="${row + 7}" stroke="#777" stroke-width="1.5"/>`,
      `<text x="${left + 30}" y="${row}" dominant-baseline="middle" fill="#222">${esc(spec.bandLabel)}</text>`,
    )
  }
  return out
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function r(value: number): number {
  return Math.round(value * 10) / 10
}

function esc(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
}
