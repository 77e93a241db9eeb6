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
            <table data-testid="validation">
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Type</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Unexpected</th>
                  <th scope="col">Sample</th>
                </tr>
              </thead>
              <tbody>
                {results.map((r) => {
                  const outcome = r.success ? 'pass' : r.severity === 'warn' ? 'warn' : 'fail'
                  const sample = Array.isArray(r.sample) ? (r.sample as Json[]) : []
                  return (
                    <tr key={String(r.name)} class={outcome}>
                      <td>{String(r.name)}</td>
                      <td>{String(r.type)}</td>
                      <td>{String(r.severity)}</td>
                      <td>
                        <span class={`status ${outcome}`}>{outcome}</span>
                      </td>
                      <td>
                        {String(r.unexpected_count ?? 0)} ({percent(r.unexpected_percent)})
                      </td>
                      <td>
                        {sample.slice(0, 5).map((s, i) => (
                          <div key={i}>{JSON.stringify(s)}</div>
                        ))}
                      </td>
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

/** A share as people read it: 33.3%, 0.01%, 100% (the exact figure stays in the audit file). */
function percent(value: unknown): string {
  const n = Number(value ?? 0)
  return `${Number.isFinite(n) ? Number(n.toPrecision(3)) : '?'}%`
}
