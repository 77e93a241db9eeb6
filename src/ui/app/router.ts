/**
 * Hash routes, so the server serves one index.html for every page and a reload keeps the place.
 *   #/                          projects
 *   #/projects/:pid             a project's datasets
 *   #/datasets/:did             a dataset (schema, versions, rows, change requests)
 *   #/change-requests/:cr/:tab  a change request (diff | conflicts | validation | audit)
 *   #/experiments               results databases and event stores under the data root
 */
import { useEffect, useState } from 'preact/hooks'

export type Route =
  | { readonly page: 'projects' }
  | { readonly page: 'project'; readonly pid: string }
  | { readonly page: 'dataset'; readonly did: string }
  | { readonly page: 'change-request'; readonly cr: string; readonly tab: CrTab }
  | { readonly page: 'experiments' }

export type CrTab = 'diff' | 'conflicts' | 'validation' | 'audit'
const TABS: readonly CrTab[] = ['diff', 'conflicts', 'validation', 'audit']

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent)
  const [first, id, tab] = parts
  if (first === 'projects' && id) return { page: 'project', pid: id }
  if (first === 'datasets' && id) return { page: 'dataset', did: id }
  if (first === 'change-requests' && id) {
    const t = TABS.find((x) => x === tab) ?? 'diff'
    return { page: 'change-request', cr: id, tab: t }
  }
  if (first === 'experiments') return { page: 'experiments' }
  return { page: 'projects' }
}

export function href(...parts: (string | number)[]): string {
  return `#/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`
}

export function go(...parts: (string | number)[]): void {
  location.hash = href(...parts)
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}
