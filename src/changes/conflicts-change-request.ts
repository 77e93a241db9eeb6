/**
 * The conflicts merging a change request now would meet: the keyed three-way comparison of
 * merge/three-way.ts (base = dataset@base_version, ours = head, theirs = base with the patch
 * applied) over the keys the change touches only (change-sides.ts). Counts are exact and
 * computed in SQL; items are listed up to a limit, grouped by key.
 */
import { DuckmergeError } from '../errors.js'
import { threeWayMerge } from '../merge/three-way.js'
import type { Cell, Conflict, MergeRule, Row } from '../merge/three-way-types.js'
import { getChangeRequest } from './change-requests.js'
import { ChangeSides } from './change-sides.js'
import type { DataRoot } from './data-root.js'

/**
 * - `cell`: both sides changed a cell of a base row differently (cell rule);
 * - `row`: both sides changed a row differently (row rule);
 * - `delete-update`: ours (the head) deleted a row the change request updates;
 * - `update-delete`: the change request deletes a row ours updated;
 * - `insert-insert`: both added the same key with different values;
 * - `column-type`: both added a column, with different types.
 */
export type ChangeConflictKind =
  | 'cell'
  | 'row'
  | 'delete-update'
  | 'update-delete'
  | 'insert-insert'
  | 'column-type'

export interface ConflictCell {
  readonly column: string
  readonly base: Cell
  readonly ours: Cell
  readonly theirs: Cell
}

export interface ChangeConflictItem {
  /** Null for `column-type`. */
  readonly key: Readonly<Record<string, Cell>> | null
  readonly kind: ChangeConflictKind
  /** The cells in conflict (for `column-type`: the column's types). */
  readonly cells: readonly ConflictCell[]
  /** Whole rows, for `delete-update` and `update-delete` (null on the side without it). */
  readonly base?: Row | null
  readonly ours?: Row | null
  readonly theirs?: Row | null
}

export interface ChangeRequestConflicts {
  readonly cr_id: string
  readonly dataset: string
  readonly base_version: number
  readonly main_version: number
  readonly rule: MergeRule
  readonly summary: {
    /** Keys in conflict. */
    readonly rows: number
    readonly cells: number
    readonly by_kind: Readonly<Record<ChangeConflictKind, number>>
  }
  readonly items: readonly ChangeConflictItem[]
  /** Whether more conflicts exist than the items list. */
  readonly truncated: boolean
}

export interface ConflictsOptions {
  /** Default: the dataset's rule. */
  readonly rule?: MergeRule
  /** Conflicts listed (cells or keys), default 1000; the summary counts them all. */
  readonly limit?: number
}

/**
 * @example
 * const { summary, items } = await conflictsOfChangeRequest(root, 'cr_8k2m4q7w1z9x3c5v')
 * items[0] // { key: { id: 7 }, kind: 'cell', cells: [{ column: 'price', base: 10, ours: 11, theirs: 12 }] }
 */
export async function conflictsOfChangeRequest(
  root: DataRoot,
  crId: string,
  options: ConflictsOptions = {},
): Promise<ChangeRequestConflicts> {
  const limit = options.limit ?? 1000
  if (!Number.isInteger(limit) || limit < 0)
    throw new DuckmergeError('USAGE', `A conflict listing holds 0 or more items, not ${limit}.`, {
      limit,
      hint: 'Choose {limit} of 0 or more.',
    })
  const cr = await getChangeRequest(root, crId)
  const sides = await ChangeSides.open(root, cr)
  try {
    const rule = options.rule ?? sides.dataset.conflictRule
    // Only keys both sides changed can conflict: the merge engine sees those alone.
    const loaded = await sides.load({ withOurs: true, oursChanged: true })
    const { plan, conflicts } = await threeWayMerge({
      connection: sides.connection,
      table: sides.dataset.name,
      base: loaded.base,
      ours: loaded.ours as NonNullable<typeof loaded.ours>,
      theirs: loaded.theirs,
      key: sides.key,
      rule,
      conflictLimit: limit,
    })
    try {
      const counts = await plan.countConflicts()
      const byKind: Record<ChangeConflictKind, number> = {
        cell: counts.byKind.cell,
        row: counts.byKind.row,
        'delete-update': counts.deletedInOurs,
        'update-delete': counts.byKind['delete-update'] - counts.deletedInOurs,
        'insert-insert': counts.byKind['add-add'],
        'column-type': counts.byKind['column-type'],
      }
      const total = Object.values(counts.byKind).reduce((a, b) => a + b, 0)
      return {
        cr_id: cr.id,
        dataset: sides.dataset.name,
        base_version: sides.base.version,
        main_version: sides.head.version,
        rule,
        summary: { rows: counts.keys, cells: counts.cells, by_kind: byKind },
        items: conflictItems(conflicts),
        truncated: total > conflicts.length,
      }
    } finally {
      await plan.dispose()
    }
  } finally {
    sides.close()
  }
}

/**
 * Conflicts as items, one per key (the engine lists cell conflicts one per cell, in key order).
 *
 * @example
 * conflictItems([{ kind: 'cell', table: 't', key: { id: 7 }, column: 'price', base: 10, ours: 11, theirs: 12 }])
 * // [{ key: { id: 7 }, kind: 'cell', cells: [{ column: 'price', base: 10, ours: 11, theirs: 12 }] }]
 */
export function conflictItems(conflicts: readonly Conflict[]): ChangeConflictItem[] {
  const items: ChangeConflictItem[] = []
  let open: { key: string; item: ChangeConflictItem & { cells: ConflictCell[] } } | undefined
  for (const c of conflicts) {
    if (c.kind === 'column-type') {
      items.push({
        key: null,
        kind: 'column-type',
        cells: [{ column: c.column, base: c.base, ours: c.ours, theirs: c.theirs }],
      })
      continue
    }
    if (c.kind === 'delete-update') {
      items.push({
        key: c.key,
        kind: c.deletedIn === 'ours' ? 'delete-update' : 'update-delete',
        cells: [],
        base: c.base,
        ours: c.ours,
        theirs: c.theirs,
      })
      continue
    }
    if (c.kind === 'row') {
      const columns = Object.keys(c.ours).filter((k) => !(k in c.key) && c.ours[k] !== c.theirs[k])
      items.push({
        key: c.key,
        kind: 'row',
        cells: columns.map((column) => ({
          column,
          base: c.base?.[column] ?? null,
          ours: c.ours[column] ?? null,
          theirs: c.theirs[column] ?? null,
        })),
      })
      continue
    }
    const key = JSON.stringify(c.key)
    const cell = { column: c.column, base: c.base, ours: c.ours, theirs: c.theirs }
    if (open?.key === key) {
      open.item.cells.push(cell)
      continue
    }
    const item = {
      key: c.key,
      kind: c.kind === 'add-add' ? ('insert-insert' as const) : ('cell' as const),
      cells: [cell],
    }
    open = { key, item }
    items.push(item)
  }
  return items
}
