import { useRef, useState } from 'preact/hooks'
import { get, type Json, request } from '../api'
import { Crumbs, ErrorText, Loading, nameOf, notify, plural, Tabs, useAsync } from '../components'
import { type CrTab, go, href } from '../router'
import { AuditTab } from './cr-audit'
import { ConflictsTab, type Resolutions } from './cr-conflicts'
import { DiffTab } from './cr-diff'
import { ValidationTab } from './cr-validation'
import { MergeModal } from './merge-modal'

export interface CrContext {
  readonly cr: Json
  readonly dataset: Json
  readonly project: Json | undefined
  readonly role: string | undefined
}

/** The change request with its dataset and the caller's role in the project (what they may do). */
async function loadContext(id: string, signal: AbortSignal): Promise<CrContext> {
  const cr = await get(`change_requests/${encodeURIComponent(id)}`, signal)
  const dataset = await get(`datasets/${encodeURIComponent(String(cr.dataset_id))}`, signal)
  let project: Json | undefined
  try {
    project = await get(`projects/${encodeURIComponent(String(dataset.project_id))}`, signal)
  } catch {
    // The project gives the role, only used to hide what the server would refuse anyway.
  }
  const role = typeof project?.role === 'string' ? project.role : undefined
  return { cr, dataset, project, role }
}

/**
 * The header (title, status, actions) waits for the change request, its dataset and project;
 * the Diff and Audit tabs need only the id, so they load at the same time.
 */
export function ChangeRequestPage({ id, tab }: { id: string; tab: CrTab }) {
  const ctx = useAsync((signal) => loadContext(id, signal), [id])
  const [merging, setMerging] = useState(false)
  const [resolutions, setResolutions] = useState<Resolutions>({})
  const { cr, dataset, project, role } = ctx.data ?? {}
  // After a merge, a status change or a new head every tab reads afresh (but not when the
  // header first loads: the tabs started with it).
  const stamp = cr && dataset ? `${cr.status}-${cr.merged_version}-${dataset.current_version}` : ''
  const first = useRef('')
  if (first.current === '') first.current = stamp
  const panelKey = stamp === first.current ? 'first' : stamp
  const refresh = ctx.reload
  const status = cr ? String(cr.status) : undefined
  const open = status !== undefined && ['pending', 'conflict', 'failed'].includes(status)
  const canMerge = role !== 'viewer' && open
  const canClose = role !== 'viewer' && open
  async function move(to: 'closed' | 'pending') {
    try {
      await request('PATCH', `change_requests/${encodeURIComponent(id)}`, { body: { status: to } })
      notify('info', to === 'closed' ? 'Change request closed' : 'Change request reopened')
      refresh()
    } catch (err) {
      notify('error', err instanceof Error ? err.message : String(err))
    }
  }
  return (
    <section>
      <Crumbs
        trail={[
          { href: href(), label: 'Projects' },
          ...(dataset
            ? [
                { href: href('projects', String(dataset.project_id)), label: nameOf(project) },
                { href: href('datasets', String(dataset.id)), label: nameOf(dataset) },
              ]
            : []),
        ]}
      />
      {!cr && ctx.loading && <Loading what="the change request" />}
      <ErrorText error={ctx.error} />
      {cr && dataset && (
        <>
          <div class="title-row">
            <h1>
              #{String(cr.number)} {String(cr.title)}
            </h1>
            <span class={`status ${status}`} data-testid="cr-status">
              {status}
            </span>
          </div>
          <p class="muted">
            {String(cr.author ?? '?')} proposes{' '}
            {plural((cr.staged as Json | undefined)?.rows, 'row')} against version{' '}
            {String(cr.base_version)}; the dataset is at version {String(dataset.current_version)}.
            {cr.merged_version !== null &&
              cr.merged_version !== undefined &&
              ` Merged as version ${String(cr.merged_version)}.`}
          </p>
          <div class="actions">
            {canMerge && (
              <button type="button" class="primary" onClick={() => setMerging(true)}>
                Merge
              </button>
            )}
            {canClose && (
              <button type="button" onClick={() => move('closed')}>
                Close
              </button>
            )}
            {status === 'closed' && role !== 'viewer' && (
              <button type="button" onClick={() => move('pending')}>
                Reopen
              </button>
            )}
          </div>
        </>
      )}
      <Tabs
        tabs={[
          { id: 'diff', label: 'Diff' },
          {
            id: 'conflicts',
            label: 'Conflicts',
            badge: status === 'merged' ? undefined : Object.keys(resolutions).length || undefined,
          },
          { id: 'validation', label: 'Validation' },
          { id: 'audit', label: 'Audit' },
        ]}
        active={tab}
        onSelect={(t) => go('change-requests', id, t)}
      />
      <div role="tabpanel" key={panelKey}>
        {tab === 'diff' && <DiffTab id={id} merged={status === 'merged'} />}
        {tab === 'conflicts' && cr && (
          <ConflictsTab
            id={id}
            mergedVersion={status === 'merged' ? Number(cr.merged_version) : undefined}
            resolutions={resolutions}
            onChange={setResolutions}
            onMerge={canMerge ? () => setMerging(true) : undefined}
          />
        )}
        {tab === 'validation' && cr && <ValidationTab id={id} did={String(cr.dataset_id)} />}
        {tab === 'audit' && <AuditTab id={id} />}
      </div>
      {merging && dataset && (
        <MergeModal
          id={id}
          role={role}
          headVersion={Number(dataset.current_version)}
          resolutions={resolutions}
          onClose={() => setMerging(false)}
          onDone={(next) => {
            setMerging(false)
            refresh()
            if (next) go('change-requests', id, next)
          }}
        />
      )}
    </section>
  )
}
