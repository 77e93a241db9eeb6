/**
 * Delta writer figure: appending DELTA_WRITE_ROWS (default 1,000,000) rows to a Delta table
 * (Parquet files with stats, plus the commit) against DuckDB's plain COPY of the same rows to one
 * zstd Parquet file, target ≤ 1.2x. The fastest of 3 alternating runs each: the machine is shared.
 * (Snapshot loading of a 10,000-commit table is measured in delta-read.bench.ts.)
 */
import { join } from 'node:path'
import { withDuckDb } from '../src/engine/duckdb.js'
import { literal, sql } from '../src/engine/sql.js'
import { appendTable, createTable } from '../src/formats/delta/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

const rows = Number(process.env.DELTA_WRITE_ROWS ?? 1_000_000)
const runs = 3
const { dir, done } = benchDir('delta-write')

const fastest = (ms: readonly Measurement[]): Measurement =>
  ms.reduce((best, m) => (m.ms < best.ms ? m : best))

try {
  const source = join(dir, 'source.parquet')
  await withDuckDb({}, async (db) => {
    await db.run(
      sql`COPY (select range as id, timestamptz '2024-01-01 00:00:00+00' + to_seconds(range) as ts, 'run-' || (range % 5000) as run, hash(range) % 100000 / 100.0 as score, (range % 7)::INTEGER as g from range(0, ${rows})) TO ${literal(source)} (FORMAT parquet, COMPRESSION snappy)`,
    )
    await db.all(sql`select sum(id) from read_parquet(${source})`) // warm the file cache
  })
  const table = join(dir, 'table')
  await createTable({
    path: table,
    source: { query: sql`select * from read_parquet(${source}) limit 10` },
  })

  const floors: Measurement[] = []
  const appends: Measurement[] = []
  for (let i = 0; i < runs; i++) {
    // Floor: DuckDB's plain COPY of the same rows, same compression.
    const plain = join(dir, `plain-${i}.parquet`)
    floors.push(
      await measure(() =>
        withDuckDb({}, (db) =>
          db.run(
            sql`COPY (select * from read_parquet(${source})) TO ${literal(plain)} (FORMAT parquet, COMPRESSION zstd)`,
          ),
        ),
      ),
    )
    appends.push(await measure(() => appendTable({ path: table, source: { file: source } })))
  }
  report(
    `delta append ${rows.toLocaleString('en-US')} rows (files, stats, commit)`,
    fastest(appends),
    { label: 'DuckDB COPY to zstd Parquet', m: fastest(floors) },
    { ratio: 1.2 },
  )
} finally {
  done()
}
