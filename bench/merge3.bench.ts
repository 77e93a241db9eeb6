/**
 * merge3 on a results database, SQLite then DuckDB: ROWS base rows, CHANGED rows changed per
 * side (ours and theirs change different rows). Floor: the same work by hand in the same engine
 * — copy ours, attach base and theirs, join to find theirs' and ours' changed keys (added,
 * changed, deleted), delete and re-insert theirs' changes — the least any three-way merge can do.
 * Best of RUNS, floor and subject alternating. `ROWS=100000 ENGINES=duckdb tsx
 * bench/merge3.bench.ts` for a quick run of one engine.
 */
import { copyFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDb } from '../src/engine/duckdb.js'
import { literal, raw, sql } from '../src/engine/sql.js'
import { openSqlite } from '../src/engine/sqlite.js'
import { merge3 } from '../src/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

const ROWS = Number(process.env.ROWS ?? 1_000_000)
const CHANGED = Math.round(ROWS / 10)
const RUNS = 3
const ENGINES = (process.env.ENGINES ?? 'sqlite,duckdb').split(',') as ('sqlite' | 'duckdb')[]
const COLUMNS = ['lr', 'input_id', 'prediction', 'accuracy', 'latency']
const KEY = 'track_id, timestamp'

interface Engine {
  readonly label: string
  make(path: string): Promise<void>
  change(path: string, first: number, accuracy: number): Promise<void>
  floor(dir: string, base: string, ours: string, theirs: string): Promise<void>
}

/** Keys added, deleted or changed in `side` against base (the join every merge needs). */
const changedKeys = (side: string) => `select s.track_id, s.timestamp from ${side}.predictions s
    full join base.predictions b on s.track_id = b.track_id and s.timestamp = b.timestamp
    where b.track_id is null or s.track_id is null or ${COLUMNS.map((c) => `s.${c} is distinct from b.${c}`).join(' or ')}`

const sqlite: Engine = {
  label: 'hand-written SQLite joins + delete/insert',
  make: async (path) => make(path),
  change: async (path, first, accuracy) => change(path, first, accuracy),
  floor: async (dir, base, ours, theirs) => floor(dir, base, ours, theirs),
}

const duckdb: Engine = {
  label: 'hand-written DuckDB joins + delete/insert',
  async make(path) {
    const db = await DuckDb.open({ path })
    await db.run(sql`create table predictions (track_id varchar, timestamp varchar, lr double,
      input_id integer, prediction integer, accuracy double, latency double,
      primary key (track_id, timestamp))`)
    await db.run(sql`insert into predictions select 'run-' || (i % 1000),
      '2026-01-01 ' || lpad(i::varchar, 12, '0'), 0.01, i % 40, i % 2, (i % 7) / 7.0,
      0.001 * (i % 13) from range(${ROWS}) t(i)`)
    db.close()
  },
  async change(path, first, accuracy) {
    const db = await DuckDb.open({ path })
    await db.run(sql`update predictions set accuracy = ${accuracy}
      where timestamp >= '2026-01-01 ' || lpad(${first}::varchar, 12, '0')
        and timestamp < '2026-01-01 ' || lpad(${first + CHANGED}::varchar, 12, '0')`)
    await db.run(sql`checkpoint`)
    db.close()
  },
  async floor(dir, base, ours, theirs) {
    const out = join(dir, 'floor.duckdb')
    rmSync(out, { force: true })
    copyFileSync(ours, out)
    const db = await DuckDb.open()
    await db.run(sql`attach ${literal(out)} as main_out`)
    await db.run(sql`attach ${literal(base)} as base (read_only)`)
    await db.run(sql`attach ${literal(theirs)} as theirs (read_only)`)
    await db.run(sql`create temp table t_changed as ${raw(changedKeys('theirs'))}`)
    await db.run(sql`create temp table o_changed as ${raw(changedKeys('main_out'))}`)
    await db.run(sql`begin`)
    await db.run(sql`delete from main_out.predictions p using t_changed t
      where p.track_id = t.track_id and p.timestamp = t.timestamp`)
    await db.run(sql`insert into main_out.predictions select p.* from theirs.predictions p
      semi join t_changed t using (${raw(KEY)})`)
    await db.run(sql`commit`)
    await db.run(sql`checkpoint main_out`)
    db.close()
  },
}

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
  const changed = changedKeys
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
  for (const name of ENGINES) {
    const engine = name === 'duckdb' ? duckdb : sqlite
    const ext = name === 'duckdb' ? 'duckdb' : 'db'
    const base = join(dir, `base.${ext}`)
    const ours = join(dir, `ours.${ext}`)
    const theirs = join(dir, `theirs.${ext}`)
    await engine.make(base)
    copyFileSync(base, ours)
    copyFileSync(base, theirs)
    await engine.change(ours, 0, 0.5)
    await engine.change(theirs, CHANGED, 0.25)
    let best: Measurement | undefined
    let bestFloor: Measurement | undefined
    for (let i = 0; i < RUNS; i++) {
      const f = await measure(() => engine.floor(dir, base, ours, theirs))
      if (!bestFloor || f.ms < bestFloor.ms) bestFloor = f
      const out = join(dir, `merged.${ext}`)
      rmSync(out, { force: true })
      const m = await measure(async () => {
        const r = await merge3({ base, ours, theirs, output: out })
        if (r.hasConflicts) throw new Error('unexpected conflicts')
        const changed = r.tables[0]
        if (changed?.upserts !== CHANGED) throw new Error(`expected ${CHANGED} upserts`)
      })
      if (!best || m.ms < best.ms) best = m
    }
    report(
      `merge3 ${name === 'duckdb' ? 'DuckDB' : 'SQLite'} ${ROWS} rows, ${CHANGED} changed per side`,
      best as Measurement,
      { label: engine.label, m: bestFloor as Measurement },
      { ratio: 2 },
    )
  }
} finally {
  done()
}
