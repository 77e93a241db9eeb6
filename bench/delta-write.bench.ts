/**
 * Delta writer figures, each next to its floor, measured in the same run:
 * - appending DELTA_WRITE_ROWS (default 1,000,000) rows to a Delta table vs DuckDB's plain COPY
 *   of the same rows to one zstd Parquet file (target ≤ 1.2x);
 * - loading the snapshot of a table with 10,000 commits and a checkpoint every 10 commits
 *   (target < 200 ms) vs reading its newest checkpoint with DuckDB alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { withDuckDb } from '../src/engine/duckdb.js'
import { literal, sql } from '../src/engine/sql.js'
import type { Action } from '../src/formats/delta/actions.js'
import {
  appendTable,
  createTable,
  ENGINE_INFO,
  loadSnapshot,
  schemaToJson,
  writeCheckpoint,
} from '../src/formats/delta/index.js'
import { benchDir, measure, report } from './support.js'

const rows = Number(process.env.DELTA_WRITE_ROWS ?? 1_000_000)
const { dir, done } = benchDir('delta-write')

try {
  const source = join(dir, 'source.parquet')
  await withDuckDb({}, (db) =>
    db.run(
      sql`COPY (select range as id, timestamptz '2024-01-01 00:00:00+00' + to_seconds(range) as ts, 'run-' || (range % 5000) as run, hash(range) % 100000 / 100.0 as score, (range % 7)::INTEGER as g from range(0, ${rows})) TO ${literal(source)} (FORMAT parquet, COMPRESSION snappy)`,
    ),
  )

  // Floor: DuckDB's plain COPY of the same rows, same compression (after a warm-up read, so
  // neither side pays for a cold file cache).
  await withDuckDb({}, (db) => db.all(sql`select sum(id) from read_parquet(${source})`))
  const plain = join(dir, 'plain.parquet')
  const floor = await measure(() =>
    withDuckDb({}, (db) =>
      db.run(
        sql`COPY (select * from read_parquet(${source})) TO ${literal(plain)} (FORMAT parquet, COMPRESSION zstd)`,
      ),
    ),
  )
  const table = join(dir, 'table')
  await createTable({
    path: table,
    source: { query: `select * from read_parquet('${source}') limit 10` },
  })
  const append = await measure(() => appendTable({ path: table, source: { file: source } }))
  report(
    `delta append ${rows.toLocaleString('en-US')} rows`,
    append,
    {
      label: 'DuckDB COPY to zstd Parquet',
      m: floor,
    },
    { ratio: 1.2 },
  )

  // A table with 10,000 commits (one add each) and checkpoints every 10 commits.
  const big = join(dir, 'commits')
  const log = join(big, '_delta_log')
  mkdirSync(log, { recursive: true })
  const schemaString = schemaToJson({
    type: 'struct',
    fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }],
  })
  const commits = 10_000
  for (let v = 0; v < commits; v++) {
    const actions: Action[] = [
      {
        commitInfo: {
          timestamp: 1_700_000_000_000 + v,
          operation: 'WRITE',
          engineInfo: ENGINE_INFO,
        },
      },
    ]
    if (v === 0)
      actions.push(
        { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
        {
          metaData: {
            id: 'bench',
            format: { provider: 'parquet', options: {} },
            schemaString,
            partitionColumns: [],
            configuration: {},
            createdTime: 0,
          },
        },
      )
    actions.push({
      add: {
        path: `part-${v}.parquet`,
        partitionValues: {},
        size: 1000,
        modificationTime: 0,
        dataChange: true,
        stats: `{"numRecords":10,"minValues":{"id":${v * 10}},"maxValues":{"id":${v * 10 + 9}},"nullCount":{"id":0}}`,
      },
    })
    writeFileSync(
      join(log, `${String(v).padStart(20, '0')}.json`),
      `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`,
    )
  }
  // Checkpoints every 10 versions: only the newest matters for loading, so write the last few.
  for (const v of [9970, 9980, 9990]) await writeCheckpoint(await loadSnapshot(big, { version: v }))
  const checkpointFloor = await measure(() =>
    withDuckDb({}, (db) =>
      db.all(
        sql`select count(*) from read_parquet(${join(log, `${'9990'.padStart(20, '0')}.checkpoint.parquet`)})`,
      ),
    ),
  )
  await loadSnapshot(big) // warm the file cache, as a repeated load would be
  const load = await measure(async () => {
    const snap = await loadSnapshot(big)
    if (snap.files.length !== commits)
      throw new Error(`expected ${commits} files, got ${snap.files.length}`)
  })
  // The same load with a DuckDB connection already open (as a long-lived process has).
  const shared = await withDuckDb({}, async (db) => {
    await loadSnapshot(big, { db })
    return measure(() => loadSnapshot(big, { db }))
  })
  report('loadSnapshot, 10,000 commits + checkpoint (target < 200 ms)', load, {
    label: 'DuckDB reading the checkpoint alone',
    m: checkpointFloor,
  })
  report('loadSnapshot as above, DuckDB connection already open', shared, {
    label: 'DuckDB reading the checkpoint alone',
    m: checkpointFloor,
  })
} finally {
  done()
}
