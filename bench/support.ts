/**
 * Helpers for benchmarks: time a step, measure its peak RSS, print its figure next to the
 * physical floor it is compared with.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Measurement {
  readonly ms: number
  /** Peak resident set size during the step, in MB (Linux VmHWM, reset before the step). */
  readonly peakRssMb: number
}

/** Runs `fn` once, returning its wall time and the peak RSS it reached. */
export async function measure(fn: () => Promise<unknown>): Promise<Measurement> {
  resetPeakRss()
  const started = performance.now()
  await fn()
  const ms = performance.now() - started
  return { ms, peakRssMb: peakRssMb() }
}

/** Prints `name: 1234 ms  floor (what): 1000 ms  ratio 1.23x (target ≤ 1.2x)  peak RSS 210 MB`. */
export function report(
  name: string,
  subject: Measurement,
  floor: { label: string; m: Measurement } | undefined,
  target?: { ratio?: number; rssMb?: number },
): void {
  const parts = [`${name}: ${subject.ms.toFixed(0)} ms`]
  if (floor) {
    const ratio = subject.ms / floor.m.ms
    parts.push(`floor (${floor.label}): ${floor.m.ms.toFixed(0)} ms`)
    parts.push(`ratio ${ratio.toFixed(2)}x${target?.ratio ? ` (target ≤ ${target.ratio}x)` : ''}`)
  }
  parts.push(
    `peak RSS ${subject.peakRssMb.toFixed(0)} MB${target?.rssMb ? ` (target < ${target.rssMb} MB)` : ''}`,
  )
  process.stdout.write(`${parts.join('  ')}\n`)
}

/** A scratch directory for one benchmark, removed by `done()`. */
export function benchDir(name: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `duckmerge-bench-${name}-`))
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) }
}

function resetPeakRss(): void {
  try {
    // Linux: writing 5 to clear_refs resets VmHWM (peak RSS) for this process.
    writeFileSync('/proc/self/clear_refs', '5')
  } catch {
    // Not Linux or not permitted: the peak then covers the whole process.
  }
}

function peakRssMb(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
    if (match?.[1]) return Number(match[1]) / 1024
  } catch {
    // fall through
  }
  return process.resourceUsage().maxRSS / 1024
}
