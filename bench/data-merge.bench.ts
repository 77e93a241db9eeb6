/**
 * data merge / rebase at 10M ours + 1M theirs rows against DuckDB's plain Parquet COPY of ours+theirs
 * with the same compression. Base is written in key order and theirs' keys are ours' last 500k plus
 * 500k new ones (clustered keys, as ids or timestamps give). A second theirs, "spread", replaces
 * 500k keys scattered over all of ours plus 500k new ones: no row group can be skipped there.
 * Each step runs in its own process so its peak RSS is its own; steps alternate over
 * DATA_BENCH_RUNS rounds (default 3) and the fastest of each is reported, as the machine is
 * shared. Each line also gives the step's CPU time (all threads) against the floor's, which
 * contention from other processes disturbs far less than wall time. Rows: DATA_BENCH_ROWS (default 10,000,000); theirs is a tenth of that.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withDuckDb } from '../src/engine/duckdb.js'
import { literal, sql } from '../src/engine/sql.js'
import { mergeData, rebaseData } from '../src/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

/** A measurement plus the CPU time (user + system, all threads) the step took. */
type Timed = Measurement & { readonly cpuMs: number }

type Step = 'copy' | 'merge' | 'merge-dedup' | 'rebase' | 'merge-dedup-spread' | 'rebase-spread'
const compression = 'zstd'

async function generate(dir: string, rows: number): Promise<void> {
  await withDuckDb({ preserveInsertionOrder: false }, async (db) => {
    // Keys 0..rows-1 in ours; theirs has keys rows-theirsRows/2 .. rows+theirsRows/2 (half overlap).
    const theirsRows = Math.floor(rows / 10)
    const columns = sql`range as id, (range % 1000)::INTEGER as g, hash(range) % 100000 / 100.0 as score, 'run-' || (range % 5000) as run`
    await db.run(
      sql`COPY (select ${columns} from range(0, ${rows})) TO ${literal(join(dir, 'base.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
    )
    await db.run(
      sql`COPY (select ${columns}, 0.5 as lr from range(${rows - Math.floor(theirsRows / 2)}, ${rows + Math.ceil(theirsRows / 2)})) TO ${literal(join(dir, 'exp.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
    )
    // Spread: every (rows / (theirsRows/2))-th ours key, then theirsRows/2 new keys.
    const step = Math.max(1, Math.floor(rows / Math.floor(theirsRows / 2)))
    await db.run(
      sql`COPY (select ${columns}, 0.5 as lr from (select range * ${step} as range from range(0, ${Math.floor(theirsRows / 2)}) union all select range from range(${rows}, ${rows + Math.ceil(theirsRows / 2)}))) TO ${literal(join(dir, 'exp-spread.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
    )
  })
}

async function runStep(step: Step, dir: string): Promise<Measurement> {
  const ours = join(dir, 'base.parquet')
  const theirs = join(dir, step.endsWith('-spread') ? 'exp-spread.parquet' : 'exp.parquet')
  const output = join(dir, `${step}.parquet`)
  switch (step) {
    case 'copy':
      return measure(() =>
        withDuckDb({ preserveInsertionOrder: false }, (db) =>
          db.run(
            sql`COPY (select * from read_parquet([${ours}, ${theirs}], union_by_name = true)) TO ${literal(output)} (FORMAT parquet, COMPRESSION zstd)`,
          ),
        ),
      )
    case 'merge':
      return measure(() => mergeData({ ours, theirs, output, compression }))
    case 'merge-dedup':
    case 'merge-dedup-spread':
      return measure(() => mergeData({ ours, theirs, output, compression, key: ['id'] }))
    case 'rebase':
    case 'rebase-spread':
      return measure(() => rebaseData({ ours, theirs, output, compression, key: ['id'] }))
  }
}

/** Runs one step in a fresh process and reads back its measurement. */
function inChild(step: Step, dir: string): Timed {
  const tsx = join(
    fileURLToPath(new URL('.', import.meta.url)),
    '..',
    'node_modules',
    'tsx',
    'dist',
    'cli.mjs',
  )
  const result = spawnSync(
    process.execPath,
    [tsx, fileURLToPath(import.meta.url), '--step', step, dir],
    {
      encoding: 'utf8',
    },
  )
  if (result.status !== 0) throw new Error(`step ${step} failed: ${result.stderr}`)
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as Timed
}

async function main(): Promise<void> {
  const stepIndex = process.argv.indexOf('--step')
  if (stepIndex >= 0) {
    const step = process.argv[stepIndex + 1] as Step
    const cpu = process.cpuUsage()
    const m = await runStep(step, process.argv[stepIndex + 2] ?? '')
    const { user, system } = process.cpuUsage(cpu)
    const timed: Timed = { ...m, cpuMs: (user + system) / 1000 }
    process.stdout.write(`${JSON.stringify(timed)}\n`)
    return
  }
  const rows = Number(process.env.DATA_BENCH_ROWS ?? 10_000_000)
  const runs = Number(process.env.DATA_BENCH_RUNS ?? 3)
  const { dir, done } = benchDir('data-merge')
  try {
    await generate(dir, rows)
    process.stdout.write(
      `data merge/rebase: ${rows} base + ${Math.floor(rows / 10)} exp rows, ${compression}; fastest of ${runs} alternating runs on a shared 2-core machine, figures may be noisy\n`,
    )
    const steps: readonly Step[] = [
      'copy',
      'merge',
      'merge-dedup',
      'rebase',
      'merge-dedup-spread',
      'rebase-spread',
    ]
    const measured = new Map<Step, Timed[]>()
    for (let i = 0; i < runs; i++)
      for (const step of steps)
        measured.set(step, [...(measured.get(step) ?? []), inChild(step, dir)])
    const all = (step: Step): Timed[] => measured.get(step) ?? []
    const best = (step: Step): Timed => all(step).reduce((a, b) => (b.ms < a.ms ? b : a))
    const leastCpu = (step: Step): number => Math.min(...all(step).map((m) => m.cpuMs))
    const floor = { label: `DuckDB COPY of base+exp, ${compression}`, m: best('copy') }
    const target = { ratio: 1.2, rssMb: 500 }
    const line = (name: string, step: Step) => {
      if (step === 'copy') report(name, floor.m, undefined)
      else report(name, best(step), floor, target)
      const cpu = leastCpu(step)
      process.stdout.write(
        `  cpu ${cpu.toFixed(0)} ms, ${(cpu / leastCpu('copy')).toFixed(2)}x the floor's\n`,
      )
    }
    line('plain COPY (floor)', 'copy')
    line('data merge', 'merge')
    line('data merge --dedup-key id', 'merge-dedup')
    line('data rebase --key id', 'rebase')
    line('data merge --dedup-key id, spread keys', 'merge-dedup-spread')
    line('data rebase --key id, spread keys', 'rebase-spread')
  } finally {
    done()
  }
}

await main()
