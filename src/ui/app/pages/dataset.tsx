import { useState } from 'preact/hooks'
import { get, type Json, listOf, query, request } from '../api'
import {
  Crumbs,
  ErrorText,
  Loading,
  nameOf,
  nounFor,
  Pager,
  plural,
  RowsTable,
  useAsync,
  usePager,
} from '../components'
import { FileDrop } from '../file-drop'
import { go, href } from '../router'
import { RowEditor } from './row-editor'

const STATUSES = ['pending', 'conflict', 'failed', 'merged', 'closed'] as const

export function DatasetPage({ did }: { did: string }) {
  const path = `datasets/${encodeURIComponent(did)}`
  const dataset = useAsync((signal) => get(path, signal), [did])
  const d = dataset.data
  const pid = d?.project_id === undefined ? undefined : String(d.project_id)
  const project = useAsync(
    async (signal) => (pid === undefined ? undefined : get(`projects/${pid}`, signal)),
    [pid],
  )
  return (
    <section>
      <Crumbs
        trail={[
          { href: href(), label: 'Projects' },
          ...(pid === undefined
            ? []
            : [{ href: href('projects', pid), label: nameOf(project.data) }]),
        ]}
      />
      <h1 data-testid="dataset-name">{d ? String(d.name) : 'Dataset'}</h1>
      <ErrorText error={dataset.error} />
      {!d && dataset.loading && <Loading what="the dataset" />}
      {d && (
        <>
          <p class="facts">
            <span>
              version <strong data-testid="current-version">{String(d.current_version)}</strong>
            </span>
            <span>
              <strong data-testid="row-count">{String(d.row_count)}</strong>{' '}
              {nounFor(d.row_count, 'row')}
            </span>
            <span>key {Array.isArray(d.primary_keys) ? d.primary_keys.join(', ') : ''}</span>
          </p>
          <ChangeRequests did={did} />
          <Rows did={did} dataset={d} onChanged={dataset.reload} />
          <Schema schema={d.schema} />
          <Versions did={did} />
        </>
      )}
    </section>
  )
}

function Schema({ schema }: { schema: unknown }) {
  const cols = Array.isArray(schema) ? (schema as Json[]) : []
  return (
    <details>
      <summary>Schema ({plural(cols.length, 'column')})</summary>
      <RowsTable rows={cols} columns={['name', 'type', 'nullable', 'key']} testid="schema" />
    </details>
  )
}

function Versions({ did }: { did: string }) {
  const versions = useAsync(
    (signal) => get(`datasets/${encodeURIComponent(did)}/versions`, signal),
    [did],
  )
  const list = listOf<Json>(versions.data, 'versions')
  return (
    <details>
      <summary>Version history ({list.length})</summary>
      <ErrorText error={versions.error} />
      <RowsTable
        rows={list}
        columns={['version', 'timestamp', 'operation', 'requested_by', 'cr_id']}
        testid="versions"
      />
    </details>
  )
}

function ChangeRequests({ did }: { did: string }) {
  const [status, setStatus] = useState<string>('pending')
  const crs = useAsync(
    (signal) =>
      get(`datasets/${encodeURIComponent(did)}/change_requests${query({ status })}`, signal),
    [did, status],
  )
  const list = listOf<Json>(crs.data, 'change_requests')
  return (
    <div class="panel">
      <h2>Change requests</h2>
      <fieldset class="tabs">
        <legend class="sr-only">Change requests by status</legend>
        {STATUSES.map((s) => (
          <button
            type="button"
            key={s}
            class={s === status ? 'tab active' : 'tab'}
            aria-pressed={s === status}
            onClick={() => setStatus(s)}
          >
            {s}
          </button>
        ))}
      </fieldset>
      <ErrorText error={crs.error} />
      {list.length === 0 ? (
        <p class="muted">No {status} change requests.</p>
      ) : (
        <ul class="list" data-testid="change-requests">
          {list.map((c) => (
            <li key={String(c.id)}>
              <a href={href('change-requests', String(c.id), 'diff')}>
                #{String(c.number)} {String(c.title)}
              </a>{' '}
              <span class="muted">
                by {String(c.author ?? '?')} on version {String(c.base_version)}
              </span>
            </li>
          ))}
        </ul>
      )}
      <CreateFromFile did={did} />
    </div>
  )
}

function CreateFromFile({ did }: { did: string }) {
  const [title, setTitle] = useState('')
  const [mode, setMode] = useState('patch')
  const [file, setFile] = useState<File | null>(null)
  const [error, setError] = useState<unknown>(null)
  async function submit(e: Event) {
    e.preventDefault()
    if (!file) return
    setError(null)
    const form = new FormData()
    form.set('title', title)
    form.set('mode', mode)
    form.set('file', file)
    try {
      const cr = await request<Json>(
        'POST',
        `datasets/${encodeURIComponent(did)}/change_requests`,
        {
          body: form,
        },
      )
      go('change-requests', String(cr.id), 'diff')
    } catch (err) {
      setError(err)
    }
  }
  return (
    <details>
      <summary>New change request from a file</summary>
      <form onSubmit={submit}>
        <label>
          Title
          <input value={title} onInput={(e) => setTitle(e.currentTarget.value)} required />
        </label>
        <label>
          Mode
          <select value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
            <option value="patch">patch: rows to upsert, _op=delete rows to delete</option>
            <option value="snapshot">snapshot: the whole desired table</option>
          </select>
        </label>
        <FileDrop label="Change file (Parquet or CSV)" file={file} onFile={setFile} />
        <button type="submit" disabled={!file}>
          Create change request
        </button>
        <ErrorText error={error} />
      </form>
    </details>
  )
}

function Rows({ did, dataset, onChanged }: { did: string; dataset: Json; onChanged(): void }) {
  const [version, setVersion] = useState<string>('')
  const [editing, setEditing] = useState(false)
  const pager = usePager([did, version])
  const rows = useAsync(
    (signal) =>
      get(
        `datasets/${encodeURIComponent(did)}/rows${query({ version, limit: 50, cursor: pager.cursor })}`,
        signal,
      ),
    [did, version, pager.cursor],
  )
  const list = listOf<Json>(rows.data, 'rows')
  const page = (rows.data?.page ?? {}) as Json
  const columns = Array.isArray(dataset.schema)
    ? (dataset.schema as Json[]).map((c) => String(c.name))
    : undefined
  const keys = Array.isArray(dataset.primary_keys) ? (dataset.primary_keys as string[]) : []
  return (
    <div class="panel">
      <h2>Rows</h2>
      <div class="inline">
        <label>
          At version
          <input
            type="number"
            min={0}
            max={Number(dataset.current_version)}
            placeholder={`latest (${String(dataset.current_version)})`}
            value={version}
            onInput={(e) => setVersion(e.currentTarget.value)}
          />
        </label>
        {version === '' && (
          <button type="button" onClick={() => setEditing(!editing)}>
            {editing ? 'Stop editing' : 'Edit rows'}
          </button>
        )}
      </div>
      <ErrorText error={rows.error} />
      {editing && columns ? (
        <RowEditor
          did={did}
          rows={list}
          columns={columns}
          keys={keys}
          baseVersion={Number(dataset.current_version)}
          onCreated={(id) => {
            onChanged()
            go('change-requests', id, 'diff')
          }}
        />
      ) : (
        <RowsTable rows={list} {...(columns ? { columns } : {})} testid="rows" />
      )}
      <Pager
        page={pager.page}
        nextCursor={page.next_cursor as string | null | undefined}
        hasMore={Boolean(page.has_more)}
        onNext={pager.next}
        onPrevious={pager.previous}
      />
    </div>
  )
}
