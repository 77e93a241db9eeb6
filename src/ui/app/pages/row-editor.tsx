import { useState } from 'preact/hooks'
import { type Json, request } from '../api'
import { ErrorText, plural } from '../components'

type Edit = Record<string, string>

/**
 * Edits a page of rows in place and proposes the edits as a change request: changed cells become
 * upserts of the key plus the changed columns (a missing column means "unchanged"), ticked rows
 * become deletes, added rows become inserts. Values go as typed text (an emptied cell as NULL):
 * the server casts them to the dataset's types and names any that do not convert.
 */
export function RowEditor(props: {
  did: string
  rows: readonly Json[]
  columns: readonly string[]
  keys: readonly string[]
  baseVersion: number
  onCreated(id: string): void
}) {
  const [edits, setEdits] = useState<Record<number, Edit>>({})
  const [deleted, setDeleted] = useState<Record<number, boolean>>({})
  const [added, setAdded] = useState<Edit[]>([])
  const [title, setTitle] = useState('')
  const [error, setError] = useState<unknown>(null)

  const keyOf = (row: Json) => Object.fromEntries(props.keys.map((k) => [k, row[k]]))
  const edited = Object.entries(edits)
    .filter(([i, e]) => !deleted[Number(i)] && Object.keys(e).length > 0)
    .map(([i, e]) => ({ row: props.rows[Number(i)] ?? {}, edit: e }))
  const newRows = added.filter((r) => Object.values(r).some((v) => v !== ''))
  // The service takes upserts that all carry the same columns: every column any edit touches
  // (all of them once a row is added), unchanged cells with the value they have.
  const touched = new Set(
    newRows.length > 0 ? props.columns : edited.flatMap((x) => Object.keys(x.edit)),
  )
  const upsertColumns = props.columns.filter((c) => touched.has(c) && !props.keys.includes(c))
  const upserts = [
    ...edited.map(({ row, edit }) => ({
      ...keyOf(row),
      ...Object.fromEntries(
        upsertColumns.map((c) => [c, c in edit ? typed(edit[c]) : (row[c] ?? null)]),
      ),
    })),
    ...newRows.map((r) => Object.fromEntries(props.columns.map((c) => [c, typed(r[c])]))),
  ]
  const deletes = Object.entries(deleted)
    .filter(([, on]) => on)
    .map(([i]) => keyOf(props.rows[Number(i)] ?? {}))

  async function propose(e: Event) {
    e.preventDefault()
    setError(null)
    try {
      const cr = await request<Json>(
        'POST',
        `datasets/${encodeURIComponent(props.did)}/change_requests`,
        {
          body: { title, base_version: props.baseVersion, upserts, deletes },
        },
      )
      props.onCreated(String(cr.id))
    } catch (err) {
      setError(err)
    }
  }

  const cell = (value: unknown) => (value === null || value === undefined ? '' : String(value))
  return (
    <form onSubmit={propose}>
      <div class="scroll">
        <table data-testid="row-editor" class="editor">
          <thead>
            <tr>
              <th scope="col">Delete</th>
              {props.columns.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.rows.map((row, i) => (
              <tr key={i} class={deleted[i] ? 'deleted' : ''}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Delete row ${i + 1}`}
                    checked={Boolean(deleted[i])}
                    onChange={(e) => setDeleted({ ...deleted, [i]: e.currentTarget.checked })}
                  />
                </td>
                {props.columns.map((c) => {
                  const isKey = props.keys.includes(c)
                  const edited = edits[i]?.[c]
                  return (
                    <td key={c} class={edited !== undefined ? 'edited' : ''}>
                      {isKey ? (
                        cell(row[c])
                      ) : (
                        <input
                          aria-label={`${c} of row ${i + 1}`}
                          value={edited ?? cell(row[c])}
                          onInput={(e) =>
                            setEdits({ ...edits, [i]: { ...edits[i], [c]: e.currentTarget.value } })
                          }
                        />
                      )}
                    </td>
                  )
                })}
              </tr>
            ))}
            {added.map((row, j) => (
              <tr key={`new-${j}`} class="added">
                <td>new</td>
                {props.columns.map((c) => (
                  <td key={c}>
                    <input
                      aria-label={`${c} of new row ${j + 1}`}
                      value={row[c] ?? ''}
                      onInput={(e) =>
                        setAdded(
                          added.map((r, k) => (k === j ? { ...r, [c]: e.currentTarget.value } : r)),
                        )
                      }
                    />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="inline">
        <button type="button" onClick={() => setAdded([...added, {}])}>
          Add row
        </button>
        <label>
          Title
          <input value={title} onInput={(e) => setTitle(e.currentTarget.value)} required />
        </label>
        <button type="submit" disabled={upserts.length + deletes.length === 0}>
          Propose {plural(upserts.length, 'upsert')} and {plural(deletes.length, 'delete')}
        </button>
      </div>
      <ErrorText error={error} />
    </form>
  )
}

/** A typed cell: an emptied one is NULL (the server casts the rest to the column's type). */
function typed(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value
}
