/** The shapes of a three-way merge: relations in, a plan and conflicts out (dolt's vocabulary). */
import type { ColumnInfo, Connection } from '../engine/dialect.js'
import type { Sql } from '../engine/sql.js'

/** A cell value as reports carry it: JSON-safe (BIGINT beyond 2^53 and blobs as strings). */
export type Cell = null | boolean | number | string

/** Key column → value, in key order. */
export type RowKey = Readonly<Record<string, Cell>>

/** A whole row (column → value), or null where the row does not exist on that side. */
export type Row = Readonly<Record<string, Cell>>

/**
 * `cell`: Dolt's rule, a cell conflicts when base ≠ ours, base ≠ theirs and ours ≠ theirs
 * (NULL equals NULL); `row`: any key changed on both sides into different rows.
 */
export type MergeRule = 'cell' | 'row'

export type Side = 'ours' | 'theirs'

/** A table or view in the connection: `schema` is the SQLite schema or DuckDB catalog. */
export interface Relation {
  readonly schema: string
  readonly name: string
  /** Its columns when the caller knows them (skips a catalog lookup). */
  readonly columns?: readonly ColumnInfo[]
}

/**
 * Conflicts are data, discriminated by `kind` (STYLE.md):
 * - `cell`: both sides changed one cell of a base row differently (cell rule);
 * - `add-add`: both sides added the same key with different values in `column` (base is null);
 * - `row`: both sides changed the row differently (row rule; `base/ours/theirs` are rows);
 * - `delete-update`: one side deleted a row the other changed (`deletedIn` says which);
 * - `column-type`: a column has different types on both sides (not from base).
 */
export type Conflict =
  | {
      readonly kind: 'cell' | 'add-add'
      readonly table: string
      readonly key: RowKey
      readonly column: string
      readonly base: Cell
      readonly ours: Cell
      readonly theirs: Cell
    }
  | {
      readonly kind: 'row'
      readonly table: string
      readonly key: RowKey
      readonly base: Row | null
      readonly ours: Row
      readonly theirs: Row
    }
  | {
      readonly kind: 'delete-update'
      readonly table: string
      readonly key: RowKey
      readonly deletedIn: Side
      readonly base: Row | null
      readonly ours: Row | null
      readonly theirs: Row | null
    }
  | {
      readonly kind: 'column-type'
      readonly table: string
      readonly column: string
      readonly base: string | null
      readonly ours: string
      readonly theirs: string
    }

export type ConflictKind = Conflict['kind']

/**
 * How to settle conflicts of one key (no `column`) or one cell: take a side's value, or give
 * the value. `table` may be omitted when only one table is merged.
 */
export type Resolution = {
  readonly table?: string
  readonly key: RowKey
  readonly column?: string
} & ({ readonly take: Side } | { readonly value: Cell })

/** Rows one side changed against base. */
export interface SideCounts {
  readonly added: number
  readonly deleted: number
  readonly changed: number
}

export interface MergedColumn {
  readonly name: string
  readonly type: string
  /** The sides that have it (a column only base has is dropped by both and not merged). */
  readonly in: readonly ('base' | Side)[]
}

export interface ThreeWayOptions {
  readonly connection: Connection
  /** The table's name in conflicts and reports. */
  readonly table: string
  /** Undefined when both sides added the table (every row is an add). */
  readonly base: Relation | undefined
  readonly ours: Relation
  readonly theirs: Relation
  readonly key: readonly string[]
  /** Default 'cell'. */
  readonly rule?: MergeRule
  /** Settles every conflict for one side. */
  readonly take?: Side
  /** Settles given keys or cells; applied after `take`. */
  readonly resolutions?: readonly Resolution[]
  /** Conflicts listed in the result (counts stay exact). Default 1000. */
  readonly conflictLimit?: number
}

/**
 * What merging theirs into ours does to one table, computed before any write. `patch` is a
 * scratch table in the connection holding, per key theirs changed, `__tw_op` ('upsert' | 'delete'
 * | 'keep') and the merged row: applying it to ours gives the merged table.
 */
export interface ThreeWayPlan {
  readonly table: string
  readonly key: readonly string[]
  readonly rule: MergeRule
  readonly columns: readonly MergedColumn[]
  readonly ours: SideCounts
  readonly theirs: SideCounts
  /** Rows the patch writes into ours: upserted (added or replaced) and deleted. */
  readonly upserts: number
  readonly deletes: number
  /** Every conflict found, settled or not. */
  readonly conflictCount: number
  /** Conflicts no `take` or resolution settles: applying is refused while non-zero. */
  readonly unresolved: number
  readonly hasConflicts: boolean
  readonly patch: Relation
  /** Exact conflict counts by kind, counted in SQL (no conflict passes through JS). */
  countConflicts(): Promise<ConflictCounts>
  /** Drops the scratch tables. */
  dispose(): Promise<void>
}

/** Every conflict a plan found (settled or not), counted the way they are listed. */
export interface ConflictCounts {
  /** Keys with a conflict. */
  readonly keys: number
  /** Conflicting cells: flagged cells (`cell`, `add-add`), cells ours and theirs set apart (`row`). */
  readonly cells: number
  /** One per cell (`cell`, `add-add`), per key (`row`, `delete-update`), per column (`column-type`). */
  readonly byKind: Readonly<Record<ConflictKind, number>>
  /** `delete-update` conflicts where ours deleted the row (theirs deleted the others). */
  readonly deletedInOurs: number
}

export interface ThreeWayResult {
  readonly plan: ThreeWayPlan
  /** Unresolved conflicts first, at most `conflictLimit`. */
  readonly conflicts: readonly Conflict[]
}

/** A two-way diff, rows paged by key. */
export interface DiffOptions {
  readonly connection: Connection
  readonly before: Relation
  readonly after: Relation
  readonly key: readonly string[]
  /** Rows per page; default 100. 0 for the summary only. */
  readonly limit?: number
  /** From a previous page's `nextCursor`. */
  readonly cursor?: string
  /** Rows of these kinds only (default all). */
  readonly kinds?: readonly DiffRow['kind'][]
  /**
   * Names the inputs (e.g. a hash of their versions): cursors carry it, and a cursor with
   * another one is refused (INVALID_CURSOR) instead of paging different data.
   */
  readonly fingerprint?: string
  /**
   * Before and after rows already side by side in one relation (one row per key of either
   * side), so no join is needed; `before`/`after` then only give the columns.
   */
  readonly aligned?: AlignedRows
}

/** One relation holding each key's before and after row: expressions over its columns. */
export interface AlignedRows {
  readonly relation: Relation
  /** A before column's value (NULL where before has no row). */
  readonly before: (column: string) => Sql
  readonly after: (column: string) => Sql
  /** True where the side has the row. */
  readonly beforePresent: Sql
  readonly afterPresent: Sql
}

export interface DiffSummary {
  readonly rowsAdded: number
  readonly rowsDeleted: number
  readonly rowsModified: number
  readonly rowsUnmodified: number
  readonly cellsModified: number
  readonly oldRowCount: number
  readonly newRowCount: number
  /** Per column present on both sides: rows whose value changed. */
  readonly columns: Readonly<Record<string, { readonly modified: number }>>
  readonly columnsAdded: readonly string[]
  readonly columnsDeleted: readonly string[]
}

export interface DiffRow {
  readonly key: RowKey
  readonly kind: 'added' | 'deleted' | 'modified'
  /** Columns whose value differs (every column of the row for added/deleted). */
  readonly changed: readonly string[]
  readonly before: Row | null
  readonly after: Row | null
}

export interface DiffPage {
  readonly rows: readonly DiffRow[]
  readonly nextCursor: string | undefined
  readonly hasMore: boolean
}

export interface DiffResult extends DiffPage {
  readonly summary: DiffSummary
}
