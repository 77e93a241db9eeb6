/**
 * merge3 on a SQLite results database: ROWS base rows, CHANGED rows changed per side (ours and
 * theirs change different rows, plus a few both change the same way). Floor: the same work by
 * hand in SQLite — copy ours, attach base and theirs, join to find theirs' and ours' changed
 * keys, delete and re-insert theirs' changes — the least any three-way merge can do.
 * Best of RUNS, floor and subject alternating. `ROWS=100000 tsx bench/merge3.bench.ts` for a
 * quick run.
 */
import { copyFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { openSqlite } from '../src/engine/sqlite.js'
import { merge3 } from '../src/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

const ROWS = Number(process.env.ROWS ?? 1_000_000)
const CHANGED = Math.round(ROWS / 10)
const RUNS = 3

function make(path: string): void {
  const db = openSqlite(path, { fileMustExist: false })
  db.exec(`create table predictions (track_id text, timestamp text, lr real, input_id integer,
    prediction integer, accuracy real, latency real, primary key (track_id, timestamp))`)
  db.exec(`insert into predictions with recursive s(i) as
    (select 0 union all select i + 1 from s where i < ${ROWS - 1})
    select 'run-' || (i % 1000), printf('2026-01-01 %012d', i), 0.01, i % 40, i % 2,
      (i % 7) / 7.0, 0.001 * (i % 13) from s`)
  db.close()
}

function change(path: string, first: number, accuracy: number): void {
  const db = openSqlite(path)
  db.prepare(
    `update predictions set accuracy = ? where timestamp >= printf('2026-01-01 %012d', ?)
      and timestamp < printf('2026-01-01 %012d', ?)`,
  ).run(accuracy, first, first + CHANGED)
  db.close()
}

function floor(dir: string, base: string, ours: string, theirs: string): void {
  const out = join(dir, 'floor.db')
  rmSync(out, { force: true })
  copyFileSync(ours, out)
  const db = openSqlite(out)
  db.prepare('attach database ? as base').run(base)
  db.prepare('attach database ? as theirs').run(theirs)
  const cols = ['lr', 'input_id', 'prediction', 'accuracy', 'latency']
  const changed = (side: string) => `select s.track_id, s.timestamp from ${side}.predictions s
    full join base.predictions b on s.track_id = b.track_id and s.timestamp = b.timestamp
    where b.track_id is null or s.track_id is null or ${cols.map((c) => `s.${c} is not b.${c}`).join(' or ')}`
  db.exec('begin')
  db.exec(`create temp table t_changed as ${changed('theirs')}`)
  db.exec(`create temp table o_changed as ${changed('main')}`)
  db.exec(`delete from main.predictions where rowid in (select p.rowid from main.predictions p
    join t_changed t on p.track_id = t.track_id and p.timestamp = t.timestamp)`)
  db.exec(`insert into main.predictions select p.* from theirs.predictions p
    join t_changed t on p.track_id = t.track_id and p.timestamp = t.timestamp`)
  db.exec('commit')
  db.close()
}

const { dir, done } = benchDir('merge3')
try {
  const base = join(dir, 'base.db')
  const ours = join(dir, 'ours.db')
  const theirs = join(dir, 'theirs.db')
  make(base)
  copyFileSync(base, ours)
  copyFileSync(base, theirs)
  change(ours, 0, 0.5)
  change(theirs, CHANGED, 0.25)
  let best: Measurement | undefined
  let bestFloor: Measurement | undefined
  for (let i = 0; i < RUNS; i++) {
    const f = await measure(async () => floor(dir, base, ours, theirs))
    if (!bestFloor || f.ms < bestFloor.ms) bestFloor = f
    const out = join(dir, 'merged.db')
    rmSync(out, { force: true })
    const m = await measure(async () => {
      const r = await merge3({ base, ours, theirs, output: out })
      if (r.hasConflicts) throw new Error('unexpected conflicts')
    })
    if (!best || m.ms < best.ms) best = m
  }
  report(
    `merge3 SQLite ${ROWS} rows, ${CHANGED} changed per side`,
    best as Measurement,
    { label: 'hand-written SQLite joins + delete/insert', m: bestFloor as Measurement },
    { ratio: 2 },
  )
} finally {
  done()
}
