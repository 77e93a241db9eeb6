import { useState } from 'preact/hooks'
import { ApiError, get, type Json, readEvents, request } from '../api'
import { ErrorText, Modal, notify, nounFor, plural, type ToastKind, useAsync } from '../components'
import type { CrTab } from '../router'
import { href } from '../router'
import { loadConflictItems, type Resolutions, toRequest } from './cr-conflicts'

interface Progress {
  readonly phase: string
  readonly index: number
  readonly phases: number
  readonly percent: number
  /** Since the service accepted the merge (its ticks come every 250 ms). */
  readonly elapsedMs?: number
  /** Finer progress inside the phase, e.g. "3 of 10 files", when the engine knows it. */
  readonly detail?: string
}

/**
 * Confirms a merge with what it will change, offers the options the user's role allows, then
 * follows the operation's event stream to its outcome and says it in a notification.
 */
export function MergeModal(props: {
  id: string
  role: string | undefined
  headVersion: number
  resolutions: Resolutions
  onClose(): void
  onDone(next: CrTab | null): void
}) {
  const owner = props.role === 'owner' || props.role === undefined
  const preview = useAsync(
    (signal) =>
      get(
        `change_requests/${encodeURIComponent(props.id)}/diff?against=main&summary_only=true`,
        signal,
      ),
    [props.id],
  )
  const [rule, setRule] = useState('cell')
  const [force, setForce] = useState(false)
  const [skip, setSkip] = useState(false)
  const [mergeSchema, setMergeSchema] = useState(false)
  const [progress, setProgress] = useState<Progress | null>(null)
  const [phases, setPhases] = useState<string[]>([])
  const [error, setError] = useState<unknown>(null)
  const running = progress !== null

  async function merge() {
    setError(null)
    setProgress({ phase: 'queued', index: 0, phases: 1, percent: 0 })
    try {
      const resolutions =
        Object.keys(props.resolutions).length > 0
          ? toRequest(await loadConflictItems(props.id), props.resolutions)
          : []
      const body: Json = {
        rule,
        force_merge: force,
        skip_conflict_check: skip,
        merge_schema: mergeSchema,
      }
      if (resolutions.length > 0) body.resolutions = resolutions
      const started = await request<Json>(
        'POST',
        `change_requests/${encodeURIComponent(props.id)}/merge`,
        {
          body,
          headers: { Prefer: 'respond-async', 'If-Match': `"v${props.headVersion}"` },
        },
      )
      const operation = started.operation_id
      const outcome =
        typeof operation === 'string'
          ? await follow(operation)
          : ({ status: 200, body: started } as Outcome)
      finish(outcome)
    } catch (err) {
      if (err instanceof ApiError) finish({ status: err.status, body: err.body })
      else {
        setProgress(null)
        setError(err)
      }
    }
  }

  async function follow(operation: string): Promise<Outcome> {
    let outcome: Outcome | null = null
    await readEvents(`operations/${encodeURIComponent(operation)}/events`, (e) => {
      const data = parse(e.data)
      if (e.event === 'progress') {
        const index = Number(data.phase_index ?? 0)
        const phases = Array.isArray(data.phases) ? data.phases.length : Number(data.phases ?? 1)
        const detail = detailText(data.detail)
        const p: Progress = {
          phase: String(data.phase ?? ''),
          index,
          phases,
          // The service sends the overall percent, the phase's own fraction included.
          percent: Number(data.percent ?? (index / Math.max(phases, 1)) * 100),
          ...(typeof data.elapsed_ms === 'number' ? { elapsedMs: data.elapsed_ms } : {}),
          ...(detail ? { detail } : {}),
        }
        setProgress(p)
        setPhases((list) => (list.includes(p.phase) ? list : [...list, p.phase]))
      } else if (e.event === 'done') outcome = { status: 200, body: data }
      else if (e.event === 'failed')
        outcome = { status: Number(data.status ?? 500), body: (data.body ?? data) as Json }
    })
    if (outcome) return outcome
    // The stream ended without a verdict (a proxy cut it): ask the operation itself.
    const op = await get(`operations/${encodeURIComponent(operation)}`)
    if (op.status === 'succeeded') return { status: 200, body: (op.result ?? {}) as Json }
    const err = (op.error ?? {}) as Json
    return { status: Number(err.status ?? 500), body: (err.body ?? {}) as Json }
  }

  function finish({ status, body }: Outcome) {
    const link = (tab: CrTab, label: string) => ({
      href: href('change-requests', props.id, tab),
      label,
    })
    const say = (kind: ToastKind, text: string, to?: ReturnType<typeof link>) =>
      notify(kind, text, to, `merge ${props.id}`)
    const request = typeof body.request_id === 'string' ? ` (request id ${body.request_id})` : ''
    if (status === 200) {
      const version = body.merged_version
      say(
        'success',
        body.idempotent_replay
          ? `Already merged as version ${String(version)}`
          : `Merged as version ${String(version)}`,
      )
      props.onDone(null)
    } else if (status === 409 && body.code === 'merge_conflict') {
      // The API's message ends with advice in its own field names ("take", "resolutions"): here
      // the way out is the Conflicts tab.
      say(
        'error',
        'This change request conflicts with changes merged since its base version; nothing was written. Choose a value for each conflict, then merge.',
        link('conflicts', 'See the conflicts'),
      )
      props.onDone('conflicts')
    } else if (status === 422 && body.code === 'validation_failed') {
      say(
        'error',
        `${String(body.message ?? 'Validation failed')}`,
        link('validation', 'See the failing rules'),
      )
      props.onDone('validation')
    } else if (status === 403) {
      say('error', `Not allowed: ${String(body.message ?? 'your role cannot do this')}${request}`)
      props.onDone(null)
    } else if (body.code === 'interrupted' || body.reason === 'interrupted') {
      say('error', `The merge was interrupted; nothing was committed. Try again.${request}`)
      props.onDone(null)
    } else {
      say('error', `${String(body.message ?? `Merge failed (HTTP ${status})`)}${request}`)
      props.onDone(null)
    }
  }

  const s = (preview.data?.summary ?? {}) as Json
  return (
    <Modal title="Merge this change request" onClose={running ? () => {} : props.onClose}>
      <ErrorText error={preview.error} />
      {preview.data && (
        <p data-testid="merge-preview">
          Merging now adds {plural(s.rows_added ?? 0, 'row')}, modifies{' '}
          {plural(s.rows_modified ?? 0, 'row')} and deletes {plural(s.rows_deleted ?? 0, 'row')} of
          version {props.headVersion}.
        </p>
      )}
      {!running && (
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void merge()
          }}
        >
          <label>
            Conflict rule
            <select value={rule} onChange={(e) => setRule(e.currentTarget.value)}>
              <option value="cell">cell: only the same cell changed on both sides</option>
              <option value="row">row: any row changed on both sides</option>
            </select>
          </label>
          {owner && (
            <fieldset>
              <legend>Owner options</legend>
              <label class="check">
                <input
                  type="checkbox"
                  checked={force}
                  onChange={(e) => setForce(e.currentTarget.checked)}
                />
                Force: take this change's value where cells conflict
              </label>
              <label class="check">
                <input
                  type="checkbox"
                  checked={skip}
                  onChange={(e) => setSkip(e.currentTarget.checked)}
                />
                Skip the conflict check (this change's cells win; others' changes to other cells
                stay)
              </label>
              <label class="check">
                <input
                  type="checkbox"
                  checked={mergeSchema}
                  onChange={(e) => setMergeSchema(e.currentTarget.checked)}
                />
                Add the change's new columns to the dataset
              </label>
            </fieldset>
          )}
          <div class="actions">
            <button type="submit" class="primary">
              Confirm merge
            </button>
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {progress && (
        <div data-testid="merge-progress">
          <label>
            {progress.phase === 'queued'
              ? 'Waiting to start'
              : `Phase ${progress.index + 1} of ${progress.phases}: ${progress.phase}`}
            <progress max={100} value={overall(progress)} />
          </label>
          <p class="muted" data-testid="merge-elapsed" aria-live="off">
            {progress.elapsedMs === undefined
              ? 'Starting…'
              : `${(progress.elapsedMs / 1000).toFixed(1)} s elapsed`}
            {progress.detail ? ` · ${progress.detail}` : ''}
          </p>
          <ol class="phases">
            {phases.map((p) => (
              <li key={p} class={p === progress.phase ? 'current' : 'done'}>
                {p}
              </li>
            ))}
          </ol>
        </div>
      )}
      <ErrorText error={error} />
    </Modal>
  )
}

interface Outcome {
  readonly status: number
  readonly body: Json
}

function overall(p: Progress): number {
  return Math.max(0, Math.min(100, p.percent))
}

/** The engine's finer progress, `{phase, done, total?, unit?}`, as "batch 2/5: 3 of 10 files". */
function detailText(detail: unknown): string | undefined {
  if (!detail || typeof detail !== 'object') return undefined
  const d = detail as Json
  // The engine names its units in the plural ('files', 'rows', '%'); "1 file", "0 of 1 file".
  const plain = String(d.unit ?? '')
  const singular = plain.endsWith('s') ? plain.slice(0, -1) : plain
  const unit = !d.unit
    ? ''
    : ` ${singular === plain ? plain : nounFor(d.total ?? d.done, singular)}`
  const count =
    d.total === undefined
      ? `${String(d.done)}${unit}`
      : `${String(d.done)} of ${String(d.total)}${unit}`
  return d.phase ? `${String(d.phase)}: ${count}` : count
}

function parse(data: string): Json {
  try {
    const v = JSON.parse(data) as unknown
    return v && typeof v === 'object' ? (v as Json) : {}
  } catch {
    return {}
  }
}
