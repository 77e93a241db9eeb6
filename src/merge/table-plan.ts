/**
 * Merge or rebase of one table, as a plan (counts, nothing written) or applied (same predicates,
 * run as writes). Sees a connection and the two sides' schema names, never a file.
 *
 *   merge:  insert theirs rows whose key ours lacks            (accumulates)
 *   rebase: delete ours rows whose key theirs has, insert all   (replaces)
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
  readonly ours: TableInfo | undefined
  readonly theirs: TableInfo
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
 * SQLite's temp schema: ours' file is never touched by it). Returns the relation and a cleanup.
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
 * For merge: a relation of keys ours holds, enough to tell which theirs rows are missing. Ours
 * itself when an index covers the key (or the engine hash-joins). Otherwise built from theirs'
 * side: theirs' distinct keys get an index, ours is scanned once against them (CROSS JOIN keeps
 * ours as SQLite's outer loop: https://sqlite.org/optoverview.html#crossjoin), and the keys
 * found get an index. Measured at 1M ours + 200k theirs rows: 1.45 s, against 2.0 s for indexing
 * a copy of all of ours' keys.
 */
async function oursKeyLookup(
  job: TableJob,
  ours: TableInfo,
): Promise<{ relation: Sql; drop: () => Promise<void> }> {
  const { connection, key, schemas } = job
  const oursTable = qualified(schemas.ours, ours.name)
  if (!connection.dialect.probesByIndex || hasKeyIndex(ours, key))
    return { relation: oursTable, drop: async () => undefined }
  const theirsKeys = await keyLookup(job, schemas.theirs, job.theirs)
  const eKey = join(key.map((k) => sql`e.${ident(k)}`))
  const found = await scratchKeys(
    job,
    '__duckmerge_found',
    sql`select distinct ${eKey} from ${oursTable} b cross join ${theirsKeys.relation} e on ${keyMatch(key, 'b', 'e')}`,
  )
  await theirsKeys.drop()
  return found
}

/**
 * Runs one table's merge or rebase; with `dryRun` only counts what it would do. The schema
 * changes (applySchema) must already have run when not a dry run.
 *
 * SQL (SQLite probes a key index, DuckDB hash-joins; engine/absent-key.ts):
 *   merge:  insert into ours.t (cols) select e.cols from theirs.t e
 *             where not exists (select 1 from ours.t b where b.k is not distinct from e.k)
 *           (DuckDB: … from theirs.t e anti join ours.t b on b.k is not distinct from e.k)
 *           or, when the key is a unique index and the dialect prefersConflictSkip (SQLite):
 *           insert … where e.k is not null on conflict (k) do nothing; then the NULL-key rows
 *           through not exists
 *   rebase: delete from ours.t as b
 *             where exists (select 1 from <theirs keys> e where e.k is not distinct from b.k);
 *           insert into ours.t (cols) select cols from theirs.t
 *           or, when the key is both sides' primary key and the dialect replacesByPrimaryKey
 *           (DuckDB): insert or replace into ours.t (cols) select cols from theirs.t
 */
export async function runTable(job: TableJob, dryRun: boolean): Promise<TableReport> {
  const { connection, schemas, ours, theirs, schema } = job
  const oursTable = qualified(schemas.ours, theirs.name)
  const theirsTable = qualified(schemas.theirs, theirs.name)
  const columns = identList(schema.columns)
  const rowsBefore = ours ? await count(connection, sql`select count(*) as n from ${oursTable}`) : 0
  const theirsRows = await count(connection, sql`select count(*) as n from ${theirsTable}`)
  const figures = {
    table: theirs.name,
    rowsBefore,
    columnsAdded: schema.addColumns.map((c) => c.name),
  }
  const created = schema.create ? { created: true } : {}

  if (job.strategy === 'merge') {
    let inserted = theirsRows
    if (ours) {
      const lookup = await oursKeyLookup(job, ours)
      // Theirs rows (alias e) whose key the lookup of ours' keys (alias b) lacks.
      const absent = {
        dialect: connection.dialect,
        source: theirsTable,
        target: lookup.relation,
        key: job.key,
        sourceAlias: 'e',
        targetAlias: 'b',
      }
      const insertAbsent = (where?: Sql) =>
        insertAbsentKeyRows({
          ...absent,
          ...(where ? { where } : {}),
          into: oursTable,
          columns: schema.columns,
        })
      if (dryRun)
        inserted = await count(
          connection,
          sql`select count(*) as n from (${absentKeyRows({ ...absent, columns: sql`1 as one` })})`,
        )
      else if (
        connection.dialect.prefersConflictSkip &&
        ours.uniqueKeys.some((u) => sameColumns(u, job.key))
      ) {
        // A unique index treats NULLs as distinct, so rows with a NULL key take the NOT EXISTS
        // path to keep NULL matching NULL.
        const anyNull = join(
          job.key.map((k) => sql`e.${ident(k)} is null`),
          ' or ',
        )
        const nullKeys = await count(
          connection,
          sql`select count(*) as n from ${theirsTable} e where ${anyNull}`,
        )
        inserted = await connection.run(
          sql`insert into ${oursTable} (${columns}) select ${columns} from ${theirsTable} e where not (${anyNull}) on conflict (${identList(job.key)}) do nothing`,
        )
        if (nullKeys > 0) inserted += await connection.run(insertAbsent(anyNull))
      } else inserted = await connection.run(insertAbsent())
      await lookup.drop()
    } else if (!dryRun) {
      await connection.run(
        sql`insert into ${oursTable} (${columns}) select ${columns} from ${theirsTable}`,
      )
    }
    return {
      ...figures,
      rowsInserted: inserted,
      rowsReplaced: 0,
      rowsSkipped: theirsRows - inserted,
      rowsAfter: rowsBefore + inserted,
      ...created,
    }
  }

  if (ours && !dryRun && upsertsByKey(job, ours)) {
    // One statement replaces matched rows and adds the others; the figures follow from the
    // counts (the primary key holds no duplicate, so each theirs row replaces at most one).
    await connection.run(
      sql`insert or replace into ${oursTable} (${columns}) select ${columns} from ${theirsTable}`,
    )
    const rowsAfter = await count(connection, sql`select count(*) as n from ${oursTable}`)
    const replaced = rowsBefore + theirsRows - rowsAfter
    return {
      ...figures,
      rowsInserted: theirsRows,
      rowsReplaced: replaced,
      rowsSkipped: 0,
      rowsAfter,
    }
  }
  let replaced = 0
  if (ours) {
    const { predicates, drop } = await oursRowsInTheirs(job, ours)
    for (const matched of predicates)
      replaced += dryRun
        ? await count(connection, sql`select count(*) as n from ${oursTable} b where ${matched}`)
        : await connection.run(sql`delete from ${oursTable} as b where ${matched}`)
    await drop()
  }
  if (!dryRun)
    await connection.run(
      sql`insert into ${oursTable} (${columns}) select ${columns} from ${theirsTable}`,
    )
  return {
    ...figures,
    rowsInserted: theirsRows,
    rowsReplaced: replaced,
    rowsSkipped: 0,
    rowsAfter: rowsBefore - replaced + theirsRows,
    ...created,
  }
}

/**
 * True when a rebase may run as one INSERT OR REPLACE: the engine prefers it, the key is the
 * primary key of both sides (so theirs holds each key once, never NULL), and theirs has every ours
 * column (a replaced row keeps no ours-only value, as delete + insert would not).
 */
function upsertsByKey(job: TableJob, ours: TableInfo): boolean {
  const isPrimary = (t: TableInfo) => sameColumns(t.primaryKey, job.key)
  const inTheirs = new Set(job.schema.columns)
  return (
    job.connection.dialect.replacesByPrimaryKey &&
    isPrimary(ours) &&
    isPrimary(job.theirs) &&
    ours.columns.every((c) => inTheirs.has(c.name))
  )
}

/**
 * Disjoint predicates over ours rows (alias `b`) whose key theirs holds, and their cleanup.
 * With an index on ours' key and an engine that probes by index (SQLite), the match is driven
 * by theirs' keys through that index (`(k) in (select k from theirs.t)`: one probe per theirs row, no
 * scan of ours; measured ~1.5x faster than scanning ours). IN compares with `=`, so rows with a
 * NULL key are matched in a second predicate, only when theirs has such keys. Otherwise one
 * `exists` over theirs' keys (indexed scratch copy in SQLite, a hash semi-join in DuckDB).
 */
async function oursRowsInTheirs(
  job: TableJob,
  ours: TableInfo,
): Promise<{ predicates: Sql[]; drop: () => Promise<void> }> {
  const { connection, key, schemas } = job
  const theirsTable = qualified(schemas.theirs, job.theirs.name)
  const exists = async () => {
    const lookup = await keyLookup(job, schemas.theirs, job.theirs)
    const match = sql`exists (select 1 from ${lookup.relation} e where ${keyMatch(key, 'e', 'b')})`
    return { match, drop: lookup.drop }
  }
  if (!connection.dialect.probesByIndex || !hasKeyIndex(ours, key)) {
    const { match, drop } = await exists()
    return { predicates: [match], drop }
  }
  const oursKey = join(key.map((k) => sql`b.${ident(k)}`))
  const predicates = [sql`(${oursKey}) in (select ${identList(key)} from ${theirsTable})`]
  const anyNull = (alias: string) =>
    join(
      key.map((k) => sql`${ident(alias)}.${ident(k)} is null`),
      ' or ',
    )
  const nullKeys = await count(
    connection,
    sql`select count(*) as n from ${theirsTable} e where ${anyNull('e')}`,
  )
  if (nullKeys === 0) return { predicates, drop: async () => undefined }
  const { match, drop } = await exists()
  predicates.push(sql`(${anyNull('b')}) and ${match}`)
  return { predicates, drop }
}
