import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'
import { hintOf, plotMetric } from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { hasFixtures, needsFixtures } from '../support/fixtures.js'
import { tempDir } from '../support/temp.js'
import { mergedFixtureDb } from './exp-fixtures.js'

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length

describe.skipIf(!hasFixtures)(needsFixtures('exp plot'), () => {
  test('accuracy by lr: a log axis, one series per version, exact means per point', async () => {
    const db = mergedFixtureDb(join(tempDir(), 'm.db'))
    const plot = await plotMetric({ db, metric: 'accuracy', by: 'lr' })
    expect(plot.xAxis).toBe('log')
    expect(plot.series).toEqual(['e0.1.0', 'e0.2.0', 'e0.3.0'])
    expect(plot.points.map((p) => [p.series, p.x, p.count, p.mean])).toEqual([
      ['e0.1.0', 0.01, 40, 0.75],
      ['e0.2.0', 0.0003, 20, 0.8],
      ['e0.2.0', 0.003, 20, 0.95],
      ['e0.2.0', 0.03, 20, 0.85],
      ['e0.3.0', 0.01, 30, 29 / 30],
    ])
    const svg = plot.svg
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(count(svg, /<g /g)).toBe(count(svg, /<\/g>/g))
    expect(svg).toContain('>accuracy by lr</text>')
    expect(svg).toContain('>lr (log scale)</text>')
    expect(svg).toContain('>accuracy (mean)</text>')
    expect(svg).toContain('>mean ± 1 std per lr value · 130 rows of predictions in m.db</text>')
    for (const label of ['0.0005', '0.001', '0.002', '0.005', '0.01', '0.02'])
      expect(svg).toContain(`>${label}</text>`)
    // 5 data points with tooltips, 3 legend markers; the sweep is a band, the lone points get bars.
    expect(count(svg, /<circle [^>]*><title>/g)).toBe(5)
    expect(count(svg, /<polygon /g)).toBe(1)
    expect(svg).toContain(
      '<title>e0.2.0, lr=0.003: mean 0.95 (n=20, std 0.2236, min 0, max 1)</title>',
    )
    // Higher means sit higher on the page (smaller y).
    const cy = (detail: string) =>
      Number(new RegExp(`cy="([\\d.]+)"[^>]*><title>${detail}`).exec(svg)?.[1])
    expect(cy('e0.2.0, lr=0.003')).toBeLessThan(cy('e0.2.0, lr=0.03'))
    expect(cy('e0.2.0, lr=0.03')).toBeLessThan(cy('e0.1.0, lr=0.01'))
  })

  test('a text param gives a category axis; --series none pools every version', async () => {
    const db = mergedFixtureDb(join(tempDir(), 'm.db'))
    const plot = await plotMetric({
      db,
      metric: 'latency',
      by: 'model',
      series: null,
      band: 'minmax',
    })
    expect(plot.xAxis).toBe('category')
    expect(plot.series).toEqual(['latency'])
    expect(plot.points).toHaveLength(1)
    expect(plot.points[0]?.count).toBe(130)
    expect(plot.svg).toContain('>tiny-mlp</text>')
    expect(plot.svg).toContain('>min–max</text>')
  })

  test('text is escaped: a version named a<b&"c" stays one text node', async () => {
    const db = join(tempDir(), 'odd.db')
    const conn = new Database(db)
    conn.exec('create table runs (experiment_version text, lr real, score real)')
    const insert = conn.prepare('insert into runs values (?, ?, ?)')
    for (const [lr, score] of [
      [0.1, 1],
      [0.2, 2],
      [0.2, 4],
    ])
      insert.run('a<b&"c"', lr, score)
    conn.close()
    const plot = await plotMetric({ db, metric: 'score', by: 'lr', xScale: 'linear' })
    expect(plot.svg).toContain('a&lt;b&amp;&quot;c&quot;')
    expect(plot.svg).not.toContain('a<b')
    expect(plot.points.map((p) => [p.x, p.mean, p.std])).toEqual([
      [0.1, 1, null],
      [0.2, 3, Math.SQRT2],
    ])
  })

  test('failures: unknown metric or param, log axis over values <= 0, nothing to plot', async () => {
    const db = mergedFixtureDb(join(tempDir(), 'm.db'))
    const metric = await plotMetric({ db, metric: 'acc', by: 'lr' }).catch((e) => e)
    expect(metric.code).toBe('COLUMN_NOT_FOUND')
    expect(metric.message).toContain('Unknown metric "acc"')
    const param = await plotMetric({ db, metric: 'accuracy', by: 'learning_rate' }).catch((e) => e)
    expect(param.code).toBe('COLUMN_NOT_FOUND')
    expect(param.message).toContain('Unknown param "learning_rate"')
    const log = await plotMetric({ db, metric: 'accuracy', by: 'label', xScale: 'log' }).catch(
      (e) => e,
    )
    expect(log.code).toBe('VALIDATION_FAILED')
    expect(log.message).toContain('Cannot draw label on a log axis: it has values ≤ 0')
    expect(hintOf(log)).toBe('Set `xScale` to linear.')
    const empty = await plotMetric({ db, metric: 'accuracy', by: 'lr', where: 'lr > 1' }).catch(
      (e) => e,
    )
    expect(empty.code).toBe('VALIDATION_FAILED')
    expect(empty.message).toContain('has both accuracy and lr matching "lr > 1"')
  })

  test('CLI writes the SVG atomically; bad flags write nothing', () => {
    const dir = tempDir()
    const db = mergedFixtureDb(join(dir, 'm.db'))
    const output = join(dir, 'chart.svg')
    const r = runCli([
      'exp',
      'plot',
      '--db',
      db,
      '--metric',
      'accuracy',
      '--by',
      'lr',
      '--output',
      output,
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`wrote ${output}: accuracy by lr (log axis), 5 point(s) in 3 series`)
    expect(readFileSync(output, 'utf8')).toContain('>accuracy by lr</text>')
    const png = join(dir, 'chart.png')
    const wrongType = runCli([
      'exp',
      'plot',
      '--db',
      db,
      '--metric',
      'accuracy',
      '--by',
      'lr',
      '--output',
      png,
    ])
    expect(wrongType.code).toBe(2)
    const unknown = join(dir, 'unknown.svg')
    const bad = runCli([
      'exp',
      'plot',
      '--db',
      db,
      '--metric',
      'nope',
      '--by',
      'lr',
      '--output',
      unknown,
    ])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('[COLUMN_NOT_FOUND]: Unknown metric "nope"')
    expect(existsSync(png) || existsSync(unknown)).toBe(false)
  })
})
