/**
 * Merge or rebase of one table, as a plan (counts, nothing written) or applied (same predicates,
 * run as writes). Sees a connection and the two sides' schema names, never a file.
 *
 *   merge:  insert exp rows whose key base lacks            (accumulates)
 *   rebase: delete base rows whose key exp has, insert all   (replaces)
 *
 * Keys match with `is not distinct from`, so NULL matches NULL (both engines accept it; SQLite
 * plans it like `=` and uses an index).
 */
import { absentKeyRows, insertAbsentKeyRows, keyMatch } from '../engine/absent-key.js'
import type { Connection, TableInfo } from '../engine/dialect.js'
import { ident, identList, join, qualified, type Sql, sql } from '../engine/sql.js'
import type { Strategy, TableReport } from './report.js'
import type { SideNames } from './table-key.js'
import type { SchemaPlan } from './table-schema.js'

export interface TableJob {
  readonly connection: Connection
  readonly schemas: SideNames
  readonly strategy: Strategy
  readonly base: TableInfo | undefined
  readonly exp: TableInfo
  readonly key: readonly string[]
  readonly schema: SchemaPlan
}

const sameColumns = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((c) => b.includes(c))

/** True when one of the table's indexes starts with exactly the key columns (in any order). */
function hasKeyIndex(table: TableInfo, key: readonly string[]): boolean {
  const wanted = new Set(key)
  return table.indexes.some(
    (ix) => ix.length >= key.length && ix.slice(0, key.length).every((c) => wanted.has(c)),
  )
}

async function count(connection: Connection, query: Sql): Promise<number> {
  const [row] = await connection.all<{ n: number | bigint }>(query)
  return Number(row?.n ?? 0)
}

/**
 * A relation holding the key columns of `table`, indexed when the engine probes by index: the
 * table itself if an index covers the key, else a scratch copy of its keys with an index (in
 * SQLite's temp schema: base's file is never touched by it). Returns the relation and a cleanup.
 */
async function keyLookup(
  job: TableJob,
  schema: string,
  table: TableInfo,
): Promise<{ relation: Sql; drop: () => Promise<void> }> {
  const { connection, key } = job
  const source = qualified(schema, table.name)
  if (!connection.dialect.probesByIndex || hasKeyIndex(table, key))
    return { relation: source, drop: async () => undefined }
  return scratchKeys(job, '__duckmerge_keys', sql`select distinct ${identList(key)} from ${source}`)
}

/** A scratch table of key rows from `select`, with an index on the key. */
async function scratchKeys(
  job: TableJob,
  name: string,
  select: Sql,
): Promise<{ relation: Sql; drop: () => Promise<void> }> {
  const { connection, key } = job
  const scratch = qualified(connection.dialect.scratchSchema, name)
  await connection.run(sql`drop table if exists ${scratch}`)
  await connection.run(sql`create temp table ${scratch} as ${select}`)
  await connection.run(
    sql`create index ${qualified(connection.dialect.scratchSchema, `${name}_index`)} on ${ident(name)} (${identList(key)})`,
  )
  return {
    relation: scratch,
    drop: async () => void (await connection.run(sql`drop table ${scratch}`)),
  }
}

/**
 * For merge: a relation of keys base holds, enough to tell which exp rows are missing. Base
 * itself when an index covers the key (or the engine hash-joins). Otherwise built from exp's
 * side: exp's distinct keys get an index, base is scanned once against them (CROSS JOIN keeps
 * base as SQLite's outer loop: https://sqlite.org/optoverview.html#crossjoin), and the keys
 * found get an index. Measured at 1M base + 200k exp rows: 1.45 s, against 2.0 s for indexing
 * a copy of all of base's keys.
 */
async function baseKeyLookup(
  job: TableJob,
  base: TableInfo,
): Promise<{ relation: Sql; drop: () => Promise<void> }> {
  const { connection, key, schemas } = job
  const baseTable = qualified(schemas.base, base.name)
  if (!connection.dialect.probesByIndex || hasKeyIndex(base, key))
    return { relation: baseTable, drop: async () => undefined }
  const expKeys = await keyLookup(job, schemas.exp, job.exp)
  const eKey = join(key.map((k) => sql`e.${ident(k)}`))
  const found = await scratchKeys(
    job,
    '__duckmerge_found',
    sql`select distinct ${eKey} from ${baseTable} b cross join ${expKeys.relation} e on ${keyMatch(key, 'b', 'e')}`,
  )
  await expKeys.drop()
  return found
}

/**
 * Runs one table's merge or rebase; with `dryRun` only counts what it would do. The schema
 * changes (applySchema) must already have run when not a dry run.
 *
 * SQL (SQLite probes a key index, DuckDB hash-joins; engine/absent-key.ts):
 *   merge:  insert into base.t (cols) select e.cols from exp.t e
 *             where not exists (select 1 from base.t b where b.k is not distinct from e.k)
 *           (DuckDB: … from exp.t e anti join base.t b on b.k is not distinct from e.k)
 *           or, when the key is a unique index and the dialect prefersConflictSkip (SQLite):
 *           insert … where e.k is not null on conflict (k) do nothing; then the NULL-key rows
 *           through not exists
 *   rebase: delete from base.t as b
 *             where exists (select 1 from <exp keys> e where e.k is not distinct from b.k);
 *           insert into base.t (cols) select cols from exp.t
 *           or, when the key is both sides' primary key and the dialect replacesByPrimaryKey
 *           (DuckDB): insert or replace into base.t (cols) select cols from exp.t
 */
export async function runTable(job: TableJob, dryRun: boolean): Promise<TableReport> {
  const { connection, schemas, base, exp, schema } = job
  const baseTable = qualified(schemas.base, exp.name)
  const expTable = qualified(schemas.exp, exp.name)
  const columns = identList(schema.columns)
  const rowsBefore = base ? await count(connection, sql`select count(*) as n from ${baseTable}`) : 0
  const expRows = await count(connection, sql`select count(*) as n from ${expTable}`)
  const figures = {
    table: exp.name,
    rowsBefore,
    columnsAdded: schema.addColumns.map((c) => c.name),
  }
  const created = schema.create ? { created: true } : {}

  if (job.strategy === 'merge') {
    let inserted = expRows
    if (base) {
      const lookup = await baseKeyLookup(job, base)
      // Exp rows (alias e) whose key the lookup of base's keys (alias b) lacks.
      const absent = {
        dialect: connection.dialect,
        source: expTable,
        target: lookup.relation,
        key: job.key,
        sourceAlias: 'e',
        targetAlias: 'b',
      }
      const insertAbsent = (where?: Sql) =>
        insertAbsentKeyRows({
          ...absent,
          ...(where ? { where } : {}),
          into: baseTable,
          columns: schema.columns,
        })
      if (dryRun)
        inserted = await count(
          connection,
          sql`select count(*) as n from (${absentKeyRows({ ...absent, columns: sql`1 as one` })})`,
        )
      else if (
        connection.dialect.prefersConflictSkip &&
        base.uniqueKeys.some((u) => sameColumns(u, job.key))
      ) {
        // A unique index treats NULLs as distinct, so rows with a NULL key take the NOT EXISTS
        // path to keep NULL matching NULL.
        const anyNull = join(
          job.key.map((k) => sql`e.${ident(k)} is null`),
          ' or ',
        )
        const nullKeys = await count(
          connection,
          sql`select count(*) as n from ${expTable} e where ${anyNull}`,
        )
        inserted = await connection.run(
          sql`insert into ${baseTable} (${columns}) select ${columns} from ${expTable} e where not (${anyNull}) on conflict (${identList(job.key)}) do nothing`,
        )
        if (nullKeys > 0) inserted += await connection.run(insertAbsent(anyNull))
      } else inserted = await connection.run(insertAbsent())
      await lookup.drop()
    } else if (!dryRun) {
      await connection.run(
        sql`insert into ${baseTable} (${columns}) select ${columns} from ${expTable}`,
      )
    }
    return {
      ...figures,
      rowsInserted: inserted,
      rowsReplaced: 0,
      rowsSkipped: expRows - inserted,
      rowsAfter: rowsBefore + inserted,
      ...created,
    }
  }

  if (base && !dryRun && upsertsByKey(job, base)) {
    // One statement replaces matched rows and adds the others; the figures follow from the
    // counts (the primary key holds no duplicate, so each exp row replaces at most one).
    await connection.run(
      sql`insert or replace into ${baseTable} (${columns}) select ${columns} from ${expTable}`,
    )
    const rowsAfter = await count(connection, sql`select count(*) as n from ${baseTable}`)
    const replaced = rowsBefore + expRows - rowsAfter
    return { ...figures, rowsInserted: expRows, rowsReplaced: replaced, rowsSkipped: 0, rowsAfter }
  }
  let replaced = 0
  if (base) {
    const { predicates, drop } = await baseRowsInExp(job, base)
    for (const matched of predicates)
      replaced += dryRun
        ? await count(connection, sql`select count(*) as n from ${baseTable} b where ${matched}`)
        : await connection.run(sql`delete from ${baseTable} as b where ${matched}`)
    await drop()
  }
  if (!dryRun)
    await connection.run(
      sql`insert into ${baseTable} (${columns}) select ${columns} from ${expTable}`,
    )
  return {
    ...figures,
    rowsInserted: expRows,
    rowsReplaced: replaced,
    rowsSkipped: 0,
    rowsAfter: rowsBefore - replaced + expRows,
    ...created,
  }
}

/**
 * True when a rebase may run as one INSERT OR REPLACE: the engine prefers it, the key is the
 * primary key of both sides (so exp holds each key once, never NULL), and exp has every base
 * column (a replaced row keeps no base-only value, as delete + insert would not).
 */
function upsertsByKey(job: TableJob, base: TableInfo): boolean {
  const isPrimary = (t: TableInfo) => sameColumns(t.primaryKey, job.key)
  const inExp = new Set(job.schema.columns)
  return (
    job.connection.dialect.replacesByPrimaryKey &&
    isPrimary(base) &&
    isPrimary(job.exp) &&
    base.columns.every((c) => inExp.has(c.name))
  )
}

/**
 * Disjoint predicates over base rows (alias `b`) whose key exp holds, and their cleanup.
 * With an index on base's key and an engine that probes by index (SQLite), the match is driven
 * by exp's keys through that index (`(k) in (select k from exp.t)`: one probe per exp row, no
 * scan of base; measured ~1.5x faster than scanning base). IN compares with `=`, so rows with a
 * NULL key are matched in a second predicate, only when exp has such keys. Otherwise one
 * `exists` over exp's keys (indexed scratch copy in SQLite, a hash semi-join in DuckDB).
 */
async function baseRowsInExp(
  job: TableJob,
  base: TableInfo,
): Promise<{ predicates: Sql[]; drop: () => Promise<void> }> {
  const { connection, key, schemas } = job
  const expTable = qualified(schemas.exp, job.exp.name)
  const exists = async () => {
    const lookup = await keyLookup(job, schemas.exp, job.exp)
    const match = sql`exists (select 1 from ${lookup.relation} e where ${keyMatch(key, 'e', 'b')})`
    return { match, drop: lookup.drop }
  }
  if (!connection.dialect.probesByIndex || !hasKeyIndex(base, key)) {
    const { match, drop } = await exists()
    return { predicates: [match], drop }
  }
  const baseKey = join(key.map((k) => sql`b.${ident(k)}`))
  const predicates = [sql`(${baseKey}) in (select ${identList(key)} from ${expTable})`]
  const anyNull = (alias: string) =>
    join(
      key.map((k) => sql`${ident(alias)}.${ident(k)} is null`),
      ' or ',
    )
  const nullKeys = await count(
    connection,
    sql`select count(*) as n from ${expTable} e where ${anyNull('e')}`,
  )
  if (nullKeys === 0) return { predicates, drop: async () => undefined }
  const { match, drop } = await exists()
  predicates.push(sql`(${anyNull('b')}) and ${match}`)
  return { predicates, drop }
}
