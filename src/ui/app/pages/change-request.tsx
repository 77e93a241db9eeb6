import { useState } from 'preact/hooks'
import { get, type Json, request } from '../api'
import { ErrorText, Loading, notify, Tabs, useAsync } from '../components'
import { type CrTab, go, href } from '../router'
import { AuditTab } from './cr-audit'
import { ConflictsTab, type Resolutions } from './cr-conflicts'
import { DiffTab } from './cr-diff'
import { ValidationTab } from './cr-validation'
import { MergeModal } from './merge-modal'

export interface CrContext {
  readonly cr: Json
  readonly dataset: Json
  readonly role: string | undefined
}

/** The change request with its dataset and the caller's role in the project (what they may do). */
async function loadContext(id: string, signal: AbortSignal): Promise<CrContext> {
  const cr = await get(`change_requests/${encodeURIComponent(id)}`, signal)
  const dataset = await get(`datasets/${encodeURIComponent(String(cr.dataset_id))}`, signal)
  let role: string | undefined
  try {
    const project = await get(`projects/${encodeURIComponent(String(dataset.project_id))}`, signal)
    role = typeof project.role === 'string' ? project.role : undefined
  } catch {
    // The role is only used to hide what the server would refuse anyway.
  }
  return { cr, dataset, role }
}

export function ChangeRequestPage({ id, tab }: { id: string; tab: CrTab }) {
  const ctx = useAsync((signal) => loadContext(id, signal), [id])
  const [merging, setMerging] = useState(false)
  const [resolutions, setResolutions] = useState<Resolutions>({})
  if (!ctx.data)
    return (
      <section>
        {ctx.loading && <Loading what="the change request" />}
        <ErrorText error={ctx.error} />
      </section>
    )
  const { cr, dataset, role } = ctx.data
  const status = String(cr.status)
  const canMerge = role !== 'viewer' && ['pending', 'conflict', 'failed'].includes(status)
  const canClose = role !== 'viewer' && ['pending', 'conflict', 'failed'].includes(status)
  async function move(to: 'closed' | 'pending') {
    try {
      await request('PATCH', `change_requests/${encodeURIComponent(id)}`, { body: { status: to } })
      notify('info', to === 'closed' ? 'Change request closed' : 'Change request reopened')
      ctx.reload()
    } catch (err) {
      notify('error', err instanceof Error ? err.message : String(err))
    }
  }
  return (
    <section>
      <p class="crumbs">
        <a href={href()}>Projects</a> /{' '}
        <a href={href('projects', String(dataset.project_id))}>project</a> /{' '}
        <a href={href('datasets', String(dataset.id))}>{String(dataset.name)}</a> /
      </p>
      <div class="title-row">
        <h1>
          #{String(cr.number)} {String(cr.title)}
        </h1>
        <span class={`status ${status}`} data-testid="cr-status">
          {status}
        </span>
      </div>
      <p class="muted">
        {String(cr.author ?? '?')} proposes {String((cr.staged as Json | undefined)?.rows ?? '?')}{' '}
        rows against version {String(cr.base_version)}; the dataset is at version{' '}
        {String(dataset.current_version)}.
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
      <Tabs
        tabs={[
          { id: 'diff', label: 'Diff' },
          {
            id: 'conflicts',
            label: 'Conflicts',
            badge: Object.keys(resolutions).length || undefined,
          },
          { id: 'validation', label: 'Validation' },
          { id: 'audit', label: 'Audit' },
        ]}
        active={tab}
        onSelect={(t) => go('change-requests', id, t)}
      />
      {/* Keyed by state: after a merge or a new head every tab reads afresh. */}
      <div
        role="tabpanel"
        key={`${status}-${String(cr.merged_version)}-${String(dataset.current_version)}`}
      >
        {tab === 'diff' && <DiffTab id={id} merged={status === 'merged'} />}
        {tab === 'conflicts' && (
          <ConflictsTab
            id={id}
            mergedVersion={status === 'merged' ? Number(cr.merged_version) : undefined}
            resolutions={resolutions}
            onChange={setResolutions}
            onMerge={canMerge ? () => setMerging(true) : undefined}
          />
        )}
        {tab === 'validation' && <ValidationTab id={id} did={String(dataset.id)} />}
        {tab === 'audit' && <AuditTab id={id} />}
      </div>
      {merging && (
        <MergeModal
          id={id}
          role={role}
          headVersion={Number(dataset.current_version)}
          resolutions={resolutions}
          onClose={() => setMerging(false)}
          onDone={(next) => {
            setMerging(false)
            ctx.reload()
            if (next) go('change-requests', id, next)
          }}
        />
      )}
    </section>
  )
}
