/**
 * Delta backfill and MERGE against their DuckDB floors (`npx tsx bench/delta-merge.bench.ts`).
 *
 * - backfill: main 10M rows in 10 files, staging 1M rows of which 30% have keys already in main.
 *   Floor: reading main's key columns plus writing the new rows to one Parquet file with DuckDB.
 *   Target ≤ 2x, peak RSS < 1 GB.
 * - update merge touching 1 of main's 10 files (10%). Floor: DuckDB rewriting that file by hand —
 *   read it, apply the updates (left join with the same source query), COPY to a new zstd Parquet
 *   file. Target ≤ 1.5x. The plain copy of the file (no updates) is printed too, for reference.
 *   The merge's phases (from its progress events) are printed beside it.
 * Each figure is the median of DELTA_BENCH_RUNS (default 5) runs, floor and subject alternating,
 * each run on a fresh copy of the tables (the copy is not timed): the machine is shared, so one
 * slow run must not decide. Wall time decides; process CPU time (DuckDB's threads included) is
 * printed beside it, less sensitive to other processes.
 * DELTA_BENCH_SCALE=0.1 runs a tenth of the sizes (for a quick look); DELTA_BENCH_ONLY=merge
 * times only the merge (the backfill still runs once, to leave main as a table in use).
 */
import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { withDuckDb } from '../src/engine/duckdb.js'
import { literal, raw, sql } from '../src/engine/sql.js'
import {
  appendTable,
  backfill,
  createTable,
  dataFilePath,
  loadSnapshot,
  merge,
  parseStats,
} from '../src/formats/delta/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

const scale = Number(process.env.DELTA_BENCH_SCALE ?? '1')
const runs = Number(process.env.DELTA_BENCH_RUNS ?? '5')
const only = process.env.DELTA_BENCH_ONLY
const FILES = 10
const PER_FILE = Math.round(1_000_000 * scale)
const MAIN_ROWS = FILES * PER_FILE
const STAGING_ROWS = Math.round(1_000_000 * scale)
const KNOWN = Math.round(STAGING_ROWS * 0.3)

const medianAt = (ms: readonly Measurement[]): number => {
  const order = ms.map((m, i) => ({ ms: m.ms, i })).sort((a, b) => a.ms - b.ms)
  return order[Math.floor((order.length - 1) / 2)]?.i ?? 0
}
const median = (ms: readonly Measurement[]): Measurement => ms[medianAt(ms)] as Measurement
const medianOf = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0
const sumOf = (a: Measurement, b: Measurement): Measurement => ({
  ms: a.ms + b.ms,
  peakRssMb: Math.max(a.peakRssMb, b.peakRssMb),
})
/** measure() plus the process CPU time the step used (ms, DuckDB's threads included). */
const measureCpu = async (fn: () => Promise<unknown>): Promise<Measurement & { cpuMs: number }> => {
  const cpu = process.cpuUsage()
  const m = await measure(fn)
  const { user, system } = process.cpuUsage(cpu)
  return { ...m, cpuMs: (user + system) / 1000 }
}
const fresh = (from: string, to: string) => {
  rmSync(to, { recursive: true, force: true })
  cpSync(from, to, { recursive: true })
  return to
}

const { dir, done } = benchDir('delta-merge')
try {
  const main = join(dir, 'main')
  const staging = join(dir, 'staging')
  process.stdout.write(
    `building main (${MAIN_ROWS} rows, ${FILES} files) and staging (${STAGING_ROWS} rows, ${KNOWN} known keys)…\n`,
  )
  // Main: file k holds cert_index [k·PER_FILE, (k+1)·PER_FILE), so file statistics can prune.
  const rowsOf = (from: number, to: number) =>
    `select 'https://ct.example/log' || (i % 16) as source_url, i as cert_index, 'host' || i || '.example.com' as domain, i * 7 as seen_at from range(${from}, ${to}) t(i)`
  await createTable({ path: main, source: { query: rowsOf(0, PER_FILE) } })
  for (let k = 1; k < FILES; k++)
    await appendTable({ path: main, source: { query: rowsOf(k * PER_FILE, (k + 1) * PER_FILE) } })
  // Staging: 30% of its keys spread over main's range (every file), 70% new keys past it.
  const stride = Math.floor(MAIN_ROWS / KNOWN)
  await createTable({
    path: staging,
    source: {
      query: `select 'https://ct.example/log' || (i % 16) as source_url, i as cert_index, 'staged' || i || '.example.com' as domain, i * 7 as seen_at from (select range * ${stride} as i from range(${KNOWN}) union all select ${MAIN_ROWS} + range as i from range(${STAGING_ROWS - KNOWN}))`,
    },
  })
  const mainFiles = (await loadSnapshot(main)).files.map((f) => dataFilePath(main, f.path))
  const stagingFiles = (await loadSnapshot(staging)).files.map((f) => dataFilePath(staging, f.path))
  const list = (paths: readonly string[]) =>
    raw(`[${paths.map((p) => literal(p).text).join(', ')}]`)

  // Floor: read main's key columns, then write the new rows to one Parquet file.
  const readKeys = () =>
    measure(() =>
      withDuckDb({}, (db) =>
        db.all(sql`select max(source_url), max(cert_index) from read_parquet(${list(mainFiles)})`),
      ),
    )
  const writeNew = () =>
    measure(() =>
      withDuckDb({}, (db) =>
        db.run(
          sql`copy (select * from read_parquet(${list(stagingFiles)}) where cert_index >= ${MAIN_ROWS}) to ${literal(join(dir, 'floor-new.parquet'))} (format parquet, compression zstd)`,
        ),
      ),
    )
  const antiJoin = () =>
    measure(() =>
      withDuckDb({}, (db) =>
        db.run(
          sql`copy (select * from read_parquet(${list(stagingFiles)}) s where not exists (select 1 from read_parquet(${list(mainFiles)}) m where m.source_url = s.source_url and m.cert_index = s.cert_index)) to ${literal(join(dir, 'floor-anti.parquet'))} (format parquet, compression zstd)`,
        ),
      ),
    )

  const floors: Measurement[] = []
  const antis: Measurement[] = []
  const backfills: Measurement[] = []
  let inserted = 0
  const phases: string[] = []
  for (let i = 0; i < (only === 'merge' ? 1 : runs); i++) {
    if (only !== 'merge') {
      const keys = await readKeys()
      floors.push(sumOf(keys, await writeNew()))
      antis.push(await antiJoin())
    }
    const runMain = fresh(main, join(dir, 'run-main'))
    const runStaging = fresh(staging, join(dir, 'run-staging'))
    backfills.push(
      await measure(async () => {
        const r = await backfill({
          ours: runMain,
          theirs: runStaging,
          key: ['source_url', 'cert_index'],
        })
        inserted = r.rowsInserted
        phases.push(`batch ${r.perBatch[0]?.durationMs ?? 0} ms of ${r.durationMs} ms`)
      }),
    )
  }
  // The merge below runs on main after one backfill, as a table in use would be.
  const afterBackfill = fresh(join(dir, 'run-main'), join(dir, 'main-after-backfill'))
  if (only !== 'merge') {
    const floor = median(floors)
    report(
      `backfill ${STAGING_ROWS} staging rows into ${MAIN_ROWS} (${inserted} inserted; ${phases[medianAt(backfills)]})`,
      median(backfills),
      { label: 'read main keys + write new rows, DuckDB', m: floor },
      { ratio: 2, rssMb: 1024 },
    )
    report('  (reference) one DuckDB anti-join COPY', median(antis), {
      label: 'same floor',
      m: floor,
    })
  }

  // Update merge: 20% of the rows of the first file get a new domain.
  // The file holding cert_index 0 … PER_FILE − 1: the one the update merge touches.
  const touched = (await loadSnapshot(afterBackfill)).files.find(
    (f) => parseStats(f)?.minValues?.cert_index === 0,
  )
  const touchedPath = touched ? dataFilePath(afterBackfill, touched.path) : (mainFiles[0] ?? '')
  const updates = sql`select 'https://ct.example/log' || (i % 16) as source_url, i as cert_index, 'updated' as domain, 0::bigint as seen_at from range(0, ${PER_FILE}, 5) t(i)`
  // The floor written by hand: it knows the one file to rewrite and that the keys are unique.
  const rewriteByHand = sql`copy (select t.source_url, t.cert_index, coalesce(s.domain, t.domain) as domain, coalesce(s.seen_at, t.seen_at) as seen_at from read_parquet(${literal(touchedPath)}) t left join (${updates}) s on t.source_url = s.source_url and t.cert_index = s.cert_index) to ${literal(join(dir, 'floor-update.parquet'))} (format parquet, compression zstd)`
  const plainCopy = sql`copy (select * from read_parquet(${literal(touchedPath)})) to ${literal(join(dir, 'floor-rewrite.parquet'))} (format parquet, compression zstd)`
  const floorsUpdate: (Measurement & { cpuMs: number })[] = []
  const copies: (Measurement & { cpuMs: number })[] = []
  const merges: (Measurement & { cpuMs: number })[] = []
  const metrics: string[] = []
  const phaseMs = new Map<string, number[]>()
  for (let i = 0; i < runs; i++) {
    floorsUpdate.push(await measureCpu(() => withDuckDb({}, (db) => db.run(rewriteByHand))))
    copies.push(await measureCpu(() => withDuckDb({}, (db) => db.run(plainCopy))))
    const target = fresh(afterBackfill, join(dir, 'run-merge'))
    const marks: { phase: string; at: number }[] = []
    merges.push(
      await measureCpu(async () => {
        marks.push({ phase: 'open session', at: performance.now() })
        const r = await merge(target, updates, {
          on: ['source_url', 'cert_index'],
          onProgress: (p) =>
            marks.push({ phase: p.phase.replace(/^merge: /, ''), at: performance.now() }),
        })
          .whenMatchedUpdate('all')
          .execute()
        marks.push({ phase: 'end', at: performance.now() })
        const m = r.metrics
        metrics.push(
          `${m.numTargetRowsUpdated} updated, ${m.numTargetFilesRemoved}/${m.numTargetFilesBeforeSkipping} files rewritten`,
        )
      }),
    )
    marks.slice(0, -1).forEach((mark, k) => {
      const spent = (marks[k + 1]?.at ?? mark.at) - mark.at
      phaseMs.set(mark.phase, [...(phaseMs.get(mark.phase) ?? []), spent])
    })
  }
  const cpuMedian = (ms: readonly { cpuMs: number }[]) => medianOf(ms.map((m) => m.cpuMs))
  const cpuRatio = (a: readonly { cpuMs: number }[], b: readonly { cpuMs: number }[]) =>
    `CPU ${cpuMedian(a).toFixed(0)} ms vs ${cpuMedian(b).toFixed(0)} ms, ratio ${(cpuMedian(a) / cpuMedian(b)).toFixed(2)}x`
  report(
    `update merge of 1 file (${metrics[medianAt(merges)]})`,
    median(merges),
    { label: 'read that file, apply the updates, COPY zstd; DuckDB', m: median(floorsUpdate) },
    { ratio: 1.5 },
  )
  process.stdout.write(`  ${cpuRatio(merges, floorsUpdate)}\n`)
  process.stdout.write(
    `  phases (median ms): ${[...phaseMs].map(([phase, ms]) => `${phase} ${medianOf(ms).toFixed(0)}`).join(', ')}\n`,
  )
  report('  (reference) same merge', median(merges), {
    label: 'plain COPY of that file, no updates',
    m: median(copies),
  })
  process.stdout.write(`  ${cpuRatio(merges, copies)}\n`)
} finally {
  done()
}
