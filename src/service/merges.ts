/**
 * Merges as operations. Every merge request (sync, async, or the seed's endpoint) becomes a row
 * in `operations`, runs under its dataset's merge lock (store/dataset-lock.ts: merges of one
 * dataset never overlap in this process, nor across instances on Postgres, so each is planned
 * against the head it commits on; the Delta commit protocol still guards against other writers),
 * and ends with a stored outcome `{status, body}`, the HTTP answer
 * replayed for a repeated Idempotency-Key and shown by GET /operations/{op}.
 *
 *   start → op row (queued) → [202 here when async] → lock(dataset) → If-Match check
 *     → mergeChangeRequest → outcome stored (succeeded | failed) → events: progress… done|failed
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { type ChangeRequest, getChangeRequest } from '../changes/change-requests.js'
import { getDatasetById } from '../changes/datasets.js'
import { MERGE_PHASES, mergeChangeRequest } from '../changes/merge-change-request.js'
import { DuckmergeError } from '../errors.js'
import type { Resolution } from '../merge/three-way-types.js'
import type { Progress } from '../progress.js'
import { withDatasetLock } from '../store/dataset-lock.js'
import { isUniqueViolation } from '../store/store.js'
import { forbidden, hasRole, type Role } from './access.js'
import type { Caller } from './auth.js'
import type { ServiceDeps } from './context.js'
import { errorBody } from './error-response.js'

const cell = z.union([z.string(), z.number(), z.boolean(), z.null()])

export const mergeBody = z
  .object({
    force_merge: z.boolean().default(false),
    skip_conflict_check: z.boolean().default(false),
    merge_schema: z.boolean().default(false),
    take: z.enum(['ours', 'theirs']).optional(),
    rule: z.enum(['cell', 'row']).optional(),
    dry_run: z.boolean().default(false),
    // As `cr merge --resolutions` reads them: a side for a key (or one cell), or a cell's value.
    resolutions: z
      .array(
        z.union([
          z
            .object({
              key: z.record(z.string(), cell),
              column: z.string().optional(),
              take: z.enum(['ours', 'theirs']),
            })
            .strict(),
          z.object({ key: z.record(z.string(), cell), column: z.string(), value: cell }).strict(),
        ]),
      )
      .max(100_000)
      .optional(),
  })
  .strict()

export type MergeBody = z.infer<typeof mergeBody>

/** The HTTP answer of a finished merge. */
export interface Outcome {
  readonly status: number
  readonly body: Record<string, unknown>
}

/** `queued` (waiting for the dataset's lock), then the engine's merge phases in order. */
export const PHASES = ['queued', ...MERGE_PHASES] as const
export type Phase = (typeof PHASES)[number]

export interface OperationEvent {
  readonly id: number
  readonly event: 'progress' | 'done' | 'failed'
  readonly data: Record<string, unknown>
}

/** How often a running operation reports its progress between phase changes. */
export const TICK_MS = 250

/**
 * The events of an operation this process runs, for GET /operations/{op}/events: each phase
 * change is kept (replayed to a late reader), and every TICK_MS a progress tick with the elapsed
 * time and the phase's fraction where the engine knows it, sent to the readers present and not
 * kept (the next tick supersedes it; it carries the id of the last kept event, so a reader
 * resuming with Last-Event-ID misses nothing).
 */
class OperationLog {
  readonly events: OperationEvent[] = []
  readonly listeners = new Set<(event: OperationEvent) => void>()
  finished = false
  readonly #startedAt = Date.now()
  #phase: Phase = 'queued'
  #detail: Progress | undefined

  push(event: OperationEvent['event'], data: Record<string, unknown>): void {
    const e = { id: this.events.length + 1, event, data }
    this.events.push(e)
    if (event !== 'progress') this.finished = true
    this.#send(e)
  }

  /** Enters a phase (or updates its detail); true when the phase changed. */
  enter(phase: Phase, detail?: Progress): boolean {
    const changed = phase !== this.#phase || this.events.length === 0
    this.#phase = phase
    this.#detail = detail
    if (changed) this.push('progress', this.#progress())
    return changed
  }

  get phase(): Phase {
    return this.#phase
  }

  tick(): void {
    if (!this.finished)
      this.#send({ id: this.events.length, event: 'progress', data: this.#progress() })
  }

  #send(e: OperationEvent): void {
    for (const listener of this.listeners) listener(e)
  }

  #progress(): Record<string, unknown> {
    const d = this.#detail
    const fraction = d?.total ? Math.min(1, d.done / d.total) : null
    return {
      ...progress(this.#phase, fraction ?? 0),
      elapsed_ms: Date.now() - this.#startedAt,
      fraction,
      ...(d ? { detail: d } : {}),
    }
  }
}

export interface StartMerge {
  /** As the route read it (its project and the caller's role checked). */
  readonly cr: Pick<ChangeRequest, 'id' | 'datasetId' | 'staged'>
  readonly caller: Pick<Caller, 'userId' | 'name' | 'isAdmin'>
  readonly body: MergeBody
  readonly idempotencyKey?: string
  /** The head version the caller expects (If-Match "v<N>"); 412 when it moved. */
  readonly expectedVersion?: number
  readonly requestId: string
}

export interface Started {
  readonly operationId: string
  /** Resolves with the outcome (never rejects). */
  readonly done: Promise<Outcome>
}

const KEEP_LOGS = 1000

type RunnerDeps = Omit<ServiceDeps, 'merges' | 'limits'>

export class MergeRunner {
  readonly #deps: RunnerDeps
  readonly #logs = new Map<string, OperationLog>()
  readonly #running = new Set<Promise<unknown>>()

  constructor(deps: RunnerDeps) {
    this.#deps = deps
  }

  /**
   * Checks the caller, whose `role` in the change request's project the route found, may merge
   * with these options: contributors merge, owners also force, take theirs, skip the conflict
   * check or change the schema.
   */
  authorize(role: Role, caller: StartMerge['caller'], body: MergeBody, newColumns: number): void {
    if (!hasRole(role, 'contributor')) throw forbidden(caller.name, 'contributor', role, 'merging')
    const ownerOnly = body.force_merge
      ? 'force_merge'
      : body.skip_conflict_check
        ? 'skip_conflict_check'
        : body.take === 'theirs'
          ? 'take theirs'
          : body.merge_schema && newColumns > 0
            ? 'merge_schema'
            : undefined
    if (ownerOnly && !hasRole(role, 'owner')) throw forbidden(caller.name, 'owner', role, ownerOnly)
  }

  /** Records the operation and starts it; a repeated Idempotency-Key returns the first one. */
  async start(request: StartMerge): Promise<Started> {
    const db = this.#deps.root.store.db
    const { cr } = request
    const requestJson = JSON.stringify({ cr_id: cr.id, ...request.body })
    if (request.idempotencyKey !== undefined) {
      const earlier = await this.#byKey(request.caller.userId, request.idempotencyKey)
      if (earlier) {
        if (earlier.request_json !== requestJson)
          throw new DuckmergeError(
            'VALIDATION_FAILED',
            `Idempotency-Key ${JSON.stringify(request.idempotencyKey)} was used for another request.`,
            { reason: 'idempotency_key_reused', operation_id: earlier.id },
          )
        return { operationId: earlier.id, done: this.#outcomeOf(earlier.id) }
      }
    }
    const id = `op_${randomBytes(12).toString('hex').slice(0, 16)}`
    try {
      await db
        .insertInto('operations')
        .values({
          id,
          kind: 'merge',
          cr_id: cr.id,
          dataset_id: cr.datasetId,
          requested_by: request.caller.userId,
          request_json: requestJson,
          idempotency_key: request.idempotencyKey ?? null,
          status: 'queued',
          phase: 'queued',
          result_json: null,
          error_json: null,
          instance: this.#deps.instance,
          created_at: Date.now(),
          finished_at: null,
        })
        .execute()
    } catch (error) {
      if (isUniqueViolation(error)) throw inProgress(cr.id)
      throw error
    }
    const log = new OperationLog()
    this.#logs.set(id, log)
    this.#trimLogs()
    log.enter('queued')
    let stored: Phase = 'queued'
    const ticker = setInterval(() => {
      log.tick()
      // The row's phase (GET /operations/{op}, other instances) follows at the tick's pace: a
      // store write per phase cost a WAL fsync each on SQLite, on the merge's path (11 a merge).
      if (log.phase === stored || log.finished) return
      stored = log.phase
      db.updateTable('operations')
        .set({ phase: stored })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'running'])
        .execute()
        .catch(() => undefined)
    }, TICK_MS)
    const done = this.#run(id, cr.datasetId, request, log, cr.staged.new_columns.length > 0)
    void done.finally(() => clearInterval(ticker))
    this.#running.add(done)
    void done.finally(() => this.#running.delete(done))
    return { operationId: id, done }
  }

  /** The events so far of an operation this process ran, if it still remembers them. */
  log(operationId: string): OperationLog | undefined {
    return this.#logs.get(operationId)
  }

  /** Waits for every merge in flight (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running])
  }

  async #run(
    id: string,
    datasetId: number,
    request: StartMerge,
    log: OperationLog,
    addsColumns: boolean,
  ) {
    const db = this.#deps.root.store.db
    let outcome: Outcome
    try {
      outcome = await withDatasetLock(this.#deps.root.store, datasetId, () =>
        this.#merge(id, datasetId, request, log, addsColumns),
      )
    } catch (error) {
      const mapped = await this.#inProgressOr(error, request.cr.id)
      outcome = errorBody(mapped, request.requestId)
      if (outcome.status >= 500)
        this.#deps.log.error({ err: error, operation_id: id }, 'merge failed')
    }
    const succeeded = outcome.status < 400
    await db
      .updateTable('operations')
      .set({
        status: succeeded ? 'succeeded' : 'failed',
        phase: succeeded ? 'done' : 'failed',
        result_json: succeeded ? JSON.stringify(outcome.body) : null,
        error_json: succeeded ? null : JSON.stringify(outcome),
        finished_at: Date.now(),
      })
      .where('id', '=', id)
      .execute()
      .catch((error: unknown) => this.#deps.log.error({ err: error }, 'cannot record operation'))
    log.push(
      succeeded ? 'done' : 'failed',
      succeeded ? outcome.body : { status: outcome.status, body: outcome.body },
    )
    return outcome
  }

  /** The merge itself, under the dataset's lock: the If-Match check, then the engine. */
  async #merge(
    id: string,
    datasetId: number,
    request: StartMerge,
    log: OperationLog,
    addsColumns: boolean,
  ): Promise<Outcome> {
    await this.#setStatus(id, 'running')
    if (request.expectedVersion !== undefined) {
      const dataset = await getDatasetById(this.#deps.root, datasetId)
      if (dataset.currentVersion !== request.expectedVersion)
        throw new DuckmergeError(
          'PRECONDITION_FAILED',
          `Dataset "${dataset.name}" is at version ${dataset.currentVersion}, not ${request.expectedVersion} as If-Match expects.`,
          { expected: request.expectedVersion, actual: dataset.currentVersion },
        )
    }
    const { body } = request
    const report = await mergeChangeRequest(this.#deps.root, request.cr.id, {
      requestedBy: request.caller.name,
      force: body.force_merge,
      skipConflictCheck: body.skip_conflict_check,
      // Only when there is a column to add: the engine's MERGE with mergeSchema would also
      // add the patch's _op column to the table (reported to issue 9's owners).
      mergeSchema: body.merge_schema && addsColumns,
      dryRun: body.dry_run,
      ...(body.take ? { take: body.take } : {}),
      ...(body.rule ? { rule: body.rule } : {}),
      ...(body.resolutions ? { resolutions: body.resolutions as readonly Resolution[] } : {}),
      onPhase: (event) => {
        log.enter(event.phase, event.detail)
      },
    })
    return { status: 200, body: { ...report } }
  }

  /** A lost race for the change request (the other merge holds it) is merge_in_progress. */
  async #inProgressOr(error: unknown, crId: string): Promise<unknown> {
    if (!(error instanceof DuckmergeError) || error.code !== 'INVALID_STATE') return error
    const now = await getChangeRequest(this.#deps.root, crId).catch(() => undefined)
    return now?.status === 'merging' || error.details.status === 'merging'
      ? inProgress(crId)
      : error
  }

  async #setStatus(id: string, status: string) {
    await this.#deps.root.store.db
      .updateTable('operations')
      .set({ status })
      .where('id', '=', id)
      .execute()
  }

  async #byKey(userId: number, key: string) {
    return this.#deps.root.store.db
      .selectFrom('operations')
      .select(['id', 'request_json', 'status'])
      .where('requested_by', '=', userId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst()
  }

  /** The outcome of an operation: now if finished, else when it finishes here. */
  #outcomeOf(id: string): Promise<Outcome> {
    const log = this.#logs.get(id)
    if (log && !log.finished)
      return new Promise((resolve) => {
        log.listeners.add((e) => {
          if (e.event !== 'progress') resolve(outcomeOfEvent(e))
        })
      })
    return operationOutcome(this.#deps, id).then(
      (o) => o ?? { status: 409, body: inProgressBody(id) },
    )
  }

  #trimLogs() {
    for (const [id, log] of this.#logs) {
      if (this.#logs.size <= KEEP_LOGS) break
      if (log.finished) this.#logs.delete(id)
    }
  }
}

function outcomeOfEvent(e: OperationEvent): Outcome {
  return e.event === 'done' ? { status: 200, body: e.data } : (e.data as unknown as Outcome)
}

function inProgressBody(id: string) {
  return {
    code: 'merge_in_progress',
    message: `Operation ${id} is still running.`,
    operation_id: id,
  }
}

/** The stored outcome of a finished operation, undefined while it runs. */
export async function operationOutcome(deps: RunnerDeps, id: string): Promise<Outcome | undefined> {
  const row = await deps.root.store.db
    .selectFrom('operations')
    .select(['status', 'result_json', 'error_json'])
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row || (row.status !== 'succeeded' && row.status !== 'failed')) return undefined
  return row.status === 'succeeded'
    ? { status: 200, body: JSON.parse(row.result_json ?? '{}') as Record<string, unknown> }
    : (JSON.parse(row.error_json ?? '{}') as Outcome)
}

function inProgress(crId: string): DuckmergeError {
  return new DuckmergeError(
    'MERGE_IN_PROGRESS',
    `Change request ${crId} is being merged by another request; ask again when it is done.`,
    { cr_id: crId },
  )
}

/** Where a phase (and the fraction of it done) stands among all the phases. */
function progress(phase: Phase, fraction: number): Record<string, unknown> {
  const index = PHASES.indexOf(phase)
  return {
    phase,
    phase_index: index,
    phases: PHASES,
    percent: Math.round(((index + fraction) / PHASES.length) * 100),
  }
}
