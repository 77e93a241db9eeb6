/**
 * The three-way rule as a small JS model over rows in memory (Dolt's cell rule, or the row
 * rule), for property tests of the SQL engine (src/merge/three-way.ts) and of change requests.
 * Rows are keyed by one `id` column; a missing row is absent; every row has the same columns.
 */

export type ModelCell = null | number | string
export type ModelRow = { readonly id: number } & Readonly<Record<string, ModelCell>>

export interface ModelConflict {
  readonly id: number
  readonly kind: 'cell' | 'add-add' | 'row' | 'delete-update'
  /** For cell and add-add conflicts. */
  readonly column?: string
}

export interface ModelResult {
  /** The merged rows by id ascending, conflicts taken as `take` (ours when omitted). */
  readonly merged: readonly ModelRow[]
  readonly conflicts: readonly ModelConflict[]
}

const same = (a: ModelCell | undefined, b: ModelCell | undefined) => (a ?? null) === (b ?? null)

function sameRow(a: ModelRow | undefined, b: ModelRow | undefined, columns: readonly string[]) {
  if (a === undefined || b === undefined) return a === b
  return columns.every((c) => same(a[c], b[c]))
}

/**
 * Merges theirs into ours from base.
 *
 * @example
 * threeWayModel([{ id: 1, a: 1 }], [{ id: 1, a: 2 }], [{ id: 1, a: 1 }], ['a']).merged
 * // [{ id: 1, a: 2 }]
 */
export function threeWayModel(
  base: readonly ModelRow[],
  ours: readonly ModelRow[],
  theirs: readonly ModelRow[],
  columns: readonly string[],
  rule: 'cell' | 'row' = 'cell',
  take: 'ours' | 'theirs' = 'ours',
): ModelResult {
  const byId = (rows: readonly ModelRow[]) => new Map(rows.map((r) => [r.id, r]))
  const b = byId(base)
  const o = byId(ours)
  const t = byId(theirs)
  const ids = [...new Set([...b.keys(), ...o.keys(), ...t.keys()])].sort((x, y) => x - y)
  const merged: ModelRow[] = []
  const conflicts: ModelConflict[] = []
  for (const id of ids) {
    const br = b.get(id)
    const or = o.get(id)
    const tr = t.get(id)
    const oursChanged = !sameRow(br, or, columns)
    const theirsChanged = !sameRow(br, tr, columns)
    if (!theirsChanged) {
      if (or) merged.push(or)
      continue
    }
    if (!oursChanged) {
      if (tr) merged.push(tr)
      continue
    }
    if (!or && !tr) continue // deleted on both sides
    if (!or || !tr) {
      conflicts.push({ id, kind: 'delete-update' })
      const kept = take === 'theirs' ? tr : or
      if (kept) merged.push(kept)
      continue
    }
    if (rule === 'row') {
      if (!sameRow(or, tr, columns)) conflicts.push({ id, kind: 'row' })
      merged.push(take === 'theirs' ? tr : or)
      continue
    }
    const row: Record<string, ModelCell> = { id }
    // Added on both sides: base has no value (not even NULL), so differing cells conflict.
    const added = br === undefined
    for (const c of columns) {
      const bc = br?.[c] ?? null
      const oc = or[c] ?? null
      const tc = tr[c] ?? null
      if ((added || (!same(bc, oc) && !same(bc, tc))) && !same(oc, tc)) {
        conflicts.push({ id, kind: added ? 'add-add' : 'cell', column: c })
        row[c] = take === 'theirs' ? tc : oc
      } else row[c] = !added && same(oc, bc) ? tc : oc
    }
    merged.push(row as ModelRow)
  }
  return { merged, conflicts }
}
