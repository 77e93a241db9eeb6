import { useState } from 'preact/hooks'
import { API, get, type Json, listOf, token } from '../api'
import { ErrorText, Loading, RowsTable, useAsync } from '../components'

/** The audit files (readable here, downloadable as they are) and the change request's events. */
export function AuditTab({ id }: { id: string }) {
  const audit = useAsync(
    (signal) => get(`change_requests/${encodeURIComponent(id)}/audit`, signal),
    [id],
  )
  const [open, setOpen] = useState<string | null>(null)
  const files = listOf<Json | string>(audit.data, 'files').map((f) =>
    typeof f === 'string' ? f : String(f.name),
  )
  const events = listOf<Json>(audit.data, 'events')
  return (
    <div>
      <ErrorText error={audit.error} />
      {audit.loading && !audit.data && <Loading what="the audit trail" />}
      <h3>Files</h3>
      {files.length === 0 ? (
        <p class="muted">No audit files yet: they are written by the first merge attempt.</p>
      ) : (
        <ul class="list" data-testid="audit-files">
          {files.map((f) => (
            <li key={f}>
              <button type="button" class="link" onClick={() => setOpen(open === f ? null : f)}>
                {open === f ? `Hide ${f}` : `Show ${f}`}
              </button>{' '}
              <button type="button" class="link" onClick={() => download(id, f)}>
                Download {f}
              </button>
              {open === f && <AuditFile id={id} name={f} />}
            </li>
          ))}
        </ul>
      )}
      <h3>Events</h3>
      {/* The change request and dataset are this page's: their columns would repeat them. */}
      <RowsTable
        rows={events}
        columns={['at', 'action', 'actor', 'delta_version', 'details']}
        testid="audit-events"
        class="audit"
      />
    </div>
  )
}

function AuditFile({ id, name }: { id: string; name: string }) {
  const file = useAsync(
    (signal) =>
      get(`change_requests/${encodeURIComponent(id)}/audit/${encodeURIComponent(name)}`, signal),
    [id, name],
  )
  return (
    <>
      <ErrorText error={file.error} />
      {file.data && (
        <pre class="json" data-testid="audit-file">
          {JSON.stringify(file.data, null, 2)}
        </pre>
      )}
    </>
  )
}

/** Downloads through fetch (the token is a header, so a plain link would be refused). */
async function download(id: string, name: string): Promise<void> {
  const res = await fetch(
    `${API}/change_requests/${encodeURIComponent(id)}/audit/${encodeURIComponent(name)}`,
    {
      headers: { Authorization: `Bearer ${token() ?? ''}` },
    },
  )
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = `${id}-${name}`
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
