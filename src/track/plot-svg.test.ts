import { expect, test } from 'vitest'
import { type ChartSeries, renderChart } from './plot-svg.js'

const point = (x: number | string, mean: number, spread = 0) => ({
  x,
  mean,
  low: mean - spread,
  high: mean + spread,
  detail: `${x}: ${mean}`,
})

test('a lone point with spread gets an error bar, no band; a line gets a band', () => {
  const svg = renderChart({
    title: 't',
    subtitle: 's',
    xLabel: 'x',
    yLabel: 'y',
    xKind: 'linear',
    series: [
      { name: 'one', points: [point(1, 5, 1)] },
      { name: 'line', points: [point(1, 2, 1), point(2, 3, 1), point(3, 4, 0)] },
    ],
    bandLabel: '± 1 std',
  })
  expect(svg.match(/<polygon /g)).toHaveLength(1)
  expect(svg.match(/<polyline /g)).toHaveLength(1)
  // One bar and two caps for the lone point.
  expect(svg.match(/stroke-width="1\.5"\/>/g)?.length).toBeGreaterThanOrEqual(3)
  expect(svg).toContain('>± 1 std</text>')
})

test('category axes place labels in order and draw no lines between categories', () => {
  const svg = renderChart({
    title: 't',
    subtitle: '',
    xLabel: 'model',
    yLabel: 'y',
    xKind: 'category',
    categories: ['cnn', 'mlp', 'transformer'],
    series: [{ name: 'e1', points: [point('mlp', 1), point('cnn', 2), point('transformer', 3)] }],
  })
  expect(svg).not.toContain('<polyline')
  const at = (label: string) =>
    Number(new RegExp(`x="([\\d.]+)"[^>]*>${label}</text>`).exec(svg)?.[1])
  expect(at('cnn')).toBeLessThan(at('mlp'))
  expect(at('mlp')).toBeLessThan(at('transformer'))
})

test('more series than the legend has room for are summed up', () => {
  const series: ChartSeries[] = Array.from({ length: 40 }, (_, i) => ({
    name: `e0.${i}.0`,
    points: [point(i + 1, i)],
  }))
  const svg = renderChart({
    title: 't',
    subtitle: '',
    xLabel: 'x',
    yLabel: 'y',
    xKind: 'linear',
    series,
  })
  expect(svg).toContain('>… and 26 more</text>')
  expect(svg).toContain('>e0.13.0</text>')
  expect(svg).not.toContain('>e0.14.0</text>')
  expect(svg.match(/<circle [^>]*><title>/g)).toHaveLength(40)
})
