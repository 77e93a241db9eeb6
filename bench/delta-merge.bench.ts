/**
 * Delta backfill and MERGE against their DuckDB floors (`npx tsx bench/delta-merge.bench.ts`).
 *
 * - backfill: main 10M rows in 10 files, staging 1M rows of which 30% have keys already in main.
 *   Floor: reading main's key columns plus writing the new rows to one Parquet file with DuckDB.
 *   Target ≤ 2x, peak RSS < 1 GB.
 * - update merge touching 1 of main's 10 files (10%). Floor: rewriting that file with DuckDB.
 *   Target ≤ 1.5x.
 * Each figure is the fastest of DELTA_BENCH_RUNS (default 3) runs, floor and subject alternating,
 * each run on a fresh copy of the tables (the copy is not timed): the machine is shared.
 * DELTA_BENCH_SCALE=0.1 runs a tenth of the sizes (for a quick look).
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
const runs = Number(process.env.DELTA_BENCH_RUNS ?? '3')
const FILES = 10
const PER_FILE = Math.round(1_000_000 * scale)
const MAIN_ROWS = FILES * PER_FILE
const STAGING_ROWS = Math.round(1_000_000 * scale)
const KNOWN = Math.round(STAGING_ROWS * 0.3)

const fastestAt = (ms: readonly Measurement[]): number =>
  ms.reduce((best, m, i) => (m.ms < (ms[best]?.ms ?? Number.POSITIVE_INFINITY) ? i : best), 0)
const fastest = (ms: readonly Measurement[]): Measurement => ms[fastestAt(ms)] as Measurement
const sumOf = (a: Measurement, b: Measurement): Measurement => ({
  ms: a.ms + b.ms,
  peakRssMb: Math.max(a.peakRssMb, b.peakRssMb),
})
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
  for (let i = 0; i < runs; i++) {
    const keys = await readKeys()
    floors.push(sumOf(keys, await writeNew()))
    antis.push(await antiJoin())
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
  const floor = fastest(floors)
  report(
    `backfill ${STAGING_ROWS} staging rows into ${MAIN_ROWS} (${inserted} inserted; ${phases[fastestAt(backfills)]})`,
    fastest(backfills),
    { label: 'read main keys + write new rows, DuckDB', m: floor },
    { ratio: 2, rssMb: 1024 },
  )
  report('  (reference) one DuckDB anti-join COPY', fastest(antis), {
    label: 'same floor',
    m: floor,
  })

  // Update merge: 20% of the rows of the first file get a new domain.
  // The file holding cert_index 0 … PER_FILE − 1: the one the update merge touches.
  const touched = (await loadSnapshot(afterBackfill)).files.find(
    (f) => parseStats(f)?.minValues?.cert_index === 0,
  )
  const touchedPath = touched ? dataFilePath(afterBackfill, touched.path) : (mainFiles[0] ?? '')
  const rewrites: Measurement[] = []
  const merges: Measurement[] = []
  const metrics: string[] = []
  for (let i = 0; i < runs; i++) {
    rewrites.push(
      await measure(() =>
        withDuckDb({}, (db) =>
          db.run(
            sql`copy (select * from read_parquet(${touchedPath})) to ${literal(join(dir, 'floor-rewrite.parquet'))} (format parquet, compression zstd)`,
          ),
        ),
      ),
    )
    const target = fresh(afterBackfill, join(dir, 'run-merge'))
    merges.push(
      await measure(async () => {
        const r = await merge(
          target,
          sql`select 'https://ct.example/log' || (i % 16) as source_url, i as cert_index, 'updated' as domain, 0::bigint as seen_at from range(0, ${PER_FILE}, 5) t(i)`,
          { on: ['source_url', 'cert_index'] },
        )
          .whenMatchedUpdate('all')
          .execute()
        const m = r.metrics
        metrics.push(
          `${m.numTargetRowsUpdated} updated, ${m.numTargetFilesRemoved}/${m.numTargetFilesBeforeSkipping} files rewritten; scan ${m.scanTimeMs} ms, rewrite ${m.rewriteTimeMs} ms of ${m.executionTimeMs} ms`,
        )
      }),
    )
  }
  report(
    `update merge of 1 file (${metrics[fastestAt(merges)]})`,
    fastest(merges),
    { label: 'rewrite that file, DuckDB', m: fastest(rewrites) },
    { ratio: 1.5 },
  )
} finally {
  done()
}
