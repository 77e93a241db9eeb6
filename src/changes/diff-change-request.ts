/**
 * The diff of a change request, in the shape of Dolt's diff stat plus changed rows paged by key:
 * against its base (what it changes: base → theirs) or against main (what merging would change
 * now: head → merged result). Only the keys the change touches are read (change-sides.ts).
 *
 *   summary: every touched key, one full join of before and after (+ the table's row count)
 *   page:    a keyed range scan of the stored diff (diff-cache.ts: every changed row, computed
 *            once per revision and head); the cursor is the last key returned
 */
import { DuckDb } from '../engine/duckdb.js'
import { ident, identList, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import { latestVersion } from '../formats/delta/log-store.js'
import {
  diffCursor,
  diffPageSql,
  diffRowsQuery,
  diffSummary,
  readDiffCursor,
  toDiffRows,
} from '../merge/diff.js'
import { mergedRows, threeWayMerge } from '../merge/three-way.js'
import { relationSql } from '../merge/three-way-sql.js'
import type { AlignedRows, Cell, DiffRow, Relation } from '../merge/three-way-types.js'
import { getChangeRequest } from './change-requests.js'
import { ChangeSides, type LoadedSides, reviewFingerprint } from './change-sides.js'
import type { DataRoot } from './data-root.js'
import { getDatasetById, headFacts } from './datasets.js'
import {
  type DiffCache,
  diffCacheOf,
  diffCacheRelation,
  readDiffCache,
  writeDiffCache,
} from './diff-cache.js'

export type DiffAgainst = 'base' | 'main'
export type DiffKind = DiffRow['kind']

export interface DiffChangeRequestOptions {
  /** `base` (default): what the change request changes; `main`: what merging would change now. */
  readonly against?: DiffAgainst
  /** The summary only, no rows. */
  readonly summaryOnly?: boolean
  /** Rows per page, 1 to 1000; default 100. */
  readonly limit?: number
  /** From the previous page's `page.next_cursor`; the summary is left out (null) then. */
  readonly cursor?: string
  /** Rows of these kinds only. */
  readonly kinds?: readonly DiffKind[]
  /** Rows show the key and these columns only; modified rows are those changing one of them. */
  readonly columns?: readonly string[]
}

export interface ChangeRequestDiffSummary {
  readonly rows_added: number
  readonly rows_deleted: number
  readonly rows_modified: number
  readonly rows_unmodified: number
  /** Every cell of the added rows. */
  readonly cells_added: number
  /** Every cell of the deleted rows. */
  readonly cells_deleted: number
  readonly cells_modified: number
  readonly columns: Readonly<Record<string, { readonly modified: number }>>
  readonly schema_changes: readonly {
    readonly column: string
    readonly change: 'added' | 'dropped'
    readonly type: string
  }[]
  readonly old_row_count: number
  readonly new_row_count: number
}

export interface ChangeRequestDiffRow {
  readonly key: Readonly<Record<string, Cell>>
  readonly kind: DiffKind
  readonly changed: readonly string[]
  readonly before: Readonly<Record<string, Cell>> | null
  readonly after: Readonly<Record<string, Cell>> | null
}

export interface ChangeRequestDiff {
  readonly cr_id: string
  readonly dataset: string
  readonly against: DiffAgainst
  /** The version diffed from: the base version (against base) or the head (against main). */
  readonly from_version: number
  readonly key_columns: readonly string[]
  /** Null on pages after the first (pass no cursor to get it). */
  readonly summary: ChangeRequestDiffSummary | null
  readonly rows: readonly ChangeRequestDiffRow[]
  readonly page: {
    readonly limit: number
    readonly next_cursor: string | null
    readonly has_more: boolean
  }
}

const MAX_LIMIT = 1000

/**
 * The diff of a change request: summary and/or one page of changed rows.
 *
 * @example
 * const first = await diffChangeRequest(root, 'cr_8k2m4q7w1z9x3c5v', { limit: 100 })
 * first.summary?.rows_modified // 200000
 * const next = await diffChangeRequest(root, 'cr_8k2m4q7w1z9x3c5v', { cursor: first.page.next_cursor ?? undefined })
 */
export async function diffChangeRequest(
  root: DataRoot,
  crId: string,
  options: DiffChangeRequestOptions = {},
): Promise<ChangeRequestDiff> {
  const against = options.against ?? 'base'
  const limit = options.limit ?? 100
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new DuckmergeError('USAGE', `A diff page holds 1 to ${MAX_LIMIT} rows, not ${limit}.`, {
      limit,
      hint: `Choose {limit} between 1 and ${MAX_LIMIT}.`,
    })
  const cr = await getChangeRequest(root, crId)
  const dataset = await getDatasetById(root, cr.datasetId)
  const key = dataset.keyColumns
  const known = new Set(dataset.schema.map((c) => c.name))
  for (const c of cr.staged.new_columns) known.add(c.name)
  const unknown = (options.columns ?? []).filter((c) => !known.has(c))
  if (unknown.length > 0)
    throw new DuckmergeError(
      'COLUMN_NOT_FOUND',
      `Dataset "${dataset.name}" has no column ${unknown.map((c) => `"${c}"`).join(', ')} (columns: ${[...known].join(', ')}).`,
      {
        dataset: dataset.name,
        columns: unknown,
        hint: 'Choose {columns} among the dataset’s columns.',
      },
    )
  // Against main the diff is of the head as it is now; against base it never changes.
  const fromVersion = against === 'base' ? cr.baseVersion : await latestVersion(dataset.tablePath)
  const fingerprint = reviewFingerprint(
    cr,
    against,
    against === 'main' ? fromVersion : null,
    options.kinds ?? null,
    options.columns ?? null,
  )
  const after =
    options.cursor === undefined
      ? undefined
      : readDiffCursor(options.cursor, key.length, fingerprint)
  // The sides (a DuckDB with the base and head snapshots) are opened only when needed: a page
  // after a cursor usually reads the stored diff alone.
  let sides: ChangeSides | undefined
  const open = async () => {
    sides ??= await ChangeSides.open(root, cr)
    return sides
  }
  try {
    const summary =
      options.cursor === undefined || options.summaryOnly === true
        ? await summaryOf(await open(), against)
        : null
    const page =
      options.summaryOnly === true
        ? { rows: [], hasMore: false }
        : await pageOf(
            diffCacheOf(root, cr, { against, version: fromVersion, columns: options.columns }),
            open,
            key,
            against,
            fromVersion,
            after,
            limit,
            options,
          )
    const last = page.rows.at(-1)
    return {
      cr_id: cr.id,
      dataset: dataset.name,
      against,
      from_version: fromVersion,
      key_columns: [...key],
      summary,
      rows: page.rows,
      page: {
        limit,
        next_cursor:
          page.hasMore && last
            ? diffCursor(
                key.map((k) => last.key[k] ?? null),
                fingerprint,
              )
            : null,
        has_more: page.hasMore,
      },
    }
  } finally {
    sides?.close()
  }
}

/** The relations to diff for the loaded keys: base → theirs, or ours → merged. */
async function beforeAfter(
  sides: ChangeSides,
  against: DiffAgainst,
  loaded: LoadedSides,
): Promise<{ before: Relation; after: Relation; aligned?: AlignedRows }> {
  if (against === 'base')
    return { before: loaded.base, after: loaded.theirs, aligned: loaded.aligned }
  const ours = loaded.ours as Relation
  const { plan } = await threeWayMerge({
    connection: sides.connection,
    table: sides.dataset.name,
    base: loaded.base,
    ours,
    theirs: loaded.theirs,
    key: sides.key,
    rule: sides.dataset.conflictRule,
    conflictLimit: 0,
  })
  try {
    await sides.db.run(sql`create or replace temp table __cr_merged as ${mergedRows(plan, ours)}`)
  } finally {
    await plan.dispose()
  }
  return { before: ours, after: { schema: 'temp', name: '__cr_merged' } }
}

async function summaryOf(
  sides: ChangeSides,
  against: DiffAgainst,
): Promise<ChangeRequestDiffSummary> {
  const fromSnapshot = against === 'base' ? sides.base : sides.head
  const fromRows = (await headFacts(fromSnapshot, sides.key)).rowCount
  const loaded = await sides.load({ withOurs: against === 'main' })
  const { before, after, aligned } = await beforeAfter(sides, against, loaded)
  const s = await diffSummary({
    connection: sides.connection,
    before,
    after,
    key: sides.key,
    ...(aligned ? { aligned } : {}),
  })
  const beforeCols = await sides.columnsOf(before)
  const afterCols = await sides.columnsOf(after)
  const afterTypes = new Map(afterCols.map((c) => [c.name, c.type]))
  return {
    rows_added: s.rowsAdded,
    rows_deleted: s.rowsDeleted,
    rows_modified: s.rowsModified,
    rows_unmodified: fromRows - s.rowsDeleted - s.rowsModified,
    cells_added: s.rowsAdded * afterCols.length,
    cells_deleted: s.rowsDeleted * beforeCols.length,
    cells_modified: s.cellsModified,
    columns: s.columns,
    schema_changes: [
      ...s.columnsAdded.map((column) => ({
        column,
        change: 'added' as const,
        type: afterTypes.get(column) ?? '',
      })),
      ...s.columnsDeleted.map((column) => ({ column, change: 'dropped' as const, type: '' })),
    ],
    old_row_count: fromRows,
    new_row_count: fromRows + s.rowsAdded - s.rowsDeleted,
  }
}

/**
 * Changed rows after `after`, at most `limit` (+ whether more follow), read from the stored
 * diff (diff-cache.ts), which is computed first when missing: every touched key, once.
 */
async function pageOf(
  cache: DiffCache,
  open: () => Promise<ChangeSides>,
  key: readonly string[],
  against: DiffAgainst,
  fromVersion: number,
  after: readonly Cell[] | undefined,
  limit: number,
  options: DiffChangeRequestOptions,
): Promise<{ rows: ChangeRequestDiffRow[]; hasMore: boolean }> {
  const pageOptions = {
    limit,
    ...(after ? { after } : {}),
    ...(options.kinds ? { kinds: options.kinds } : {}),
  }
  let shape = await readDiffCache(cache)
  let db: DuckDb | undefined
  try {
    if (shape === undefined) {
      const sides = await open()
      // The head moved since the cache was named (a commit just landed): this page is read
      // from the diff itself, nothing stored under the old head's name.
      const stored = against === 'base' || sides.head.version === fromVersion
      const loaded = await sides.load({ withOurs: against === 'main' })
      const { before, after: afterRel, aligned } = await beforeAfter(sides, against, loaded)
      const rows = await diffRowsQuery({
        connection: sides.connection,
        before: await project(sides, before, '__cr_before', options.columns),
        after: await project(sides, afterRel, '__cr_after', options.columns),
        key,
        ...(aligned ? { aligned } : {}),
      })
      if (!stored) {
        const page = await sides.db.all<Record<string, unknown>>(
          diffPageSql(sql`(${rows.query}) d`, key.length, pageOptions),
        )
        return {
          rows: toDiffRows(page.slice(0, limit), key, rows.shape),
          hasMore: page.length > limit,
        }
      }
      await writeDiffCache(sides.db, cache, rows.query, key.length, rows.shape)
      shape = rows.shape
    }
    // The file is sorted by key and read in its order by one thread: the scan stops after the
    // page (measured: one thread, unsorted, is the fastest way to read a page of it).
    db = await DuckDb.open({ preserveInsertionOrder: true, threads: 1 })
    const page = await db.all<Record<string, unknown>>(
      diffPageSql(diffCacheRelation(cache), key.length, { ...pageOptions, inKeyOrder: true }),
    )
    return { rows: toDiffRows(page.slice(0, limit), key, shape), hasMore: page.length > limit }
  } finally {
    db?.close()
  }
}

/** The relation with only the key and `columns` (a view), or itself when no columns are asked. */
async function project(
  sides: ChangeSides,
  relation: Relation,
  name: string,
  columns: readonly string[] | undefined,
): Promise<Relation> {
  if (columns === undefined) return relation
  const has = new Set((await sides.columnsOf(relation)).map((c) => c.name))
  const keep = [...sides.key, ...columns.filter((c) => !sides.key.includes(c) && has.has(c))]
  await sides.db.run(
    sql`create or replace temp view ${ident(name)} as select ${identList(keep)} from ${relationSql(relation)}`,
  )
  return { schema: 'temp', name }
}
