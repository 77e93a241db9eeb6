import { get, type Json, listOf } from '../api'
import { ErrorText, Loading, plural, useAsync, Value } from '../components'

export type Take = 'ours' | 'theirs' | 'custom'
export interface Choice {
  readonly take: Take
  /** The typed value, for `custom`. */
  readonly value?: string
}
/** Choices by `JSON(key) + '\u0000' + column` ('' as column for a whole-row conflict). */
export type Resolutions = Readonly<Record<string, Choice>>

interface ConflictCell {
  readonly column: string
  readonly base: unknown
  readonly ours: unknown
  readonly theirs: unknown
}
interface ConflictItem {
  readonly key: Json
  readonly kind: string
  readonly cells?: readonly ConflictCell[]
}

const slot = (key: Json, column: string) => `${JSON.stringify(key)}\u0000${column}`

/**
 * The merge request's `resolutions`, in the engine's words: a side for a whole-row conflict, and
 * per conflicting cell either a side or the typed value. Unchosen cells are left to the merge's
 * other options (and conflict again if none settles them).
 */
export function toRequest(items: readonly ConflictItem[], choices: Resolutions): Json[] {
  const out: Json[] = []
  for (const item of items) {
    const cells = item.cells ?? []
    if (cells.length === 0) {
      const c = choices[slot(item.key, '')]
      if (c && c.take !== 'custom') out.push({ key: item.key, take: c.take })
      continue
    }
    for (const cell of cells) {
      const c = choices[slot(item.key, cell.column)]
      if (!c) continue
      out.push(
        c.take === 'custom'
          ? { key: item.key, column: cell.column, value: c.value ?? null }
          : { key: item.key, column: cell.column, take: c.take },
      )
    }
  }
  return out
}

export function ConflictsTab(props: {
  id: string
  /** Set once merged: there is nothing left to resolve. */
  mergedVersion: number | undefined
  resolutions: Resolutions
  onChange(r: Resolutions): void
  onMerge: (() => void) | undefined
}) {
  const merged = props.mergedVersion !== undefined
  const conflicts = useAsync(
    (signal) =>
      merged
        ? Promise.resolve(null)
        : get(`change_requests/${encodeURIComponent(props.id)}/conflicts?limit=1000`, signal),
    [props.id, merged],
  )
  const items = listOf<ConflictItem>(conflicts.data, 'items')
  const summary = (conflicts.data?.summary ?? {}) as Json
  const set = (key: string, choice: Choice) =>
    props.onChange({ ...props.resolutions, [key]: choice })
  const all = (take: 'ours' | 'theirs') => {
    const next: Record<string, Choice> = {}
    for (const item of items) {
      const cells = item.cells ?? []
      if (cells.length === 0) next[slot(item.key, '')] = { take }
      for (const cell of cells) next[slot(item.key, cell.column)] = { take }
    }
    props.onChange(next)
  }
  // Counted per choice to make (a whole row, or one cell), as the tab's badge counts those made:
  // a row with one of its two cells chosen is not resolved.
  const choices = items.reduce((n, item) => n + Math.max(1, item.cells?.length ?? 0), 0)
  const chosen = toRequest(items, props.resolutions).length
  if (merged)
    return (
      <p data-testid="no-conflicts">
        Merged as version {props.mergedVersion}: nothing is left to resolve.
      </p>
    )
  return (
    <div>
      <ErrorText error={conflicts.error} />
      {!conflicts.data && conflicts.loading && <Loading what="conflicts" />}
      {conflicts.data && items.length === 0 && (
        <p data-testid="no-conflicts">No conflicts with the dataset's current version.</p>
      )}
      {items.length > 0 && (
        <>
          <p data-testid="conflict-summary">
            {plural(summary.rows ?? items.length, 'row')} and {plural(summary.cells, 'cell')}{' '}
            conflict
            {summary.rule ? ` under the ${String(summary.rule)} rule` : ''}. Choose a value for
            each, then merge.
          </p>
          <div class="actions">
            <button type="button" onClick={() => all('ours')}>
              Take ours for all
            </button>
            <button type="button" onClick={() => all('theirs')}>
              Take theirs for all
            </button>
            {props.onMerge && (
              <button type="button" class="primary" onClick={props.onMerge}>
                Merge with {chosen} of {choices} resolved
              </button>
            )}
          </div>
          <div class="scroll">
            <table data-testid="conflicts" class="conflicts">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Column</th>
                  <th scope="col">Base</th>
                  <th scope="col">Ours (main)</th>
                  <th scope="col">Theirs (this change)</th>
                  <th scope="col">Take</th>
                </tr>
              </thead>
              <tbody>
                {items.flatMap((item) => {
                  const cells: readonly (ConflictCell | null)[] = item.cells?.length
                    ? item.cells
                    : [null]
                  return cells.map((cell) => {
                    const column = cell?.column ?? ''
                    const k = slot(item.key, column)
                    const choice = props.resolutions[k]
                    const label = `${Object.values(item.key).map(String).join(', ')}${column ? ` ${column}` : ''}`
                    return (
                      <tr key={k} data-testid="conflict">
                        <td>{Object.values(item.key).map(String).join(', ')}</td>
                        <td>{item.kind}</td>
                        <td>{column || '(row)'}</td>
                        <td>{cell ? <Value value={cell.base} /> : ''}</td>
                        <td>{cell ? <Value value={cell.ours} /> : ''}</td>
                        <td>{cell ? <Value value={cell.theirs} /> : ''}</td>
                        <td>
                          <fieldset class="take">
                            <legend class="sr-only">Value for {label}</legend>
                            {(['ours', 'theirs', ...(cell ? ['custom'] : [])] as Take[]).map(
                              (t) => (
                                <label key={t}>
                                  <input
                                    type="radio"
                                    name={k}
                                    value={t}
                                    checked={choice?.take === t}
                                    onChange={() => set(k, { take: t, value: choice?.value ?? '' })}
                                  />
                                  {t}
                                </label>
                              ),
                            )}
                            {choice?.take === 'custom' && (
                              <input
                                aria-label={`Custom value for ${label}`}
                                value={choice.value ?? ''}
                                onInput={(e) =>
                                  set(k, { take: 'custom', value: e.currentTarget.value })
                                }
                              />
                            )}
                          </fieldset>
                        </td>
                      </tr>
                    )
                  })
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  )
}

/** The loaded conflict items, for the merge modal to turn choices into resolutions. */
export async function loadConflictItems(id: string): Promise<ConflictItem[]> {
  const body = await get(`change_requests/${encodeURIComponent(id)}/conflicts?limit=1000`)
  return listOf<ConflictItem>(body, 'items')
}
