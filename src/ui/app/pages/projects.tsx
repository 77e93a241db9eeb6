import { useState } from 'preact/hooks'
import { get, type Json, listOf, request } from '../api'
import { ErrorText, Loading, useAsync } from '../components'
import { go, href } from '../router'

export function ProjectsPage() {
  const projects = useAsync((signal) => get('projects', signal), [])
  const [name, setName] = useState('')
  const [error, setError] = useState<unknown>(null)
  async function create(e: Event) {
    e.preventDefault()
    setError(null)
    try {
      const p = await request<Json>('POST', 'projects', { body: { name } })
      go('projects', String(p.id))
    } catch (err) {
      setError(err)
    }
  }
  const list = listOf<Json>(projects.data, 'projects')
  return (
    <section>
      <h1>Projects</h1>
      {projects.loading && !projects.data && <Loading what="projects" />}
      <ErrorText error={projects.error} />
      {projects.data && list.length === 0 && (
        <p class="muted">No projects yet: create one below.</p>
      )}
      <ul class="cards" data-testid="projects">
        {list.map((p) => (
          <li key={String(p.id)}>
            <a href={href('projects', String(p.id))}>{String(p.name ?? p.slug ?? p.id)}</a>
            {p.role !== undefined && <span class="badge">{String(p.role)}</span>}
          </li>
        ))}
      </ul>
      <form class="inline" onSubmit={create}>
        <label>
          New project name
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <button type="submit">Create project</button>
      </form>
      <ErrorText error={error} />
    </section>
  )
}
