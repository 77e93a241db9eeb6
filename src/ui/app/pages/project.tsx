import { useState } from 'preact/hooks'
import { get, type Json, listOf, request } from '../api'
import { Crumbs, ErrorText, Loading, useAsync } from '../components'
import { FileDrop } from '../file-drop'
import { go, href } from '../router'

export function ProjectPage({ pid }: { pid: string }) {
  const project = useAsync((signal) => get(`projects/${encodeURIComponent(pid)}`, signal), [pid])
  const role = project.data?.role
  return (
    <section>
      <Crumbs trail={[{ href: href(), label: 'Projects' }]} />
      <h1>{project.data ? String(project.data.name) : 'Project'}</h1>
      {role !== undefined && <p class="muted">Your role: {String(role)}</p>}
      <ErrorText error={project.error} />
      <h2>Datasets</h2>
      {project.loading && !project.data && <Loading what="datasets" />}
      <table data-testid="datasets">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Version</th>
            <th scope="col">Rows</th>
          </tr>
        </thead>
        <tbody>
          {listOf<Json>(project.data, 'datasets').map((d) => (
            <tr key={String(d.id)}>
              <td>
                <a href={href('datasets', String(d.id))}>{String(d.name)}</a>
              </td>
              <td>{String(d.current_version ?? '')}</td>
              <td>{String(d.row_count ?? '')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {(role === undefined || role === 'owner') && <CreateDataset pid={pid} />}
    </section>
  )
}

function CreateDataset({ pid }: { pid: string }) {
  const [name, setName] = useState('')
  const [keys, setKeys] = useState('id')
  const [file, setFile] = useState<File | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  async function submit(e: Event) {
    e.preventDefault()
    if (!file) return
    setBusy(true)
    setError(null)
    const form = new FormData()
    form.set('name', name)
    form.set(
      'primary_keys',
      JSON.stringify(
        keys
          .split(',')
          .map((k) => k.trim())
          .filter(Boolean),
      ),
    )
    form.set('file', file)
    try {
      const d = await request<Json>('POST', `projects/${encodeURIComponent(pid)}/datasets`, {
        body: form,
      })
      go('datasets', String(d.id))
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="panel" onSubmit={submit}>
      <h2>New dataset</h2>
      <label>
        Dataset name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
      </label>
      <label>
        Key columns (comma separated)
        <input value={keys} onInput={(e) => setKeys(e.currentTarget.value)} required />
      </label>
      <FileDrop label="Parquet or CSV file" file={file} onFile={setFile} />
      <button type="submit" disabled={busy || !file}>
        Create dataset
      </button>
      <ErrorText error={error} />
    </form>
  )
}
