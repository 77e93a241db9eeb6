/**
 * results merge: 1M base rows + 200k exp rows (half of them keys base already has), xetrack-like
 * table with a (track_id, timestamp) primary key. Floor: INSERT OR IGNORE into the same unique
 * key, through the same engine, in one transaction: the least work any merge can do.
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDb } from '../src/engine/duckdb.js'
import { raw } from '../src/engine/sql.js'
import { openSqlite } from '../src/engine/sqlite.js'
import { mergeResults } from '../src/index.js'
import { benchDir, measure, report } from './support.js'

const BASE_ROWS = 1_000_000
const EXP_ROWS = 200_000
const OVERLAP = EXP_ROWS / 2

const TABLE = `create table predictions (track_id text, timestamp text, experiment_version text,
  lr real, input_id integer, prediction integer, accuracy real, latency real,
  primary key (track_id, timestamp))`

// Row i: one of 1000 runs, a timestamp unique per i. Exp rows [BASE_ROWS - OVERLAP, …) overlap.
const rowsSql = (from: number, count: number, version: string) => `
  with recursive s(i) as (select ${from} union all select i + 1 from s where i < ${from + count - 1})
  select 'run-' || (i % 1000), printf('2026-01-01 %012d', i), '${version}', 0.01,
    i % 40, i % 2, (i % 7) / 7.0, 0.001 * (i % 13) from s`

function makeSqlite(path: string, from: number, count: number, version: string): void {
  const db = openSqlite(path, { fileMustExist: false })
  db.exec(TABLE)
  db.exec(`insert into predictions ${rowsSql(from, count, version)}`)
  db.close()
}

async function makeDuckDb(path: string, from: number, count: number, version: string) {
  const db = await DuckDb.open({ path })
  await db.run(raw(TABLE.replace(' real', ' double').replaceAll(' real', ' double')))
  await db.run(
    raw(`insert into predictions select 'run-' || (i % 1000), printf('2026-01-01 %012d', i),
      '${version}', 0.01, i % 40, i % 2, (i % 7) / 7.0, 0.001 * (i % 13)
      from range(${from}, ${from + count}) r(i)`),
  )
  db.close()
}

const { dir, done } = benchDir('results-merge')
try {
  const base = join(dir, 'base.db')
  const exp = join(dir, 'exp.db')
  makeSqlite(base, 0, BASE_ROWS, 'e1')
  makeSqlite(exp, BASE_ROWS - OVERLAP, EXP_ROWS, 'e2')

  const floorCopy = join(dir, 'floor.db')
  copyFileSync(base, floorCopy)
  const floor = await measure(async () => {
    const db = openSqlite(floorCopy)
    db.prepare('attach database ? as exp').run(exp)
    db.exec('begin immediate')
    const n = db
      .prepare('insert or ignore into main.predictions select * from exp.predictions')
      .run()
    db.exec('commit')
    db.close()
    if (n.changes !== EXP_ROWS - OVERLAP) throw new Error(`floor inserted ${n.changes}`)
  })

  const subject = join(dir, 'subject.db')
  copyFileSync(base, subject)
  const merged = await measure(async () => {
    const r = await mergeResults({ base: subject, exp })
    if (r.rowsInserted !== EXP_ROWS - OVERLAP) throw new Error(`merge inserted ${r.rowsInserted}`)
  })
  const floorLabel = 'SQLite INSERT OR IGNORE into the primary key'
  report(
    'results merge SQLite 1M+200k in place',
    merged,
    { label: floorLabel, m: floor },
    { ratio: 1.2 },
  )

  const out = join(dir, 'out.db')
  const withOutput = await measure(() => mergeResults({ base, exp, output: out }))
  const copyThenFloor = await measure(async () => {
    const target = join(dir, 'floor2.db')
    copyFileSync(base, target)
    const db = openSqlite(target)
    db.prepare('attach database ? as exp').run(exp)
    db.exec('begin immediate')
    db.prepare('insert or ignore into main.predictions select * from exp.predictions').run()
    db.exec('commit')
    db.close()
  })
  report('results merge SQLite --output', withOutput, {
    label: 'file copy + INSERT OR IGNORE',
    m: copyThenFloor,
  })

  const key = join(dir, 'key.db')
  copyFileSync(base, key)
  const byVersion = await measure(() =>
    mergeResults({ base: key, exp, key: ['track_id', 'input_id', 'lr'] }),
  )
  report('results merge SQLite --key without an index (scratch index)', byVersion, {
    label: floorLabel,
    m: floor,
  })

  const rebased = join(dir, 'rebase.db')
  copyFileSync(base, rebased)
  const rebase = await measure(() =>
    import('../src/index.js').then((m) =>
      m.rebaseResults({ base: rebased, exp, key: ['track_id', 'timestamp'] }),
    ),
  )
  report('results rebase SQLite on the primary key', rebase, { label: floorLabel, m: floor })

  const dbase = join(dir, 'base.duckdb')
  const dexp = join(dir, 'exp.duckdb')
  await makeDuckDb(dbase, 0, BASE_ROWS, 'e1')
  await makeDuckDb(dexp, BASE_ROWS - OVERLAP, EXP_ROWS, 'e2')
  const dfloorCopy = join(dir, 'floor.duckdb')
  copyFileSync(dbase, dfloorCopy)
  const dfloor = await measure(async () => {
    const db = await DuckDb.open()
    await db.run(raw(`attach '${dfloorCopy}' as base`))
    await db.run(raw(`attach '${dexp}' as exp (read_only)`))
    await db.transaction(() =>
      db.run(raw('insert or ignore into base.predictions select * from exp.predictions')),
    )
    await db.run(raw('checkpoint base'))
    db.close()
  })
  const dsubject = join(dir, 'subject.duckdb')
  copyFileSync(dbase, dsubject)
  const dmerged = await measure(async () => {
    const r = await mergeResults({ base: dsubject, exp: dexp })
    if (r.rowsInserted !== EXP_ROWS - OVERLAP) throw new Error(`merge inserted ${r.rowsInserted}`)
  })
  report('results merge DuckDB 1M+200k in place', dmerged, {
    label: 'DuckDB INSERT OR IGNORE into the primary key',
    m: dfloor,
  })
} finally {
  done()
}
