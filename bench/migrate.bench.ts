/**
 * SQLite → DuckDB migration of one table of N rows × 10 columns (INTEGER PRIMARY KEY, 3 integer,
 * 3 real, 3 text columns), next to the floor measured in the same run: every row read through
 * the SQLite driver and written by DuckDB's appender with the types known in advance (no type
 * scan, no checksums, no key). Target ≤ 1.5x, memory bounded. MIGRATE_BENCH_ROWS sets N.
 * CPU time (all threads: the migration counts values in a worker while it copies) is printed
 * too, as wall time on a shared machine says more about the neighbours than about the code.
 */
import { join } from 'node:path'
import { DuckDb } from '../src/engine/duckdb.js'
import { raw } from '../src/engine/sql.js'
import { openSqlite } from '../src/engine/sqlite.js'
import { migrateSqliteToDuckDb } from '../src/index.js'
import { benchDir, measure, report } from './support.js'

const rows = Number(process.env.MIGRATE_BENCH_ROWS ?? 10_000_000)
const { dir, done } = benchDir('migrate')

function build(path: string): void {
  const db = openSqlite(path, { fileMustExist: false })
  db.pragma('journal_mode = OFF')
  db.pragma('synchronous = OFF')
  db.exec(`create table runs (id INTEGER PRIMARY KEY, step INTEGER, epoch INTEGER, seed INTEGER,
    loss REAL, accuracy REAL, latency REAL, model TEXT, split TEXT, note TEXT)`)
  db.exec(`with recursive n(x) as (select 1 union all select x + 1 from n where x < ${rows})
    insert into runs select x, x % 1000, x / 1000, x * 7919 % 100003, 1.0 / x, (x % 97) / 97.0,
      5 + (x % 17) / 3.0, 'model-' || (x % 13), case x % 3 when 0 then 'train' when 1 then 'val'
      else 'test' end, 'note ' || x from n`)
  db.close()
}

/** The floor: driver read + appender write of the same rows, nothing else. */
async function floor(source: string, target: string): Promise<void> {
  const sqlite = openSqlite(source, { readonly: true })
  const duck = await DuckDb.open({ path: target })
  try {
    await duck.run(
      raw(`create table runs (id BIGINT, step BIGINT, epoch BIGINT, seed BIGINT, loss DOUBLE,
        accuracy DOUBLE, latency DOUBLE, model VARCHAR, split VARCHAR, note VARCHAR)`),
    )
    const appender = await duck.connection.createAppender('runs')
    const statement = sqlite.prepare('select * from runs').raw(true)
    for (const r of statement.iterate() as IterableIterator<(number | string | null)[]>) {
      for (let i = 0; i < 4; i++) appender.appendBigInt(BigInt(r[i] as number))
      for (let i = 4; i < 7; i++) appender.appendDouble(r[i] as number)
      for (let i = 7; i < 10; i++) appender.appendVarchar(r[i] as string)
      appender.endRow()
    }
    appender.closeSync()
    await duck.run(raw('checkpoint'))
  } finally {
    duck.close()
    sqlite.close()
  }
}

try {
  const source = join(dir, 'runs.db')
  build(source)
  process.stdout.write(`migrate: ${rows} rows × 10 columns\n`)
  const cpu = (fn: () => Promise<unknown>) => async () => {
    const before = process.cpuUsage()
    await fn()
    const used = process.cpuUsage(before)
    return (used.user + used.system) / 1000
  }
  let floorCpu = 0
  let subjectCpu = 0
  const floorM = await measure(async () => {
    floorCpu = await cpu(() => floor(source, join(dir, 'floor.duckdb')))()
  })
  const subject = await measure(async () => {
    subjectCpu = await cpu(() =>
      migrateSqliteToDuckDb({ source, target: join(dir, 'migrated.duckdb') }),
    )()
  })
  report(
    'migrate (type scan + copy + checksums + primary key + sequence)',
    subject,
    { label: 'SQLite driver read + DuckDB appender write', m: floorM },
    { ratio: 1.5 },
  )
  process.stdout.write(
    `CPU time: migrate ${subjectCpu.toFixed(0)} ms, floor ${floorCpu.toFixed(0)} ms (${(subjectCpu / floorCpu).toFixed(2)}x)\n`,
  )
  process.stdout.write(
    `floor peak RSS ${floorM.peakRssMb.toFixed(0)} MB; rows/s migrate ${Math.round(rows / (subject.ms / 1000))}, floor ${Math.round(rows / (floorM.ms / 1000))}\n`,
  )
} finally {
  done()
}
