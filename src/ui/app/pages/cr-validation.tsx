import type { ComponentChildren } from 'preact'
import { ApiError, get, type Json, listOf } from '../api'
import { ErrorText, Loading, RowsTable, useAsync } from '../components'

/** The last merge attempt's rule results (validation.json), beside the dataset's rules. */
export function ValidationTab({ id, did }: { id: string; did: string }) {
  const result = useAsync(
    async (signal) => {
      try {
        return await get(`change_requests/${encodeURIComponent(id)}/audit/validation.json`, signal)
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null
        throw err
      }
    },
    [id],
  )
  const rules = useAsync(
    (signal) => get(`datasets/${encodeURIComponent(did)}/validation-rules`, signal),
    [did],
  )
  const results = listOf<Json>(result.data, 'results')
  return (
    <div>
      <ErrorText error={result.error} />
      {result.loading && !result.data && <Loading what="validation results" />}
      {result.data === null && (
        <p class="muted">No merge has been attempted yet, so no rule has run.</p>
      )}
      {results.length > 0 && (
        <>
          <p data-testid="validation-outcome">
            {result.data?.success ? 'Every error rule passed' : 'Some error rules failed'} on the
            merged preview.
          </p>
          <div class="scroll">
            {/* At phone widths the rows stack, each cell under its column's name (style.css). */}
            <table data-testid="validation" class="stack">
              <thead>
                <tr>
                  {COLUMNS.map((c) => (
                    <th key={c} scope="col">
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {results.map((r) => {
                  const outcome = r.success ? 'pass' : r.severity === 'warn' ? 'warn' : 'fail'
                  const sample = Array.isArray(r.sample) ? (r.sample as Json[]) : []
                  return (
                    <tr key={String(r.name)} class={outcome}>
                      <Cell label="Rule">{String(r.name)}</Cell>
                      <Cell label="Type">{String(r.type)}</Cell>
                      <Cell label="Severity">{String(r.severity)}</Cell>
                      <Cell label="Outcome">
                        <span class={`status ${outcome}`}>{outcome}</span>
                      </Cell>
                      <Cell label="Unexpected">
                        {String(r.unexpected_count ?? 0)} ({percent(r.unexpected_percent)})
                      </Cell>
                      <Cell label="Sample">
                        {sample.slice(0, 5).map((s, i) => (
                          <div key={i}>{JSON.stringify(s)}</div>
                        ))}
                      </Cell>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
      <h3>Rules of the dataset</h3>
      <ErrorText error={rules.error} />
      <RowsTable rows={listOf<Json>(rules.data, 'rules')} testid="rules" />
    </div>
  )
}

const COLUMNS = ['Rule', 'Type', 'Severity', 'Outcome', 'Unexpected', 'Sample'] as const

/** A cell naming its column, which a stacked row shows before the value. */
function Cell(props: { label: (typeof COLUMNS)[number]; children: ComponentChildren }) {
  return <td data-label={props.label}>{props.children}</td>
}

/** A share as people read it: 33.3%, 0.01%, 100% (the exact figure stays in the audit file). */
function percent(value: unknown): string {
  const n = Number(value ?? 0)
  return `${Number.isFinite(n) ? Number(n.toPrecision(3)) : '?'}%`
}
