/**
 * The web UI on a ROWS-row, 10-column dataset whose change request updates ROWS/5 rows, deletes
 * ROWS/100 and adds ROWS/20 (1M rows: 200k + 10k + 50k = 260k), in Debian's Chromium
 * (playwright-core) against a real `duckmerge serve` (the built CLI, `npm run build`):
 * - navigating to the change request until its diff summary and first page are drawn
 *   (target ≤ 1 s); floor: the one API call that page needs, timed alone from Node;
 * - "Next page" until the next rows are drawn (target ≤ 300 ms): clicked as soon as a page is
 *   drawn (floor: the API call alone), and after READ_MS on the page, as a reader would (the
 *   page prefetches the next one meanwhile);
 * - during a merge from the modal, the longest pause between two redraws of its progress
 *   (target ≤ 500 ms), and the merge's time.
 * Times in the page are taken by the page (performance.now, checked every frame). Each
 * navigation's requests are listed, so a redundant or slow one shows. `ROWS=50000 tsx
 * bench/ui.bench.ts` for a quick run; RUNS (default 3) runs of each, median and best printed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { DuckDb } from '../src/engine/duckdb.js'
import { literal, sql } from '../src/engine/sql.js'
import { hasChromium, launch, noChromiumReason } from '../test/e2e/browser.js'
import { benchDir } from './support.js'

const ROWS = Number(process.env.ROWS ?? 1_000_000)
const RUNS = Number(process.env.RUNS ?? 3)
const READ_MS = 2000
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))

if (!hasChromium) {
  process.stdout.write(`skipped: ${noChromiumReason}\n`)
  process.exit(0)
}
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)

const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const ms = (x: number) => `${x.toFixed(0)} ms`

function line(name: string, runs: readonly number[], floor: string, target: string): void {
  process.stdout.write(
    `${name}: median ${ms(median(runs))}, best ${ms(Math.min(...runs))} (runs ${runs.map(ms).join(', ')})  ${floor}  target ${target}\n`,
  )
}

// Page-side checks (strings: evaluated in the page, where the DOM is).
const DIFF_SHOWN = `(document.querySelector('[data-testid=diff-summary] .modified dd')?.textContent ?? '0') !== '0' &&
  document.querySelectorAll('[data-testid=diff-rows] tbody tr').length === 100`
const NEXT_CLICKED = `[...document.querySelectorAll('button')].find((b) => b.textContent === 'Next page').click()`
const PREVIOUS_CLICKED = `[...document.querySelectorAll('button')].find((b) => b.textContent === 'Previous page').click()`
const NEXT_SHOWN = `document.querySelectorAll('[data-testid=diff-rows] tbody tr').length === 100 &&
  document.querySelector('[data-testid=diff-rows] tbody tr td')?.textContent !== window.__before`
// Records when the modal's progress (bar, phase, elapsed time) changes on screen.
const WATCH_PROGRESS = `(() => {
  window.__redraws = []
  const modal = document.querySelector('[role=dialog]')
  new MutationObserver(() => {
    const progress = document.querySelector('[data-testid=merge-progress] label')
    if (progress) window.__redraws.push([performance.now(), progress.textContent])
  }).observe(modal, { subtree: true, childList: true, characterData: true, attributes: true })
})()`

const { dir, done } = benchDir('ui')
let server: ChildProcess | undefined
try {
  const file = (name: string) => join(dir, name)
  const db = await DuckDb.open()
  await db.run(
    sql`copy (select i::bigint as id, (i % 1000)::integer as c1, (i * 0.5)::double as c2,
        'name-' || (i % 5000) as c3, date '2020-01-01' + (i % 3000)::integer as c4,
        (i % 7)::bigint as c5, (i % 13)::double as c6, 'tag' || (i % 17) as c7,
        (i % 2 = 0) as c8, (i % 100)::integer as c9
      from range(0, ${ROWS}) r(i)) to ${literal(file('base.parquet'))} (format parquet)`,
  )
  await db.run(
    sql`copy (
        select i::bigint as id, (i % 1000 + 1)::integer as c1,
          case when i % 10 = 0 then i * 0.5 + 1 else i * 0.5 end::double as c2, 'upsert' as _op
        from range(0, ${ROWS}) r(i) where i % 5 = 0
        union all select i::bigint, null, null, 'delete' from range(0, ${ROWS}) r(i) where i % 100 = 1
        union all select i::bigint, 1, 1.0, 'upsert' from range(${ROWS}, ${ROWS + ROWS / 20}) r(i)
      ) to ${literal(file('theirs.parquet'))} (format parquet)`,
  )
  db.close()

  const root = file('root')
  const created = spawnSync(
    process.execPath,
    [CLI, 'token', 'create', '--user', 'ann', '--root', root, '--json'],
    { encoding: 'utf8' },
  )
  if (created.status !== 0) throw new Error(created.stderr)
  const token = (JSON.parse(created.stdout) as { token: string }).token
  server = spawn(process.execPath, [CLI, 'serve', '--root', root, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    server?.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /^listening on (\S+)\n/.exec(out)
      if (match?.[1]) resolve(match[1])
    })
    server?.once('exit', (code) => reject(new Error(`serve exited ${code}`)))
  })
  const api = async (
    method: string,
    path: string,
    body?: string | Buffer | FormData,
    type?: string,
  ) => {
    const started = performance.now()
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(type ? { 'content-type': type } : {}) },
      ...(body === undefined ? {} : { body }),
    })
    const json = (await res.json()) as Record<string, unknown>
    if (res.status >= 300)
      throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`)
    return { json, ms: performance.now() - started }
  }
  await api('POST', '/projects', JSON.stringify({ name: 'bench' }), 'application/json')
  await api(
    'POST',
    '/projects/1/datasets?name=wide&primary_keys=id',
    readFileSync(file('base.parquet')),
    'application/vnd.apache.parquet',
  )
  const form = new FormData()
  form.set('title', 'the big change')
  form.set('file', new Blob([readFileSync(file('theirs.parquet'))]), 'theirs.parquet')
  const cr = (await api('POST', '/datasets/1/change_requests', form)).json
  const crId = String(cr.id)
  process.stdout.write(
    `dataset: ${ROWS} rows × 10 columns; change request ${crId}: ${JSON.stringify(cr.staged)}\n`,
  )

  // The API calls alone (the floor of what the page can do).
  const firstApi: number[] = []
  const nextApi: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const first = await api('GET', `/change_requests/${crId}/diff?against=base&limit=100`)
    firstApi.push(first.ms)
    const cursor = (first.json.page as { next_cursor: string }).next_cursor
    nextApi.push(
      (
        await api(
          'GET',
          `/change_requests/${crId}/diff?against=base&limit=100&cursor=${encodeURIComponent(cursor)}`,
        )
      ).ms,
    )
  }

  const browser = await launch()
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const requests: string[] = []
  let inFlight = 0
  page.on('request', () => inFlight++)
  page.on('requestfailed', () => inFlight--)
  page.on('requestfinished', (r) => {
    inFlight--
    const t = r.timing()
    if (r.url().includes('/api/'))
      requests.push(`${r.method()} ${r.url().replace(url, '')} ${ms(t.responseEnd)}`)
  })
  // Each figure starts with no request of the page in flight (a prefetch of the previous run's
  // would share the server with the one measured).
  const idle = async () => {
    while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await page.goto(url)
  await page.getByLabel('API token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()

  const navigation: number[] = []
  const next: number[] = []
  const nextAfterReading: number[] = []
  const previous: number[] = []
  let lastRequests: string[] = []
  for (let i = 0; i < RUNS; i++) {
    await page.evaluate(`location.hash = '#/datasets/1'`)
    await page.getByTestId('current-version').waitFor()
    await idle()
    requests.length = 0
    navigation.push(
      await timed(page, `location.hash = '#/change-requests/${crId}/diff'`, DIFF_SHOWN),
    )
    lastRequests = [...requests]
    next.push(await timed(page, NEXT_CLICKED, NEXT_SHOWN))
    // A reader looks at a page before asking for the next: the page fetches it meanwhile.
    await new Promise((resolve) => setTimeout(resolve, READ_MS))
    nextAfterReading.push(await timed(page, NEXT_CLICKED, NEXT_SHOWN))
    previous.push(await timed(page, PREVIOUS_CLICKED, NEXT_SHOWN))
  }
  line(
    'change request page → diff summary and first 100 rows drawn',
    navigation,
    `floor (the diff API call alone): ${ms(median(firstApi))}`,
    '≤ 1000 ms',
  )
  process.stdout.write(`  its requests (the last run): ${lastRequests.join('; ')}\n`)
  line(
    'Next page at once → the next 100 rows drawn',
    next,
    `floor (the API call with the cursor alone): ${ms(median(nextApi))}`,
    '≤ 300 ms',
  )
  line(
    `Next page after ${READ_MS / 1000} s on the page (prefetched) → drawn`,
    nextAfterReading,
    'floor: one frame',
    '≤ 300 ms',
  )
  line('Previous page (kept: drawing only) → drawn', previous, 'floor: one frame', '≤ 300 ms')

  await page.evaluate(`location.hash = '#/change-requests/${crId}/diff'`)
  await idle()
  await page.getByRole('button', { name: 'Merge', exact: true }).click()
  await page.getByTestId('merge-preview').waitFor({ timeout: 600_000 })
  await page.evaluate(WATCH_PROGRESS)
  const started = performance.now()
  await page.getByRole('button', { name: 'Confirm merge' }).click()
  await page.getByTestId('toast-success').waitFor({ timeout: 1_800_000 })
  const mergeMs = performance.now() - started
  const redraws = (await page.evaluate('window.__redraws')) as [number, string][]
  const gaps = redraws.slice(1).map(([t], i) => t - (redraws[i]?.[0] ?? t))
  const longest = Math.max(0, ...gaps)
  const where = redraws[gaps.indexOf(longest)]?.[1] ?? ''
  process.stdout.write(
    `merge from the modal: ${ms(mergeMs)}; progress redrawn ${redraws.length} times, longest pause ${ms(longest)} (after "${where}"; median ${ms(median(gaps))})  target ≤ 500 ms\n`,
  )
  await browser.close()
} finally {
  server?.kill('SIGTERM')
  done()
}

/**
 * Runs `action` in the page and returns the ms until `ready` holds, checked every frame
 * (`window.__before` holds the first diff row's key as it was before the action).
 */
async function timed(page: Page, action: string, ready: string): Promise<number> {
  return (await page.evaluate(`new Promise((resolve) => {
    window.__before = document.querySelector('[data-testid=diff-rows] tbody tr td')?.textContent
    const t0 = performance.now();
    ${action};
    const check = () => (${ready}) ? resolve(performance.now() - t0) : requestAnimationFrame(check)
    requestAnimationFrame(check)
  })`)) as number
}
