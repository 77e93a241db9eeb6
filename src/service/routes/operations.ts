/**
 * Operations (async merges): GET /operations/{op} with the final HTTP answer embedded, and
 * GET /operations/{op}/events as server-sent events: `progress` per phase and a tick every
 * 250 ms (merges.ts), then `done` (data:
 * the 200 body) or `failed` (data: {status, body}). Readable by viewers of the project.
 */
import { streamSSE } from 'hono/streaming'
import { z } from 'zod'
import { DuckmergeError } from '../../errors.js'
import { projectOfDataset, requireRole } from '../access.js'
import type { Caller } from '../auth.js'
import type { RouteModule, ServiceDeps } from '../context.js'
import { type OperationEvent, operationOutcome, PHASES } from '../merges.js'
import { documented } from '../openapi.js'
import { parseWith } from '../validate.js'

const opParam = z
  .string()
  .regex(/^op_[a-f0-9]{16}$/, { message: 'an operation id is op_ and 16 hex digits' })

async function operationFor(deps: ServiceDeps, caller: Caller, id: string) {
  const opId = parseWith(opParam, id, 'path')
  const db = deps.root.store.db
  const row = await db
    .selectFrom('operations')
    .selectAll()
    .where('id', '=', opId)
    .executeTakeFirst()
  const notFound = new DuckmergeError('NOT_FOUND', `No operation ${opId}.`, { operation_id: opId })
  if (!row || row.dataset_id === null) throw notFound
  const projectId = await projectOfDataset(db, Number(row.dataset_id))
  await requireRole(db, projectId, caller, 'viewer').catch((error) => {
    throw error instanceof DuckmergeError && error.code === 'NOT_FOUND' ? notFound : error
  })
  return row
}

export const operationRoutes: RouteModule = (app, deps) => {
  documented({
    method: 'get',
    path: '/api/v1/operations/{op}',
    summary: 'An operation: status, phase, and its result or error ({status, body})',
    tag: 'operations',
    responses: { 200: 'The operation', 404: 'No such operation' },
  })
  app.get('/api/v1/operations/:op', async (c) => {
    const row = await operationFor(deps, c.get('caller'), c.req.param('op'))
    const outcome = await operationOutcome(deps, row.id)
    // A merge this process runs knows its phase now; the row follows it every tick.
    const running = row.status === 'queued' || row.status === 'running'
    const phase = (running ? deps.merges.log(row.id)?.phase : undefined) ?? row.phase ?? 'queued'
    const index = PHASES.indexOf(phase as (typeof PHASES)[number])
    return c.json({
      id: row.id,
      kind: row.kind,
      cr_id: row.cr_id,
      dataset_id: row.dataset_id === null ? null : Number(row.dataset_id),
      status: row.status,
      phase,
      progress: {
        phase_index: index < 0 ? PHASES.length : index,
        phases: PHASES,
        percent: index < 0 ? 100 : Math.round((index / PHASES.length) * 100),
      },
      created_at: new Date(Number(row.created_at)).toISOString(),
      finished_at:
        row.finished_at === null ? null : new Date(Number(row.finished_at)).toISOString(),
      ...(outcome && outcome.status < 400 ? { result: outcome.body } : {}),
      ...(outcome && outcome.status >= 400 ? { error: outcome } : {}),
    })
  })

  documented({
    method: 'get',
    path: '/api/v1/operations/{op}/events',
    summary: 'Server-sent events: progress per phase, then done or failed',
    tag: 'operations',
    responses: { 200: 'text/event-stream', 404: 'No such operation' },
  })
  app.get('/api/v1/operations/:op/events', async (c) => {
    const row = await operationFor(deps, c.get('caller'), c.req.param('op'))
    const log = deps.merges.log(row.id)
    const after = Number(c.req.header('last-event-id') ?? 0) || 0
    return streamSSE(c, async (stream) => {
      const send = (e: OperationEvent) =>
        stream.writeSSE({ id: String(e.id), event: e.event, data: JSON.stringify(e.data) })
      if (!log) {
        // Run by another process (or before a restart): only the end is known.
        const outcome = await operationOutcome(deps, row.id)
        if (outcome)
          await send({
            id: PHASES.length + 1,
            event: outcome.status < 400 ? 'done' : 'failed',
            data: outcome.status < 400 ? outcome.body : { ...outcome },
          })
        else
          await stream.writeSSE({ event: 'progress', data: JSON.stringify({ phase: row.phase }) })
        return
      }
      const queue: OperationEvent[] = log.events.filter((e) => e.id > after)
      let wake = () => {}
      const listener = (e: OperationEvent) => {
        queue.push(e)
        wake()
      }
      log.listeners.add(listener)
      stream.onAbort(() => {
        log.listeners.delete(listener)
      })
      try {
        for (;;) {
          const e = queue.shift()
          if (e) {
            await send(e)
            if (e.event !== 'progress') return
            continue
          }
          if (log.finished && queue.length === 0) return
          await new Promise<void>((resolve) => {
            wake = resolve
            setTimeout(resolve, 15_000)
          })
          if (queue.length === 0) await stream.write(': keep-alive\n\n')
        }
      } finally {
        log.listeners.delete(listener)
      }
    })
  })
}
