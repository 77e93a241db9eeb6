import { useEffect, useState } from 'preact/hooks'
import { get, type Json, listOf, query } from '../api'
import { LineChart, rolling, type Series } from '../chart'
import { ErrorText, Loading, useAsync } from '../components'

interface MetricStats {
  readonly count: number
  readonly mean: number | null
  readonly std?: number | null
  readonly min?: number | null
  readonly max?: number | null
}
interface Experiment {
  readonly rank: number
  readonly version: string
  readonly rows: number
  readonly runs: readonly string[]
  readonly params: Readonly<Record<string, unknown>>
  readonly sweeps: Readonly<Record<string, readonly unknown[]>>
  readonly metrics: Readonly<Record<string, MetricStats>>
}

const num = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined ? '—' : String(Number(v.toPrecision(digits)))

/** Results databases and event stores: runs ranked by a metric, two versions compared, charts. */
export function ExperimentsPage() {
  const sources = useAsync((signal) => get('experiments', signal), [])
  const list = listOf<Json>(sources.data, 'sources')
  const [source, setSource] = useState('')
  useEffect(() => {
    if (!source && list[0]) setSource(String(list[0].id))
  }, [list, source])
  return (
    <section>
      <h1>Experiments</h1>
      <ErrorText error={sources.error} />
      {sources.data && list.length === 0 && (
        <p class="muted">
          No results databases found. Start the server with <code>--results FILE</code> or put them
          under the data root's <code>results/</code> folder.
        </p>
      )}
      {list.length > 0 && (
        <label>
          Results database
          <select value={source} onChange={(e) => setSource(e.currentTarget.value)}>
            {list.map((s) => (
              <option key={String(s.id)} value={String(s.id)}>
                {String(s.name)}
              </option>
            ))}
          </select>
        </label>
      )}
      {source && <Source id={source} />}
    </section>
  )
}

function Source({ id }: { id: string }) {
  const [sort, setSort] = useState('')
  const [descending, setDescending] = useState(true)
  const [where, setWhere] = useState('')
  const [applied, setApplied] = useState('')
  const listing = useAsync(
    (signal) =>
      get(
        `experiments/${encodeURIComponent(id)}/list${query({ sort, descending: sort ? descending : undefined, where: applied })}`,
        signal,
      ),
    [id, sort, descending, applied],
  )
  const data = listing.data as
    | (Json & { experiments?: Experiment[]; metrics?: string[]; params?: string[] })
    | undefined
  const experiments = data?.experiments ?? []
  const metrics = data?.metrics ?? []
  const params = data?.params ?? []
  const [picked, setPicked] = useState<string[]>([])
  const toggle = (v: string) =>
    setPicked((p) => (p.includes(v) ? p.filter((x) => x !== v) : [...p.slice(-1), v]))
  return (
    <div>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault()
          setApplied(where)
        }}
      >
        <label>
          Filter rows (SQL predicate over params)
          <input
            value={where}
            placeholder="lr < 0.01 and model = 'mlp'"
            onInput={(e) => setWhere(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Apply filter</button>
      </form>
      <ErrorText error={listing.error} />
      {!data && listing.loading && <Loading what="experiments" />}
      {data && (
        <div class="scroll">
          <table data-testid="experiments">
            <thead>
              <tr>
                <th scope="col">Compare</th>
                <th scope="col">Rank</th>
                <th scope="col">Version</th>
                <th scope="col">Rows</th>
                <th scope="col">Params</th>
                {metrics.map((m) => (
                  <th
                    key={m}
                    scope="col"
                    aria-sort={sort === m ? (descending ? 'descending' : 'ascending') : 'none'}
                  >
                    <button
                      type="button"
                      class="link"
                      aria-label={`Sort by ${m}`}
                      onClick={() => {
                        if (sort === m) setDescending(!descending)
                        else setSort(m)
                      }}
                    >
                      {m} {sort === m ? (descending ? '↓' : '↑') : ''}
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {experiments.map((x) => (
                <tr key={x.version}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Compare ${x.version}`}
                      checked={picked.includes(x.version)}
                      onChange={() => toggle(x.version)}
                    />
                  </td>
                  <td>{x.rank}</td>
                  <td>{x.version}</td>
                  <td>{x.rows}</td>
                  <td class="params">
                    {Object.entries(x.params)
                      .map(([k, v]) => `${k}=${String(v)}`)
                      .concat(
                        Object.entries(x.sweeps).map(
                          ([k, v]) => `${k}∈{${v.map(String).join(',')}}`,
                        ),
                      )
                      .join(' ')}
                  </td>
                  {metrics.map((m) => (
                    <td key={m} class="num" data-metric={m}>
                      {num(x.metrics[m]?.mean)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {picked.length === 2 && <Compare id={id} base={picked[0] ?? ''} exp={picked[1] ?? ''} />}
      {metrics.length > 0 && (
        <Charts
          id={id}
          metrics={metrics}
          // A swept param first: that is what a metric is usually plotted against.
          params={[...new Set([...experiments.flatMap((x) => Object.keys(x.sweeps)), ...params])]}
          initialMetric={sort || undefined}
          where={applied}
        />
      )}
    </div>
  )
}

function Compare({ id, base, exp }: { id: string; base: string; exp: string }) {
  const diff = useAsync(
    (signal) => get(`experiments/${encodeURIComponent(id)}/diff${query({ base, exp })}`, signal),
    [id, base, exp],
  )
  const d = diff.data as (Json & { params?: Json[]; metrics?: Json[] }) | undefined
  return (
    <div class="panel" data-testid="compare">
      <h2>
        {base} → {exp}
      </h2>
      <ErrorText error={diff.error} />
      {d && (
        <>
          <h3>Params that differ</h3>
          {(d.params ?? []).length === 0 ? (
            <p class="muted">None.</p>
          ) : (
            <ul>
              {(d.params ?? []).map((p) => (
                <li key={String(p.param)}>
                  {String(p.param)}: {JSON.stringify(p.base)} → {JSON.stringify(p.exp)}
                </li>
              ))}
            </ul>
          )}
          <table>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                {['count', 'mean', 'std', 'min', 'max'].map((s) => (
                  <th key={s} scope="col">
                    {s} ({base} / {exp})
                  </th>
                ))}
                <th scope="col">Δ mean</th>
              </tr>
            </thead>
            <tbody>
              {(d.metrics ?? []).map((m) => {
                const a = m.base as MetricStats
                const b = m.exp as MetricStats
                return (
                  <tr key={String(m.metric)}>
                    <td>{String(m.metric)}</td>
                    <td>
                      {a.count} / {b.count}
                    </td>
                    <td>
                      {num(a.mean)} / {num(b.mean)}
                    </td>
                    <td>
                      {num(a.std)} / {num(b.std)}
                    </td>
                    <td>
                      {num(a.min)} / {num(b.min)}
                    </td>
                    <td>
                      {num(a.max)} / {num(b.max)}
                    </td>
                    <td class={Number(m.delta) > 0 ? 'up' : Number(m.delta) < 0 ? 'down' : ''}>
                      {num(m.delta as number | null)}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </>
      )}
    </div>
  )
}

function Charts(props: {
  id: string
  metrics: readonly string[]
  params: readonly string[]
  initialMetric: string | undefined
  where: string
}) {
  const { id, metrics, params, where } = props
  const [metric, setMetric] = useState(props.initialMetric ?? metrics[0] ?? '')
  const [by, setBy] = useState(params[0] ?? '')
  const [band, setBand] = useState('std')
  const plot = useAsync(
    (signal) =>
      by
        ? get(
            `experiments/${encodeURIComponent(id)}/plot${query({ metric, by, band, where })}`,
            signal,
          )
        : Promise.resolve(null),
    [id, metric, by, band, where],
  )
  const series = useAsync(
    (signal) =>
      get(`experiments/${encodeURIComponent(id)}/series${query({ metric, where })}`, signal),
    [id, metric, where],
  )
  const points = listOf<Json>(plot.data, 'points')
  const lines: Series[] = []
  for (const p of points) {
    const name = String(p.series)
    let s = lines.find((l) => l.name === name)
    if (!s) {
      s = { name, points: [] }
      lines.push(s)
    }
    const mean = Number(p.mean)
    const std = p.std === null ? 0 : Number(p.std)
    const low = band === 'minmax' ? Number(p.min) : Math.max(Number(p.min), mean - std)
    const high = band === 'minmax' ? Number(p.max) : Math.min(Number(p.max), mean + std)
    ;(s.points as Series['points'][number][]).push({
      x: plot.data?.xAxis === 'category' ? String(p.x) : Number(p.x),
      y: mean,
      ...(band === 'none' ? {} : { low, high }),
      label: `${name}: ${by}=${String(p.x)} mean ${num(mean)} std ${num(p.std as number | null)} min ${num(Number(p.min))} max ${num(Number(p.max))} (n=${String(p.count)})`,
    })
  }
  const values = listOf<Json>(series.data, 'points')
  const [window, setWindow] = useState(5)
  const ys = values.map((v) => Number(v.value))
  const smooth = rolling(ys, window)
  return (
    <div class="panel">
      <h2>Charts</h2>
      <div class="inline">
        <label>
          Metric
          <select value={metric} onChange={(e) => setMetric(e.currentTarget.value)}>
            {metrics.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Against param
          <select value={by} onChange={(e) => setBy(e.currentTarget.value)}>
            {params.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          Band
          <select value={band} onChange={(e) => setBand(e.currentTarget.value)}>
            <option value="std">mean ± std</option>
            <option value="minmax">min–max</option>
            <option value="none">none</option>
          </select>
        </label>
      </div>
      <ErrorText error={plot.error} />
      {lines.length > 0 && (
        <LineChart
          series={lines}
          xLabel={by}
          yLabel={metric}
          logX={plot.data?.xAxis === 'log'}
          testid="metric-by-param"
        />
      )}
      <h3>{metric} over time</h3>
      <label>
        Rolling window
        <input
          type="number"
          min={1}
          max={100}
          value={window}
          onInput={(e) => setWindow(Math.max(1, Number(e.currentTarget.value) || 1))}
        />
      </label>
      <ErrorText error={series.error} />
      {values.length > 0 && (
        <LineChart
          testid="metric-series"
          xLabel="run order"
          yLabel={metric}
          series={[
            {
              name: metric,
              points: values.map((v, i) => ({
                x: i + 1,
                y: ys[i] ?? 0,
                label: `#${i + 1} ${String(v.version ?? '')}: ${num(ys[i])}`,
              })),
            },
            {
              name: `rolling mean (${window})`,
              points: smooth.map((y, i) => ({
                x: i + 1,
                y,
                label: `#${i + 1} rolling mean ${num(y)}`,
              })),
            },
          ]}
        />
      )}
    </div>
  )
}
