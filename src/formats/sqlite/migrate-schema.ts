/**
 * The structure of a SQLite database as a migration needs it: tables with their columns, keys,
 * unique constraints, indexes and foreign keys; views; and what cannot move (virtual tables,
 * triggers), each with the reason.
 */
import { ident, sql } from '../../engine/sql.js'
import { allSync, type SqliteDb } from '../../engine/sqlite.js'

export interface SqliteColumn {
  readonly name: string
  readonly declaredType: string
  readonly notNull: boolean
  /** The default as SQLite stores it: SQL text such as `0`, `'x'`, `CURRENT_TIMESTAMP`. */
  readonly defaultSql: string | null
}

export interface SqliteIndex {
  readonly name: string
  readonly unique: boolean
  readonly columns: readonly string[]
  /** 'u' for a UNIQUE constraint, 'c' for CREATE INDEX (PRIMARY KEY indexes are left out). */
  readonly origin: 'u' | 'c'
  /** Why DuckDB cannot have it (partial or expression index), when it cannot. */
  readonly unsupported?: string
}

export interface SqliteForeignKey {
  readonly columns: readonly string[]
  readonly table: string
  readonly references: readonly string[]
}

export interface SqliteTable {
  readonly name: string
  readonly columns: readonly SqliteColumn[]
  readonly primaryKey: readonly string[]
  /** The INTEGER PRIMARY KEY column that aliases the rowid, if any. */
  readonly rowidAlias?: string
  readonly autoincrement: boolean
  readonly indexes: readonly SqliteIndex[]
  readonly foreignKeys: readonly SqliteForeignKey[]
}

export interface SqliteView {
  readonly name: string
  /** The SELECT after `CREATE VIEW name AS`. */
  readonly select: string
}

export interface Skipped {
  readonly kind: 'table' | 'trigger' | 'index' | 'foreign-key' | 'default'
  readonly name: string
  readonly reason: string
}

export interface SqliteSchema {
  readonly tables: readonly SqliteTable[]
  readonly views: readonly SqliteView[]
  readonly skipped: readonly Skipped[]
}

interface SchemaRow {
  type: string
  name: string
  tbl_name: string
  sql: string | null
}

/**
 * Reads the schema of `db` (main database). `only` limits it to the named tables.
 *
 * @example
 * readSqliteSchema(db).tables.map((t) => t.name) // ['metrics', 'predictions']
 */
export function readSqliteSchema(db: SqliteDb): SqliteSchema {
  const rows = allSync<SchemaRow>(
    db,
    sql`select type, name, tbl_name, sql from main.sqlite_schema
      where substr(name, 1, 7) <> 'sqlite_' order by rowid`,
  )
  const virtual = rows.filter(
    (r) => r.type === 'table' && /^\s*create\s+virtual/i.test(r.sql ?? ''),
  )
  // A virtual table's shadow tables (FTS5's x_data, x_idx, …) belong to it, not to the user.
  const shadows = new Set(
    allSync<{ name: string; type: string }>(db, sql`pragma main.table_list`)
      .filter((r) => r.type === 'shadow')
      .map((r) => r.name),
  )
  const skipped: Skipped[] = virtual.map((r) => ({
    kind: 'table',
    name: r.name,
    reason: 'virtual table (a SQLite module such as FTS5); DuckDB has no equivalent',
  }))
  for (const r of rows.filter((r) => r.type === 'trigger'))
    skipped.push({ kind: 'trigger', name: r.name, reason: 'DuckDB has no triggers' })
  const tables = rows
    .filter((r) => r.type === 'table' && !virtual.includes(r) && !shadows.has(r.name))
    .map((r) => readTable(db, r))
  const views = rows
    .filter((r) => r.type === 'view')
    .map((r) => ({ name: r.name, select: viewSelect(r.sql ?? '') }))
  return { tables, views, skipped }
}

function readTable(db: SqliteDb, row: SchemaRow): SqliteTable {
  const info = allSync<{
    name: string
    type: string
    notnull: number
    dflt_value: string | null
    pk: number
    hidden: number
  }>(db, sql`select * from pragma_table_xinfo(${row.name}, 'main')`)
  // Generated columns (hidden 2 and 3) are computed, not stored: their values still move.
  const columns = info
    .filter((c) => c.hidden !== 1)
    .map((c) => ({
      name: c.name,
      declaredType: c.type,
      notNull: c.notnull === 1,
      defaultSql: c.dflt_value,
    }))
  const primaryKey = info
    .filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((c) => c.name)
  const text = row.sql ?? ''
  const withoutRowid = /\)\s*without\s+rowid\s*;?\s*$/i.test(text)
  const only = info.find((c) => c.pk === 1)
  // https://sqlite.org/lang_createtable.html#rowid: a lone INTEGER (exactly) PRIMARY KEY aliases it.
  const rowidAlias =
    !withoutRowid && primaryKey.length === 1 && only && only.type.toUpperCase() === 'INTEGER'
      ? only.name
      : undefined
  return {
    name: row.name,
    columns,
    primaryKey,
    ...(rowidAlias !== undefined ? { rowidAlias } : {}),
    autoincrement: /\bautoincrement\b/i.test(text),
    indexes: readIndexes(db, row.name),
    foreignKeys: readForeignKeys(db, row.name),
  }
}

function readIndexes(db: SqliteDb, table: string): SqliteIndex[] {
  const list = allSync<{ name: string; unique: number; origin: string; partial: number }>(
    db,
    sql`select * from pragma_index_list(${table}, 'main') order by seq desc`,
  )
  return list
    .filter((i) => i.origin !== 'pk')
    .map((i) => {
      const parts = allSync<{ cid: number; name: string | null; key: number }>(
        db,
        sql`select * from pragma_index_xinfo(${i.name}, 'main') where key = 1 order by seqno`,
      )
      const unsupported =
        i.partial === 1
          ? 'partial index (CREATE INDEX … WHERE); DuckDB indexes whole tables'
          : parts.some((p) => p.cid < 0 || p.name === null)
            ? 'index on an expression; DuckDB indexes columns here'
            : undefined
      return {
        name: i.name,
        unique: i.unique === 1,
        columns: parts.map((p) => p.name ?? ''),
        origin: i.origin === 'u' ? ('u' as const) : ('c' as const),
        ...(unsupported !== undefined ? { unsupported } : {}),
      }
    })
}

function readForeignKeys(db: SqliteDb, table: string): SqliteForeignKey[] {
  const rows = allSync<{ id: number; seq: number; table: string; from: string; to: string | null }>(
    db,
    sql`select * from pragma_foreign_key_list(${table}, 'main') order by id, seq`,
  )
  const byId = new Map<number, { columns: string[]; table: string; references: string[] }>()
  for (const r of rows) {
    const fk = byId.get(r.id) ?? { columns: [], table: r.table, references: [] }
    fk.columns.push(r.from)
    fk.references.push(r.to ?? '')
    byId.set(r.id, fk)
  }
  return [...byId.values()]
}

/** `CREATE VIEW [IF NOT EXISTS] name [(cols)] AS select…` → `select…`. */
function viewSelect(text: string): string {
  const match =
    /^\s*create\s+(?:temp\w*\s+)?view\s+(?:if\s+not\s+exists\s+)?(?:"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|[^\s(]+)\s*(?:\([^)]*\)\s*)?as\s+([\s\S]*?);?\s*$/i.exec(
      text,
    )
  return match?.[1] ?? text
}

/** Number of rows in a table (for progress totals). */
export function countRows(db: SqliteDb, table: string): number {
  return Number(allSync<{ n: number }>(db, sql`select count(*) as n from ${ident(table)}`)[0]?.n)
}
