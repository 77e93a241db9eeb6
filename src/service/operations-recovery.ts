/**
 * Operations a killed server left `queued` or `running` (kill -9, power loss). At start-up,
 * before it listens, the service settles those of dead processes on this host; the change
 * request itself was settled first by merge-recovery.ts (its commit found by txn, or not), so
 * its status says what the operation's answer is:
 *
 *   change request merged → operation succeeded, result = the merge report
 *   anything else         → operation failed: 503 interrupted, with the phase it reached
 *
 * Operations of live processes, or of other hosts (several instances on one store), are left
 * to their owners.
 */
import { hostname } from 'node:os'
import { getChangeRequest } from '../changes/change-requests.js'
import { recoverMerges } from '../changes/merge-recovery.js'
import { DuckmergeError } from '../errors.js'
import type { ServiceDeps } from './context.js'
import { errorBody } from './error-response.js'

export interface RecoveredOperation {
  readonly id: string
  readonly cr_id: string | null
  readonly status: 'succeeded' | 'failed'
  readonly phase: string | null
}

/**
 * Settles the operations dead processes on this host left unfinished.
 *
 * @example
 * const settled = await recoverOperations(deps) // [{ id: 'op_…', status: 'failed', phase: 'commit' }]
 */
export async function recoverOperations(
  deps: Pick<ServiceDeps, 'root'>,
): Promise<RecoveredOperation[]> {
  const db = deps.root.store.db
  const open = await db
    .selectFrom('operations')
    .select(['id', 'cr_id', 'instance', 'phase'])
    .where('status', 'in', ['queued', 'running'])
    .execute()
  const out: RecoveredOperation[] = []
  for (const op of open) {
    if (!holderGone(op.instance)) continue
    let status: RecoveredOperation['status'] = 'failed'
    let result: string | null = null
    let error: string | null = null
    const cr =
      op.cr_id === null
        ? undefined
        : await recoverMerges(deps.root, { crId: op.cr_id })
            .then(() => getChangeRequest(deps.root, op.cr_id as string))
            .catch(() => undefined)
    // Still merging: a live process (another instance) holds the change request.
    if (cr?.status === 'merging') continue
    if (cr?.status === 'merged' && cr.result) {
      status = 'succeeded'
      result = JSON.stringify({ ...cr.result, recovered: true })
    } else {
      const failure = cr?.failure ?? null
      // The engine's manifest is written before each phase starts; the row's phase may lag.
      const phase = typeof failure?.phase === 'string' ? failure.phase : (op.phase ?? 'queued')
      const interrupted = new DuckmergeError(
        'INTERRUPTED',
        `The server running this merge stopped during its ${phase} phase; ${cr ? `change request ${cr.id} is ${cr.status}` : 'its change request is gone'}. Merge it again.`,
        {
          reason: 'interrupted',
          phase,
          ...(cr ? { cr_id: cr.id, cr_status: cr.status } : {}),
          ...(failure ? { failure } : {}),
        },
      )
      error = JSON.stringify(errorBody(interrupted, op.id))
    }
    const updated = await db
      .updateTable('operations')
      .set({
        status,
        phase: status === 'succeeded' ? 'done' : 'failed',
        result_json: result,
        error_json: error,
        finished_at: Date.now(),
      })
      .where('id', '=', op.id)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst()
    if (Number(updated.numUpdatedRows) > 0)
      out.push({ id: op.id, cr_id: op.cr_id, status, phase: op.phase })
  }
  return out
}

/** Whether the `host:pid` that ran an operation is a process of this host that is gone. */
function holderGone(instance: string | null): boolean {
  if (instance === null) return true
  const at = instance.lastIndexOf(':')
  const pid = Number(instance.slice(at + 1))
  if (instance.slice(0, at) !== hostname() || !Number.isSafeInteger(pid)) return false
  // Called before this process runs any operation: one with its pid is a dead predecessor's.
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'EPERM'
  }
}
