/**
 * The plan of a SQLite → DuckDB migration, computed before anything is written: per table the
 * DuckDB type of each column and why, the key, sequence, indexes and restructurings; views to
 * try; what is skipped and why. `--dry-run` shows exactly this.
 */
import { ident, type Sql, sql } from '../../engine/sql.js'
import { allSync, type SqliteDb } from '../../engine/sqlite.js'
import { DuckmergeError } from '../../errors.js'
import type {
  Skipped,
  SqliteColumn,
  SqliteSchema,
  SqliteTable,
  SqliteView,
} from './migrate-schema.js'
import {
  type ColumnStats,
  type ColumnType,
  chooseColumnType,
  deferredStatsOf,
  deferredStatsSelect,
  exactFingerprintSelect,
  exactOf,
  none,
  quickAffinity,
  quickStatsOf,
  quickStatsSelect,
  registerFingerprintFunctions,
  statsOf,
  statsSelect,
} from './migrate-types.js'

/** `--nest-rows TABLE:KEY_COLS:NAME_COL:VALUE_COL`: one row per item folded into a MAP. */
export interface NestRows {
  readonly table: string
  readonly key: readonly string[]
  readonly name: string
  readonly value: string
}

export interface ColumnPlan extends ColumnType {
  readonly name: string
  readonly declaredType: string
  readonly notNull: boolean
  readonly nulls: number
  readonly emptyTexts: number
  /** DuckDB DEFAULT expression (static SQL we wrote), when the source default translates. */
  readonly defaultSql?: string
  readonly stats: ColumnStats
}

export interface SequencePlan {
  readonly name: string
  readonly column: string
  /** First value handed out after the move: one past the largest id ever used. */
  readonly start: number
}

export interface IndexPlan {
  readonly name: string
  readonly columns: readonly string[]
  readonly unique: boolean
  /** Set when the index is not created, saying why. */
  readonly skipped?: string
}

export interface StructPlan {
  /** The STRUCT column's name: the prefix without its trailing separator. */
  readonly column: string
  readonly fields: readonly { readonly field: string; readonly from: string }[]
}

export interface TablePlan {
  readonly name: string
  readonly rows: number
  readonly columns: readonly ColumnPlan[]
  readonly primaryKey: readonly string[]
  /** Why the source's primary key is not recreated, when it is not. */
  readonly primaryKeySkipped?: string
  readonly sequence?: SequencePlan
  readonly indexes: readonly IndexPlan[]
  readonly nest?: NestRows
  readonly structs: readonly StructPlan[]
  /** Reads with 64-bit integers as bigint (some integer exceeds 2^53). */
  readonly readsBigIntegers: boolean
  /**
   * Set when the columns were not counted before the copy (see `PlanOptions.defer`): the types
   * are the declared ones, to be confirmed by counting while the rows are copied.
   */
  readonly deferred?: DeferredCount
}

/** How a deferred table plan is confirmed, or replaced by a counted one. */
export interface DeferredCount {
  /** The count of the table beside its copy (`deferredStatsSelect`, run in a worker). */
  readonly statsSql: Sql
  /**
   * The plan from the count's row and the copy's empty texts per column, or undefined when it
   * does not confirm the types.
   */
  settle(
    row: Record<string, unknown> | undefined,
    emptyTexts: readonly number[],
  ): TablePlan | undefined
  /** The plan counted the usual way, before any copy. */
  count(): TablePlan
}

export interface MigrationPlan {
  readonly tables: readonly TablePlan[]
  readonly views: readonly SqliteView[]
  readonly skipped: readonly Skipped[]
}

export interface PlanOptions {
  readonly source: string
  /** Only these tables (default: all). */
  readonly tables?: readonly string[] | undefined
  readonly nestRows?: readonly NestRows[] | undefined
  /** Column-name prefixes grouped into a STRUCT per table, e.g. 'metric_'. */
  readonly structs?: readonly string[] | undefined
  /**
   * Plan tables whose columns are declared INTEGER, REAL or TEXT without counting them first:
   * the copy checks each value's storage class and the count runs beside it. For writing runs;
   * a dry run counts first so that its report is complete.
   */
  readonly defer?: boolean
}

/** Plans every table of `schema`: one scan per table counts what each column stores. */
export function planMigration(
  db: SqliteDb,
  schema: SqliteSchema,
  options: PlanOptions,
): MigrationPlan {
  const names = schema.tables.map((t) => t.name)
  const missing = (options.tables ?? []).filter((t) => !names.includes(t))
  if (missing.length > 0)
    throw new DuckmergeError(
      'TABLE_NOT_FOUND',
      `${options.source} has no table ${missing.map((t) => `"${t}"`).join(', ')} (tables: ${names.join(', ') || 'none'}).`,
      { path: options.source, tables: names, hint: 'Choose {tables} from the tables listed.' },
    )
  const chosen = schema.tables.filter(
    (t) => options.tables === undefined || options.tables.includes(t.name),
  )
  const skipped: Skipped[] = [...schema.skipped]
  registerFingerprintFunctions(db)
  for (const n of options.nestRows ?? [])
    if (!chosen.some((t) => t.name === n.table))
      throw new DuckmergeError(
        'TABLE_NOT_FOUND',
        `Cannot nest rows of "${n.table}": ${options.source} has no such table being migrated (tables: ${chosen.map((t) => t.name).join(', ')}).`,
        { path: options.source, table: n.table },
      )
  const tables = chosen.map((t) => {
    const nest = options.nestRows?.find((n) => n.table === t.name)
    const count = () => planTable(db, t, options.source, nest, options.structs ?? [])
    const plan = (options.defer && !nest && deferredPlan(db, t, options, count)) || count()
    for (const fk of t.foreignKeys)
      skipped.push({
        kind: 'foreign-key',
        name: `${t.name}(${fk.columns.join(', ')}) → ${fk.table}(${fk.references.join(', ')})`,
        reason:
          'not recreated: DuckDB checks foreign keys on every write and cannot drop them later; the columns and their values move unchanged',
      })
    for (const c of plan.columns)
      if (c.defaultSql === undefined && sourceColumn(t, c.name)?.defaultSql != null)
        skipped.push({
          kind: 'default',
          name: `${t.name}.${c.name}`,
          reason: `default ${sourceColumn(t, c.name)?.defaultSql} is an expression DuckDB may read differently; not recreated`,
        })
    return plan
  })
  return { tables, views: schema.views, skipped }
}

function sourceColumn(table: SqliteTable, name: string): SqliteColumn | undefined {
  return table.columns.find((c) => c.name === name)
}

function planTable(
  db: SqliteDb,
  table: SqliteTable,
  source: string,
  nest: NestRows | undefined,
  prefixes: readonly string[],
): TablePlan {
  const quick =
    allSync<Record<string, unknown>>(db, quickStatsSelect(table.name, table.columns))[0] ?? {}
  const rows = Number(quick.rows ?? 0)
  const quickStats = table.columns.map((c, i) => quickStatsOf(quick, i, c.declaredType))
  // Columns the quick scan could not settle are counted again, all in one more scan.
  const rest = table.columns.filter((_, i) => quickStats[i] === undefined)
  const full =
    rest.length > 0
      ? (allSync<Record<string, unknown>>(db, statsSelect(table.name, rest))[0] ?? {})
      : {}
  const counted = table.columns.map((c, i) => {
    const stats = quickStats[i] ?? statsOf(full, rest.indexOf(c))
    return { name: c.name, stats, type: chooseColumnType(c.declaredType, stats) }
  })
  // Columns whose counts alone would let a changed value pass are fingerprinted value by value.
  const exactSql = exactFingerprintSelect(table.name, counted)
  const exact = exactSql ? (allSync<Record<string, unknown>>(db, exactSql)[0] ?? {}) : {}
  const stats = counted.map((c, i) => ({ ...c.stats, exact: exactOf(exact, i, c.type) }))
  if (nest) checkNest(table, nest, source)
  return tablePlan(db, table, rows, stats, nest, prefixes)
}

/**
 * The plan of a table whose columns are all declared INTEGER, REAL or TEXT, before counting
 * them: the declared types, confirmed later by `settle` (or replaced by `count`). Undefined when
 * a TEXT column may hold only JSON, which decides its type before the copy.
 */
function deferredPlan(
  db: SqliteDb,
  table: SqliteTable,
  options: PlanOptions,
  count: () => TablePlan,
): TablePlan | undefined {
  if (!table.columns.every((c) => quickAffinity(c.declaredType) !== undefined)) return undefined
  for (const c of table.columns) {
    if (quickAffinity(c.declaredType) !== 'text') continue
    // Usually answered by the first row: a value that cannot start a JSON object or array.
    const plain = allSync(
      db,
      sql`select 1 from ${ident(table.name)} where substr(${ident(c.name)}, 1, 1) not in ('{', '[') limit 1`,
    )
    if (plain.length === 0) return undefined
  }
  const rows = Number(
    allSync<{ n: number }>(db, sql`select count(*) as n from ${ident(table.name)}`)[0]?.n ?? 0,
  )
  const prefixes = options.structs ?? []
  const declared = tablePlan(
    db,
    table,
    rows,
    table.columns.map(() => none),
    undefined,
    prefixes,
  )
  return {
    ...declared,
    deferred: {
      statsSql: deferredStatsSelect(table.name, table.columns),
      count,
      settle(row, emptyTexts) {
        if (row === undefined) return undefined
        const stats = table.columns.map((c, i) =>
          deferredStatsOf(row, i, c.declaredType, emptyTexts[i] ?? 0),
        )
        if (stats.some((s) => s === undefined)) return undefined
        const plan = tablePlan(
          db,
          table,
          Number(row.rows ?? 0),
          stats as ColumnStats[],
          undefined,
          prefixes,
        )
        const same = plan.columns.every((c, i) => c.type === declared.columns[i]?.type)
        return same ? plan : undefined
      },
    },
  }
}

/** A table's plan from what its columns store. */
function tablePlan(
  db: SqliteDb,
  table: SqliteTable,
  rows: number,
  stats: readonly ColumnStats[],
  nest: NestRows | undefined,
  prefixes: readonly string[],
): TablePlan {
  const columns: ColumnPlan[] = table.columns.map((c, i) => {
    const s = stats[i] ?? none
    const chosen = chooseColumnType(c.declaredType, s)
    const defaultSql = translateDefault(c.defaultSql)
    return {
      ...chosen,
      name: c.name,
      declaredType: c.declaredType,
      notNull: c.notNull,
      nulls: rows - s.nonNull,
      emptyTexts: s.emptyTexts,
      ...(defaultSql !== undefined ? { defaultSql } : {}),
      stats: s,
    }
  })
  // SQLite lets NULL into a non-INTEGER primary key (a documented legacy quirk); DuckDB does not.
  const nullKeys = table.primaryKey.filter(
    (k) => (columns.find((c) => c.name === k)?.nulls ?? 0) > 0,
  )
  const primaryKeySkipped =
    nullKeys.length > 0
      ? `key column ${nullKeys.map((k) => `"${k}"`).join(', ')} holds NULLs, which SQLite allows in a primary key and DuckDB does not`
      : undefined
  const alias = table.rowidAlias
  let sequence: SequencePlan | undefined
  if (alias !== undefined) {
    const used = table.autoincrement ? usedIds(db, table.name) : 0
    // The rowid's largest value: SQLite reads it from the end of the table's b-tree.
    const max = Number(
      allSync<{ m: number | null }>(db, sql`select max(rowid) as m from ${ident(table.name)}`)[0]
        ?.m ?? 0,
    )
    sequence = { name: `${table.name}_${alias}_seq`, column: alias, start: Math.max(used, max) + 1 }
  }
  const indexes: IndexPlan[] = table.indexes.map((i) => ({
    name: i.name.startsWith('sqlite_autoindex_')
      ? `${table.name}_${i.columns.join('_')}_key`
      : i.name,
    columns: i.columns,
    unique: i.unique,
    ...(i.unsupported !== undefined ? { skipped: i.unsupported } : {}),
  }))
  const structs = nest ? [] : planStructs(table, prefixes)
  return {
    name: table.name,
    rows,
    columns,
    primaryKey: table.primaryKey,
    ...(primaryKeySkipped !== undefined ? { primaryKeySkipped } : {}),
    ...(sequence !== undefined ? { sequence } : {}),
    indexes,
    ...(nest ? { nest } : {}),
    structs,
    readsBigIntegers: columns.some((c) => c.stats.bigIntegers > 0),
  }
}

/** The largest id AUTOINCREMENT ever handed out (sqlite_sequence remembers deleted ones). */
function usedIds(db: SqliteDb, table: string): number {
  const exists = allSync(
    db,
    sql`select 1 from main.sqlite_schema where name = 'sqlite_sequence'`,
  ).length
  if (exists === 0) return 0
  return Number(
    allSync<{ seq: number }>(db, sql`select seq from main.sqlite_sequence where name = ${table}`)[0]
      ?.seq ?? 0,
  )
}

function checkNest(table: SqliteTable, nest: NestRows, source: string): void {
  const names = table.columns.map((c) => c.name)
  const wanted = [...nest.key, nest.name, nest.value]
  const absent = wanted.filter((c) => !names.includes(c))
  const extra = names.filter((c) => !wanted.includes(c))
  if (absent.length > 0 || extra.length > 0)
    throw new DuckmergeError(
      'COLUMN_NOT_FOUND',
      `Cannot nest rows of "${table.name}" in ${source}: ${absent.length > 0 ? `no column ${absent.map((c) => `"${c}"`).join(', ')}` : `column ${extra.map((c) => `"${c}"`).join(', ')} is neither a key, the name nor the value`} (columns: ${names.join(', ')}).`,
      {
        path: source,
        table: table.name,
        hint: 'Name in {nestRows} every column of the table: TABLE:KEY_COLS:NAME_COL:VALUE_COL.',
      },
    )
}

function planStructs(table: SqliteTable, prefixes: readonly string[]): StructPlan[] {
  const out: StructPlan[] = []
  const keyed = new Set([...table.primaryKey])
  for (const prefix of prefixes) {
    const fields = table.columns
      .filter(
        (c) => c.name.startsWith(prefix) && c.name.length > prefix.length && !keyed.has(c.name),
      )
      .map((c) => ({ field: c.name.slice(prefix.length), from: c.name }))
    const column = prefix.replace(/[_.\-:]+$/, '') || prefix
    if (fields.length >= 2 && !table.columns.some((c) => c.name === column))
      out.push({ column, fields })
  }
  return out
}

/**
 * The DuckDB DEFAULT for a SQLite default, when it is a plain literal both engines read the same
 * way; undefined otherwise (reported as skipped).
 */
export function translateDefault(text: string | null): string | undefined {
  if (text === null) return undefined
  const t = text.trim()
  if (/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t)) return t
  if (/^'([^']|'')*'$/.test(t)) return t
  if (/^(NULL|TRUE|FALSE|CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME)$/i.test(t))
    return t.toUpperCase()
  return undefined
}
