/**
 * Reviewing a change request on a ROWS-row, 10-column dataset: the change updates ROWS/5 rows
 * (spread over the whole key range), deletes ROWS/100 and adds ROWS/20; another change merged
 * meanwhile updates ROWS/1000 rows, half of them also updated by the first (conflicts).
 * - diff summary (against base) vs the floor: one hand-written DuckDB join of the staged patch
 *   with the base files computing the same counts;
 * - conflict check vs the floor: patch joined with base and head files, counting conflicting
 *   keys and cells by hand;
 * - one 100-row page from a cursor in the middle (target ≤ 100 ms; floor: open DuckDB and read
 *   the next 100 base rows from the files), and the first page;
 * - peak RSS (target < 1 GB).
 * Best of RUNS, floor and subject alternating. `ROWS=100000 tsx bench/cr-review.bench.ts` for a
 * quick run; KEEP=1 keeps the data root, ONLY_SETUP=1 stops after building it.
 */
import { join } from 'node:path'
import { createChangeRequest, getChangeRequest } from '../src/changes/change-requests.js'
import { openDataRoot } from '../src/changes/data-root.js'
import { datasetSnapshot } from '../src/changes/dataset-rows.js'
import { createDataset, getDataset } from '../src/changes/datasets.js'
import { mergeChangeRequest } from '../src/changes/merge-change-request.js'
import { DuckDb } from '../src/engine/duckdb.js'
import { literal, raw, sql } from '../src/engine/sql.js'
import { conflictsOfChangeRequest, diffChangeRequest } from '../src/index.js'
import { benchDir, type Measurement, measure, report } from './support.js'

const ROWS = Number(process.env.ROWS ?? 1_000_000)
const RUNS = Number(process.env.RUNS ?? 3)
const ONLY_SETUP = process.env.ONLY_SETUP !== undefined
const COLS = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9']

async function best(
  runs: number,
  subject: () => Promise<unknown>,
  floor?: () => Promise<unknown>,
): Promise<{ m: Measurement; f: Measurement | undefined }> {
  let m: Measurement | undefined
  let f: Measurement | undefined
  for (let i = 0; i < runs; i++) {
    if (floor) {
      const x = await measure(floor)
      if (!f || x.ms < f.ms) f = x
    }
    const y = await measure(subject)
    if (!m || y.ms < m.ms) m = y
  }
  return { m: m as Measurement, f }
}

const { dir, done } = benchDir('cr-review')
const root = await openDataRoot({ root: join(dir, 'root') })
try {
  const db = await DuckDb.open()
  const file = (name: string) => join(dir, name)
  await db.run(
    sql`copy (select i::bigint as id, (i % 1000)::integer as c1, (i * 0.5)::double as c2,
        'name-' || (i % 5000) as c3, date '2020-01-01' + (i % 3000)::integer as c4,
        (i % 7)::bigint as c5, (i % 13)::double as c6, 'tag' || (i % 17) as c7,
        (i % 2 = 0) as c8, (i % 100)::integer as c9
      from range(0, ${ROWS}) r(i)) to ${literal(file('base.parquet'))} (format parquet)`,
  )
  await createDataset(root, { name: 'bench', from: file('base.parquet'), key: ['id'] })
  // The change: updates (c1, and c2 for half of them), deletes, adds.
  await db.run(
    sql`copy (
        select i::bigint as id, (i % 1000 + 1)::integer as c1,
          case when i % 10 = 0 then i * 0.5 + 1 else i * 0.5 end::double as c2, 'upsert' as _op
        from range(0, ${ROWS}) r(i) where i % 5 = 0
        union all select i::bigint, null, null, 'delete' from range(0, ${ROWS}) r(i) where i % 100 = 1
        union all select i::bigint, 1, 1.0, 'upsert' from range(${ROWS}, ${ROWS + ROWS / 20}) r(i)
      ) to ${literal(file('theirs.parquet'))} (format parquet)`,
  )
  await db.run(
    sql`copy (select i::bigint as id, 7::integer as c1 from range(0, ${ROWS}) r(i) where i % 500 = 0)
      to ${literal(file('other.parquet'))} (format parquet)`,
  )
  const cr = await createChangeRequest(root, {
    dataset: 'bench',
    from: file('theirs.parquet'),
    title: 'bench',
  })
  const other = await createChangeRequest(root, {
    dataset: 'bench',
    from: file('other.parquet'),
    title: 'other',
  })
  await mergeChangeRequest(root, other.id)
  const dataset = await getDataset(root, 'bench')
  const base = await datasetSnapshot(dataset, 0)
  const head = await datasetSnapshot(dataset)
  const files = (s: typeof base) =>
    raw(
      `[${s.files.map((f) => `'${join(s.tablePath, f.path).replaceAll("'", "''")}'`).join(', ')}]`,
    )
  const patch = literal(
    join(
      root.path,
      'staging',
      String(dataset.id),
      cr.id,
      `r${(await getChangeRequest(root, cr.id)).revision}.parquet`,
    ),
  )

  // Floor of the summary: the staged patch joined with the base files once, every count.
  const theirs = (c: string) => (c === 'c1' || c === 'c2' ? `coalesce(p.${c}, b.${c})` : `b.${c}`)
  const summaryFloor = async () => {
    const floorDb = await DuckDb.open()
    try {
      await floorDb.all(
        sql`select count(*) filter (where p._op = 'upsert' and b.id is null) as added,
            count(*) filter (where p._op = 'delete' and b.id is not null) as deleted,
            count(*) filter (where p._op = 'upsert' and b.id is not null and (${raw(COLS.map((c) => `b.${c} is distinct from ${theirs(c)}`).join(' or '))})) as modified,
            ${raw(COLS.map((c) => `count(*) filter (where p._op = 'upsert' and b.id is not null and b.${c} is distinct from ${theirs(c)}) as m_${c}`).join(', '))}
          from read_parquet(${patch}) p left join read_parquet(${files(base)}) b on p.id = b.id`,
      )
    } finally {
      floorDb.close()
    }
  }
  // Floor of the conflict check: patch, base and head joined once, conflicting cells counted.
  const conflictFloor = async () => {
    const floorDb = await DuckDb.open()
    try {
      const t = (c: string) => `case when p._op = 'delete' then null else ${theirs(c)} end`
      const cell = (c: string) =>
        `(b.${c} is distinct from o.${c} and b.${c} is distinct from ${t(c)} and o.${c} is distinct from ${t(c)})`
      await floorDb.all(
        sql`select count(*) filter (where ${raw(COLS.map(cell).join(' or '))}) as keys,
            ${raw(COLS.map((c) => `count(*) filter (where ${cell(c)}) as c_${c}`).join(', '))}
          from read_parquet(${patch}) p
          left join read_parquet(${files(base)}) b on p.id = b.id
          left join read_parquet(${files(head)}) o on p.id = o.id`,
      )
    } finally {
      floorDb.close()
    }
  }
  db.close()
  if (ONLY_SETUP) throw new Error('setup only')

  const summary = await best(
    RUNS,
    () => diffChangeRequest(root, cr.id, { summaryOnly: true }),
    summaryFloor,
  )
  const s = (await diffChangeRequest(root, cr.id, { summaryOnly: true })).summary
  process.stdout.write(
    `  summary: ${s?.rows_added} added, ${s?.rows_deleted} deleted, ${s?.rows_modified} modified, ${s?.rows_unmodified} unmodified\n`,
  )
  report(
    `cr diff --summary (${ROWS} rows × 10 columns)`,
    summary.m,
    { label: 'one hand-written DuckDB join, same counts', m: summary.f as Measurement },
    { ratio: 2, rssMb: 1024 },
  )
  const conflicts = await best(RUNS, () => conflictsOfChangeRequest(root, cr.id), conflictFloor)
  const c = await conflictsOfChangeRequest(root, cr.id, { limit: 0 })
  process.stdout.write(`  conflicts: ${c.summary.rows} rows, ${c.summary.cells} cells\n`)
  report(
    'cr conflicts',
    conflicts.m,
    { label: 'hand-written DuckDB joins of patch, base, head', m: conflicts.f as Measurement },
    { ratio: 2, rssMb: 1024 },
  )
  // A cursor in the middle of the key range: follow pages of 1000 until past ROWS/2.
  let cursor: string | null = null
  for (let key = 0; key < ROWS / 2; ) {
    const p = await diffChangeRequest(root, cr.id, {
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    })
    cursor = p.page.next_cursor
    key = Number(p.rows.at(-1)?.key.id ?? ROWS)
  }
  // Floor of a page: open DuckDB, read the next 100 base rows after the middle key from the files.
  const pageFloor = async () => {
    const floorDb = await DuckDb.open()
    try {
      await floorDb.all(
        sql`select * from read_parquet(${files(base)}) where id > ${ROWS / 2} order by id limit 100`,
      )
    } finally {
      floorDb.close()
    }
  }
  const page = await best(
    RUNS,
    () => diffChangeRequest(root, cr.id, { limit: 100, cursor: cursor as string }),
    pageFloor,
  )
  report(
    'cr diff, a 100-row page after a cursor (target ≤ 100 ms)',
    page.m,
    { label: 'open DuckDB, 100 base rows after the key', m: page.f as Measurement },
    { rssMb: 1024 },
  )
  const first = await best(RUNS, () => diffChangeRequest(root, cr.id, { limit: 100 }))
  report('cr diff, the first 100-row page with its summary', first.m, undefined, { rssMb: 1024 })
  const main = await best(1, () =>
    diffChangeRequest(root, cr.id, { against: 'main', summaryOnly: true }),
  )
  report('cr diff --against main --summary', main.m, undefined, { rssMb: 1024 })
} finally {
  await root.close()
  if (process.env.KEEP) process.stdout.write(`kept ${dir}\n`)
  else done()
}
