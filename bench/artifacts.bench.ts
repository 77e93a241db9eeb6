/**
 * `artifacts` orchestration overhead: a combined results merge + data rebase against the same two
 * library calls run one after the other (the floor: the work itself). ARTIFACTS_BENCH_ROWS (default
 * 200,000) result rows and ten times as many dataset rows; the same for --dry-run against the two
 * dry-run calls. Figures may be noisy on a shared machine.
 */
import { join } from 'node:path'
import { withDuckDb } from '../src/engine/duckdb.js'
import { literal, sql } from '../src/engine/sql.js'
import { openSqlite, runSync } from '../src/engine/sqlite.js'
import { mergeArtifacts, mergeResults, rebaseData } from '../src/index.js'
import { benchDir, measure, report } from './support.js'

const rows = Number(process.env.ARTIFACTS_BENCH_ROWS ?? 200_000)

function resultsDb(path: string, from: number, count: number): void {
  const db = openSqlite(path, { fileMustExist: false })
  try {
    runSync(
      db,
      sql`create table predictions (track_id text, timestamp text, lr real, accuracy real, primary key (track_id, timestamp))`,
    )
    const insert = db.prepare('insert into predictions values (?, ?, ?, ?)')
    db.transaction(() => {
      for (let i = from; i < from + count; i++)
        insert.run(
          `run-${i % 100}`,
          `2026-01-01 00:00:00.${String(i).padStart(9, '0')}`,
          0.01,
          (i % 7) / 7,
        )
    })()
  } finally {
    db.close()
  }
}

const { dir, done } = benchDir('artifacts')
try {
  resultsDb(join(dir, 'base.db'), 0, rows)
  resultsDb(join(dir, 'exp.db'), rows, Math.floor(rows / 10))
  await withDuckDb({}, async (db) => {
    const select = (from: number, to: number) =>
      sql`select range as id, hash(range) % 1000 as x from range(${from}, ${to})`
    await db.run(
      sql`copy (${select(0, rows * 10)}) to ${literal(join(dir, 'base.parquet'))} (format parquet)`,
    )
    await db.run(
      sql`copy (${select(rows * 9, rows * 11)}) to ${literal(join(dir, 'exp.parquet'))} (format parquet)`,
    )
  })
  process.stdout.write(
    `results: ${rows} + ${Math.floor(rows / 10)} rows; data: ${rows * 10} + ${rows * 2} rows\n`,
  )
  const at = (name: string) => join(dir, name)

  const floor = await measure(async () => {
    await mergeResults({ ours: at('base.db'), theirs: at('exp.db'), output: at('floor.db') })
    await rebaseData({
      ours: at('base.parquet'),
      theirs: at('exp.parquet'),
      output: at('floor.parquet'),
      key: ['id'],
    })
  })
  const combined = await measure(() =>
    mergeArtifacts({
      results: {
        ours: at('base.db'),
        theirs: at('exp.db'),
        output: at('out.db'),
        strategy: 'merge',
      },
      data: {
        ours: at('base.parquet'),
        theirs: at('exp.parquet'),
        output: at('out.parquet'),
        strategy: 'rebase',
        key: ['id'],
      },
    }),
  )
  report(
    'artifacts (results merge + data rebase)',
    combined,
    {
      label: 'the two calls alone',
      m: floor,
    },
    { ratio: 1.1 },
  )

  // --dry-run: the same two steps counting instead of writing, against the two dry-run calls.
  const dryFloor = await measure(async () => {
    await mergeResults({
      ours: at('base.db'),
      theirs: at('exp.db'),
      output: at('f2.db'),
      dryRun: true,
    })
    await rebaseData({
      ours: at('base.parquet'),
      theirs: at('exp.parquet'),
      output: at('f2.parquet'),
      key: ['id'],
      dryRun: true,
    })
  })
  const dry = await measure(() =>
    mergeArtifacts({
      results: {
        ours: at('base.db'),
        theirs: at('exp.db'),
        output: at('o2.db'),
        strategy: 'merge',
      },
      data: {
        ours: at('base.parquet'),
        theirs: at('exp.parquet'),
        output: at('o2.parquet'),
        strategy: 'rebase',
        key: ['id'],
      },
      dryRun: true,
    }),
  )
  report(
    'artifacts --dry-run',
    dry,
    { label: 'the two dry-run calls alone', m: dryFloor },
    {
      ratio: 1.1,
    },
  )
} finally {
  done()
}
