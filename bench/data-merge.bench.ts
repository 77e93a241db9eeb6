/**
 * data merge / rebase at 10M base + 1M exp rows (half of exp's keys already in base), against
 * DuckDB's plain Parquet COPY of the same 11M rows with the same compression, in the same run.
 * Each step runs in its own process so its peak RSS is its own. Rows: DATA_BENCH_ROWS (default
 * 10,000,000); exp is a tenth of that.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withDuckDb } from '../src/engine/duckdb.js'
import { literal, sql } from '../src/engine/sql.js'
import { mergeData, rebaseData } from '../src/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

type Step = 'copy' | 'merge' | 'merge-dedup' | 'rebase'
const compression = 'zstd'

async function generate(dir: string, rows: number): Promise<void> {
  await withDuckDb({ preserveInsertionOrder: false }, async (db) => {
    // Keys 0..rows-1 in base; exp has keys rows-expRows/2 .. rows+expRows/2 (half overlap).
    const expRows = Math.floor(rows / 10)
    const columns = sql`range as id, (range % 1000)::INTEGER as g, hash(range) % 100000 / 100.0 as score, 'run-' || (range % 5000) as run`
    await db.run(
      sql`COPY (select ${columns} from range(0, ${rows})) TO ${literal(join(dir, 'base.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
    )
    await db.run(
      sql`COPY (select ${columns}, 0.5 as lr from range(${rows - Math.floor(expRows / 2)}, ${rows + Math.ceil(expRows / 2)})) TO ${literal(join(dir, 'exp.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
    )
  })
}

async function runStep(step: Step, dir: string): Promise<Measurement> {
  const base = join(dir, 'base.parquet')
  const exp = join(dir, 'exp.parquet')
  const output = join(dir, `${step}.parquet`)
  switch (step) {
    case 'copy':
      return measure(() =>
        withDuckDb({ preserveInsertionOrder: false }, (db) =>
          db.run(
            sql`COPY (select * from read_parquet([${base}, ${exp}], union_by_name = true)) TO ${literal(output)} (FORMAT parquet, COMPRESSION zstd)`,
          ),
        ),
      )
    case 'merge':
      return measure(() => mergeData({ base, exp, output, compression }))
    case 'merge-dedup':
      return measure(() => mergeData({ base, exp, output, compression, dedupKey: ['id'] }))
    case 'rebase':
      return measure(() => rebaseData({ base, exp, output, compression, key: ['id'] }))
  }
}

/** Runs one step in a fresh process and reads back its measurement. */
function inChild(step: Step, dir: string): Measurement {
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
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as Measurement
}

async function main(): Promise<void> {
  const stepIndex = process.argv.indexOf('--step')
  if (stepIndex >= 0) {
    const step = process.argv[stepIndex + 1] as Step
    const m = await runStep(step, process.argv[stepIndex + 2] ?? '')
    process.stdout.write(`${JSON.stringify(m)}\n`)
    return
  }
  const rows = Number(process.env.DATA_BENCH_ROWS ?? 10_000_000)
  const { dir, done } = benchDir('data-merge')
  try {
    await generate(dir, rows)
    process.stdout.write(
      `data merge/rebase: ${rows} base + ${Math.floor(rows / 10)} exp rows, ${compression}; shared 2-core machine, figures may be noisy\n`,
    )
    const floor = { label: `DuckDB COPY of base+exp, ${compression}`, m: inChild('copy', dir) }
    report('plain COPY (floor)', floor.m, undefined)
    const target = { ratio: 1.2, rssMb: 500 }
    report('data merge', inChild('merge', dir), floor, target)
    report('data merge --dedup-key id', inChild('merge-dedup', dir), floor, target)
    report('data rebase --key id', inChild('rebase', dir), floor, target)
  } finally {
    done()
  }
}

await main()
