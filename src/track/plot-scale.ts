/** Axis scales for the explorer's charts: linear and log mappings with readable ("nice") ticks. */

export interface Tick {
  readonly value: number
  readonly label: string
  /** Minor ticks get a faint grid line and no label. */
  readonly minor: boolean
}

export interface Scale {
  readonly kind: 'linear' | 'log'
  readonly domain: readonly [number, number]
  /** Maps a data value to a pixel position inside `range`. */
  map(value: number): number
  readonly ticks: readonly Tick[]
}

/**
 * A linear scale over [min, max] widened to nice tick values (1, 2, 5 × 10^k steps).
 *
 * @example
 * linearScale(0.71, 0.97, [400, 0]).ticks.map((t) => t.label)  // ['0.7', '0.75', …, '1']
 */
export function linearScale(
  min: number,
  max: number,
  range: readonly [number, number],
  count = 6,
): Scale {
  let lo = min
  let hi = max
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1
    lo -= pad
    hi += pad
  }
  const step = niceStep((hi - lo) / count)
  const start = roundTo(Math.floor(lo / step + 1e-9) * step, step)
  const end = roundTo(Math.ceil(hi / step - 1e-9) * step, step)
  const ticks: Tick[] = []
  for (let v = start; v <= end + step / 2; v += step) {
    const value = roundTo(v, step)
    ticks.push({ value, label: formatTick(value), minor: false })
  }
  return { kind: 'linear', domain: [start, end], map: mapper(start, end, range, (x) => x), ticks }
}

/**
 * A log10 scale over [min, max] (both > 0), padded by a fraction of a decade, with a labelled
 * tick per decade (and at 2× and 5× under three decades), minor ticks at the other multiples.
 *
 * @example
 * logScale(0.0003, 0.03, [0, 600]).ticks.filter((t) => !t.minor).map((t) => t.label)  // ['0.0005', '0.001', …, '0.02']
 */
export function logScale(min: number, max: number, range: readonly [number, number]): Scale {
  const pad = 0.15
  const lo = Math.log10(min) - pad
  const hi = Math.log10(max) + pad
  // Under three decades, 2× and 5× ticks are labelled too, so the axis has enough numbers.
  const labelled = hi - lo < 3 ? [1, 2, 5] : [1]
  const ticks: Tick[] = []
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    for (let m = 1; m <= 9; m++) {
      const exponent = k + Math.log10(m)
      if (exponent < lo || exponent > hi) continue
      const value = Number((m * 10 ** k).toPrecision(12))
      const major = labelled.includes(m)
      ticks.push({ value, label: major ? formatTick(value) : '', minor: !major })
    }
  }
  return {
    kind: 'log',
    domain: [10 ** lo, 10 ** hi],
    map: mapper(lo, hi, range, Math.log10),
    ticks,
  }
}

/** True when positive values span at least two decades: then a log axis reads better. */
export function prefersLog(values: readonly number[]): boolean {
  if (values.length < 2 || values.some((v) => !(v > 0))) return false
  return Math.max(...values) / Math.min(...values) >= 100
}

function mapper(
  lo: number,
  hi: number,
  range: readonly [number, number],
  transform: (x: number) => number,
): (value: number) => number {
  const [r0, r1] = range
  return (value) => r0 + ((transform(value) - lo) / (hi - lo)) * (r1 - r0)
}

function niceStep(raw: number): number {
  const exponent = Math.floor(Math.log10(raw))
  const fraction = raw / 10 ** exponent
  const nice =
    fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10
  return nice * 10 ** exponent
}

function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 2)
  return Number(value.toFixed(Math.min(decimals, 20)))
}

/** 0.0001 → '0.0001', 1e-7 → '1e-7', 250000 → '250k', 0.75 → '0.75'. */
export function formatTick(value: number): string {
  if (value === 0) return '0'
  const abs = Math.abs(value)
  if (abs < 1e-4 || abs >= 1e9) {
    const [mantissa = '', exponent = ''] = value.toExponential().split('e')
    return `${Number(Number(mantissa).toPrecision(3))}e${Number(exponent)}`
  }
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(4))}M`
  if (abs >= 1e4) return `${Number((value / 1e3).toPrecision(4))}k`
  return String(Number(value.toPrecision(6)))
}
