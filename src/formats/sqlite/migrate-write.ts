/**
 * Applies a migration plan: creates each DuckDB table, streams its rows from SQLite through
 * DuckDB's appender, compares fingerprints of both sides, then restructures (MAP, STRUCT) and
 * adds keys and indexes, and finally recreates the views DuckDB can run.
 *
 *   sequence → create table → append rows → fingerprint both sides → nest / struct
 *            → primary key, indexes → (all tables) views
 */
import { createHash } from 'node:crypto'
import type { DuckDb } from '../../engine/duckdb.js'
import { ident, identList, join, literal, raw, type Sql, sql } from '../../engine/sql.js'
import { allSync, type SqliteDb } from '../../engine/sqlite.js'
import { querySqliteInWorker } from '../../engine/sqlite-query-worker.js'
import { iterateRowsSync, type SqliteCell } from '../../engine/sqlite-rows.js'
import { DuckmergeError, messageOf } from '../../errors.js'
import type { ProgressCallback } from '../../progress.js'
import type { ColumnPlan, DeferredCount, IndexPlan, TablePlan } from './migrate-plan.js'
import type { SqliteView } from './migrate-schema.js'
import {
  type Fingerprint,
  sourceFingerprint,
  spell,
  targetFingerprintSql,
  type WriteAs,
} from './migrate-types.js'

type Appender = Awaited<ReturnType<DuckDb['connection']['createAppender']>>

export interface Checksum {
  /** Digest of the per-column fingerprints (non-NULL count, integer residues, text bytes, …). */
  readonly source: string
  readonly target: string
  readonly matches: boolean
}

export interface TableResult {
  /** The plan as written: a deferred plan confirmed by its count, or counted again. */
  readonly plan: TablePlan
  readonly rowsRead: number
  readonly rowsWritten: number
  readonly checksum: Checksum
  /** Rows of the table after nesting (one per key), when nested. */
  readonly nestedRows?: number
  readonly indexes: readonly IndexPlan[]
  readonly primaryKeySkipped?: string
}

export interface ViewResult {
  readonly name: string
  readonly status: 'created' | 'skipped'
  readonly reason?: string
  /** Rows the view returns in SQLite and in DuckDB, compared after creating it. */
  readonly rows?: { readonly source: number; readonly target: number }
}

const yieldEvery = 20_000

/** The digest shown for a table's fingerprints: equal digests, equal figures. */
export function digest(fingerprints: readonly Fingerprint[]): string {
  return createHash('sha256').update(JSON.stringify(fingerprints)).digest('hex').slice(0, 16)
}

export function sourceChecksum(plan: TablePlan): string {
  return digest([[plan.rows], ...plan.columns.map((c) => sourceFingerprint(c, c.stats))])
}

/** Creates, fills and checks one table; throws VALIDATION_FAILED when fingerprints differ. */
export async function writeTable(
  target: DuckDb,
  source: SqliteDb,
  planned: TablePlan,
  sourcePath: string,
  progress: { onProgress?: ProgressCallback | undefined; done: number; total: number },
): Promise<TableResult> {
  const deferred = planned.deferred
  // A deferred plan's count runs in a worker while this thread copies the rows.
  const counting = deferred
    ? querySqliteInWorker(sourcePath, deferred.statsSql).catch(() => [])
    : undefined
  const started = progress.done
  const recount = async () => {
    await dropTable(target, planned)
    progress.done = started
    return writeTable(target, source, (deferred as DeferredCount).count(), sourcePath, progress)
  }
  await createTable(target, planned)
  let copied: Copied
  try {
    copied = await copyRows(target, source, planned, progress)
  } catch (error) {
    // A value of another storage class than declared: count the table, then copy it again.
    if (error instanceof ValueMismatch && deferred) return recount()
    throw error
  }
  const rowsRead = copied.rows
  let plan = planned
  let checked: Checked | undefined
  if (deferred) {
    let settled = deferred.settle((await counting)?.[0], copied.emptyTexts)
    if (settled) checked = await compareChecksums(target, settled)
    if (!settled || !checked?.checksum.matches || settled.rows !== rowsRead) {
      // The worker read the file through its own connection, possibly after a commit this
      // thread's snapshot does not see: count again in the snapshot before concluding.
      const row = allSync<Record<string, unknown>>(source, deferred.statsSql)[0]
      settled = deferred.settle(row, copied.emptyTexts)
      if (!settled) return recount()
      checked = await compareChecksums(target, settled)
    }
    plan = settled
  } else checked = await compareChecksums(target, plan)
  const { checksum, rowsWritten } = checked
  if (!checksum.matches || rowsWritten !== rowsRead || rowsRead !== plan.rows)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Migrating table "${plan.name}" of ${sourcePath} did not reproduce it: ${plan.rows} rows counted, ${rowsRead} read, ${rowsWritten} written; checksum ${checksum.source} in SQLite, ${checksum.target} in DuckDB. Nothing was written.`,
      { path: sourcePath, table: plan.name, checksum },
    )
  const nestedRows = plan.nest ? await nestRows(target, plan) : undefined
  for (const s of plan.structs) await groupStruct(target, plan, s.column, s.fields)
  const primaryKeySkipped = await addPrimaryKey(target, plan)
  const indexes = await addIndexes(target, plan)
  return {
    plan,
    rowsRead,
    rowsWritten,
    checksum,
    ...(nestedRows !== undefined ? { nestedRows } : {}),
    indexes,
    ...(primaryKeySkipped !== undefined ? { primaryKeySkipped } : {}),
  }
}

async function createTable(target: DuckDb, plan: TablePlan): Promise<void> {
  if (plan.sequence)
    await target.run(
      sql`create sequence ${ident(plan.sequence.name)} start with ${raw(String(plan.sequence.start))}`,
    )
  await target.run(
    sql`create table ${ident(plan.name)} (${join(plan.columns.map((c) => columnDefinition(c, plan)))})`,
  )
}

async function dropTable(target: DuckDb, plan: TablePlan): Promise<void> {
  await target.run(sql`drop table ${ident(plan.name)}`)
  if (plan.sequence) await target.run(sql`drop sequence ${ident(plan.sequence.name)}`)
}

/** A value whose storage class the column's type does not take (only deferred plans meet one). */
class ValueMismatch extends Error {}

function mismatch(): never {
  throw new ValueMismatch('a value of another storage class than the column was planned for')
}

function columnDefinition(c: ColumnPlan, plan: TablePlan): Sql {
  // Type names come from the fixed list in migrate-types.ts, never from the source file.
  const parts = [ident(c.name), raw(c.type)]
  if (c.notNull) parts.push(raw('NOT NULL'))
  if (plan.sequence?.column === c.name)
    parts.push(sql`DEFAULT nextval(${literal(plan.sequence.name)})`)
  else if (c.defaultSql !== undefined) parts.push(defaultFor(c))
  return join(parts, ' ')
}

/** The default as DuckDB SQL: literals re-quoted through `literal()`, keywords from a fixed list. */
function defaultFor(c: ColumnPlan): Sql {
  const text = c.defaultSql ?? 'NULL'
  if (text.startsWith("'")) return sql`DEFAULT ${literal(text.slice(1, -1).replaceAll("''", "'"))}`
  return raw(`DEFAULT ${text}`)
}

/**
 * Appends one non-NULL value read from SQLite as the column's plan says. Each case checks the
 * storage class it was planned for (by typeof, cheap): a deferred plan learns the classes only
 * while copying. One function with a switch, so that every value goes through the same call
 * site and function rather than one of several closures.
 */
function appendValue(
  a: Appender,
  writeAs: WriteAs,
  v: Exclude<SqliteCell, null>,
  storage: SqliteCell,
): void {
  switch (writeAs) {
    case 'bigint':
      if (typeof v === 'number' && Number.isSafeInteger(v)) a.appendBigInt(BigInt(v))
      else if (typeof v === 'bigint') a.appendBigInt(v)
      else mismatch()
      return
    case 'double':
      if (typeof v === 'number') a.appendDouble(v)
      else if (typeof v === 'bigint') a.appendDouble(Number(v))
      else mismatch()
      return
    case 'boolean':
      a.appendBoolean(Number(v) === 1)
      return
    case 'varchar':
      if (typeof v === 'string') a.appendVarchar(v)
      else mismatch()
      return
    case 'text-cast':
      a.appendVarchar(String(v))
      return
    case 'mixed-text':
      a.appendVarchar(spell(v, storage))
      return
    case 'blob':
      a.appendBlob(v instanceof Uint8Array ? v : Buffer.from(spell(v, 'text'), 'utf8'))
      return
  }
}

/** What a copy read: its rows, and per column the empty texts (a deferred plan's report). */
interface Copied {
  readonly rows: number
  readonly emptyTexts: readonly number[]
}

async function copyRows(
  target: DuckDb,
  source: SqliteDb,
  plan: TablePlan,
  progress: { onProgress?: ProgressCallback | undefined; done: number; total: number },
): Promise<Copied> {
  const width = plan.columns.length
  const writeAs = plan.columns.map((c) => c.writeAs)
  const mixed = plan.columns.flatMap((c, i) => (c.writeAs === 'mixed-text' ? [i] : []))
  // Storage classes are read only for the columns that need them (mixed text), after the values;
  // the others point at column 0, unused (reading row[-1] for every value, not an array index
  // for V8, made the copy 10-20% slower than the floor's loop).
  const storageAt = plan.columns.map((_, i) => (mixed.includes(i) ? width + mixed.indexOf(i) : 0))
  const select = sql`select ${join([
    identList(plan.columns.map((c) => c.name)),
    ...mixed.map((i) => sql`typeof(${ident(plan.columns[i]?.name ?? '')})`),
  ])} from ${ident(plan.name)}`
  const emptyTexts = plan.columns.map(() => 0)
  const appender = await target.connection.createAppender(plan.name)
  const phase = `migrating ${plan.name}`
  let rows = 0
  try {
    for (const row of iterateRowsSync(source, select, { bigIntegers: plan.readsBigIntegers })) {
      for (let i = 0; i < width; i++) {
        const v = row[i] as SqliteCell
        if (v === null) appender.appendNull()
        else {
          if (v === '') emptyTexts[i] = (emptyTexts[i] as number) + 1
          appendValue(appender, writeAs[i] as WriteAs, v, row[storageAt[i] as number] as SqliteCell)
        }
      }
      appender.endRow()
      rows++
      if (rows % yieldEvery === 0) {
        progress.onProgress?.({
          phase,
          done: progress.done + rows,
          total: progress.total,
          unit: 'rows',
        })
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    appender.closeSync()
  } catch (error) {
    if (error instanceof ValueMismatch) {
      // The table is dropped next; a row left half-appended may make closing fail too.
      try {
        appender.closeSync()
      } catch {
        // Nothing to keep from a table about to be dropped.
      }
      throw error
    }
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot write row ${rows + 1} of table "${plan.name}" to DuckDB: ${messageOf(error)}`,
      { table: plan.name, row: rows + 1 },
      { cause: error },
    )
  }
  progress.done += rows
  progress.onProgress?.({ phase, done: progress.done, total: progress.total, unit: 'rows' })
  return { rows, emptyTexts }
}

interface Checked {
  readonly checksum: Checksum
  /** Rows in the DuckDB table, counted by the same scan. */
  readonly rowsWritten: number
}

/** Fingerprints the DuckDB table in one aggregate scan and compares with the source's. */
async function compareChecksums(target: DuckDb, plan: TablePlan): Promise<Checked> {
  const exprs = plan.columns.flatMap((c) => targetFingerprintSql(c.name, c, c.stats))
  const row = await target.one<Record<string, unknown>>(
    sql`select count(*) as rows, ${raw(exprs.map((e, i) => `${e} as f${i}`).join(', '))} from ${ident(plan.name)}`,
  )
  const values = exprs.map((_, i) => row?.[`f${i}`])
  let k = 0
  const target_ = digest([
    [Number(row?.rows ?? 0)],
    ...plan.columns.map((c) => {
      const source = sourceFingerprint(c, c.stats)
      return source.map((s) => {
        const v = values[k++]
        return typeof s === 'string' ? Number(v).toPrecision(12) : Number(v ?? 0)
      })
    }),
  ])
  const source = sourceChecksum(plan)
  return {
    checksum: { source, target: target_, matches: source === target_ },
    rowsWritten: Number(row?.rows ?? 0),
  }
}

/** Folds (key…, name, value) rows into one row per key with a MAP(name → value) column. */
async function nestRows(target: DuckDb, plan: TablePlan): Promise<number> {
  const nest = plan.nest
  if (!nest) return 0
  const staging = `${plan.name}__rows`
  const keys = identList(nest.key)
  const name = ident(nest.name)
  const value = ident(nest.value)
  await target.run(sql`alter table ${ident(plan.name)} rename to ${ident(staging)}`)
  await target.run(sql`create table ${ident(plan.name)} as
    select ${keys}, map(list(${name} order by ${name}), list(${value} order by ${name})) as ${ident(nest.name === nest.value ? `${nest.name}_map` : `${nest.name}s`)}
    from ${ident(staging)} group by all order by all`)
  const check = await target.one<{ groups: bigint; items: bigint }>(
    sql`select count(*) as groups, coalesce(sum(cardinality(${ident(mapColumn(plan))})), 0) as items from ${ident(plan.name)}`,
  )
  if (Number(check?.items ?? 0) !== plan.rows)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Nesting table "${plan.name}" by ${nest.key.join(', ')} kept ${check?.items} of ${plan.rows} rows: "${nest.name}" repeats within a key.`,
      { table: plan.name },
    )
  await target.run(sql`drop table ${ident(staging)}`)
  return Number(check?.groups ?? 0)
}

/** The MAP column a nested table gets: the name column in plural (`word` → `words`). */
export function mapColumn(plan: TablePlan): string {
  const nest = plan.nest
  if (!nest) return ''
  return nest.name === nest.value ? `${nest.name}_map` : `${nest.name}s`
}

async function groupStruct(
  target: DuckDb,
  plan: TablePlan,
  column: string,
  fields: readonly { field: string; from: string }[],
): Promise<void> {
  const staging = `${plan.name}__flat`
  const grouped = new Set(fields.map((f) => f.from))
  const pack = sql`struct_pack(${join(fields.map((f) => sql`${ident(f.field)} := ${ident(f.from)}`))}) as ${ident(column)}`
  // The STRUCT takes the place of its first field; the other columns keep their order.
  let placed = false
  const select = (await columnsOf(target, plan.name)).flatMap((name) => {
    if (!grouped.has(name)) return [ident(name)]
    if (placed) return []
    placed = true
    return [pack]
  })
  await target.run(sql`alter table ${ident(plan.name)} rename to ${ident(staging)}`)
  await target.run(
    sql`create table ${ident(plan.name)} as select ${join(select)} from ${ident(staging)}`,
  )
  await target.run(sql`drop table ${ident(staging)}`)
}

async function columnsOf(target: DuckDb, table: string): Promise<string[]> {
  return (
    await target.all<{ name: string }>(
      sql`select column_name as name from information_schema.columns where table_name = ${table} order by ordinal_position`,
    )
  ).map((r) => r.name)
}

async function addPrimaryKey(target: DuckDb, plan: TablePlan): Promise<string | undefined> {
  const key = plan.nest ? plan.nest.key : plan.primaryKey
  if (key.length === 0) return undefined
  if (plan.primaryKeySkipped && !plan.nest) return plan.primaryKeySkipped
  try {
    await target.run(sql`alter table ${ident(plan.name)} add primary key (${identList(key)})`)
    return undefined
  } catch (error) {
    return `DuckDB refused it: ${messageOf(error)}`
  }
}

async function addIndexes(target: DuckDb, plan: TablePlan): Promise<IndexPlan[]> {
  const present = new Set(await columnsOf(target, plan.name))
  const out: IndexPlan[] = []
  for (const index of plan.indexes) {
    if (index.skipped) {
      out.push(index)
      continue
    }
    const gone = index.columns.filter((c) => !present.has(c))
    if (gone.length > 0) {
      out.push({ ...index, skipped: `column ${gone.join(', ')} was restructured` })
      continue
    }
    try {
      await target.run(
        sql`create ${raw(index.unique ? 'unique index' : 'index')} ${ident(index.name)} on ${ident(plan.name)} (${identList(index.columns)})`,
      )
      out.push(index)
    } catch (error) {
      out.push({ ...index, skipped: `DuckDB refused it: ${messageOf(error)}` })
    }
  }
  return out
}

/**
 * Recreates views whose SQL DuckDB runs, retrying those that name a view not created yet. The
 * body is the view's own SQL from the source schema (no value of ours is spliced into it); a view
 * that fails is skipped with DuckDB's reason. Row counts of both sides are reported.
 */
export async function writeViews(
  target: DuckDb,
  source: SqliteDb,
  views: readonly SqliteView[],
  countSource: (name: string) => number,
): Promise<ViewResult[]> {
  const results = new Map<string, ViewResult>()
  let pending = [...views]
  let progressed = true
  void source
  while (pending.length > 0 && progressed) {
    progressed = false
    const failed: SqliteView[] = []
    for (const view of pending) {
      try {
        await target.run(sql`create view ${ident(view.name)} as ${raw(view.select)}`)
        const rows = Number(
          (await target.one<{ n: bigint }>(sql`select count(*) as n from ${ident(view.name)}`))
            ?.n ?? 0,
        )
        results.set(view.name, {
          name: view.name,
          status: 'created',
          rows: { source: countSource(view.name), target: rows },
        })
        progressed = true
      } catch (error) {
        await target.run(sql`drop view if exists ${ident(view.name)}`).catch(() => undefined)
        failed.push(view)
        results.set(view.name, {
          name: view.name,
          status: 'skipped',
          reason: `DuckDB cannot run its SQL: ${messageOf(error).split('\n')[0]}`,
        })
      }
    }
    pending = failed
  }
  return views.map((v) => results.get(v.name) as ViewResult)
}
