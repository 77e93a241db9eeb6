/**
 * Change requests of a dataset: create (an uploaded file or JSON rows), list, read, close and
 * reopen, and merge (sync, or async with `Prefer: respond-async`). Canonical paths use the
 * seed's spelling (`change_requests`); `change-requests` is accepted as an alias.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Context } from 'hono'
import { z } from 'zod'
import {
  type ChangeRequest,
  type CrMode,
  changeRequestAndDataset,
  changeRequestJson,
  closeChangeRequest,
  createChangeRequest,
  listChangeRequests,
  reopenChangeRequest,
  reviseChangeRequest,
} from '../../changes/change-requests.js'
import { CR_ID_PATTERN, tmpDir } from '../../changes/data-root.js'
import type { Dataset } from '../../changes/datasets.js'
import { DuckmergeError } from '../../errors.js'
import { forbidden, hasRole, projectOfChangeRequest, type Role, requireRole } from '../access.js'
import type { Caller } from '../auth.js'
import type { RouteModule, ServiceDeps, ServiceEnv } from '../context.js'
import { mergeBody } from '../merges.js'
import { documented } from '../openapi.js'
import { isUpload, missingFile, receiveUpload, removeUpload } from '../upload.js'
import { tooManyColumns, tooManyRows } from '../upload-limits.js'
import { parseWith, readJson } from '../validate.js'
import { datasetFor } from './datasets.js'

const crFields = z.object({
  title: z.string().trim().min(1).max(500),
  base_version: z.coerce.number().int().min(0).optional(),
  mode: z.enum(['patch', 'snapshot']).default('patch'),
})
const row = z.record(z.string(), z.unknown())
const rowsFields = crFields.extend({
  title: crFields.shape.title.optional(),
  mode: z.enum(['patch', 'snapshot']).optional(),
})
const rowsObject = z
  .object({
    title: z.string().trim().min(1).max(500),
    base_version: z.number().int().min(0).optional(),
    upserts: z.array(row).default([]),
    deletes: z.array(row).default([]),
  })
  .strict()
/** Rows must be given, and agree on their columns. */
function checkRows(
  b: { upserts: Record<string, unknown>[]; deletes: unknown[] },
  ctx: z.RefinementCtx,
): void {
  if (b.upserts.length + b.deletes.length === 0)
    ctx.addIssue({
      code: 'custom',
      message: 'give at least one row in upserts or deletes',
      path: ['upserts'],
    })
  // A column a row leaves out would read as NULL, not "unchanged": the rows must agree.
  if (!b.upserts.every((r) => sameColumns(r, b.upserts[0] ?? {})))
    ctx.addIssue({
      code: 'custom',
      message:
        'every upsert row must have the same columns (send several change requests otherwise)',
      path: ['upserts'],
    })
}
const crJson = rowsObject.superRefine(checkRows)
/** New rows for a change request (PUT …/rows): as a new one, the title optional. */
const rowsJson = rowsObject
  .extend({ title: rowsObject.shape.title.optional() })
  .superRefine(checkRows)
const statusQuery = z.object({
  status: z.enum(['pending', 'merging', 'merged', 'conflict', 'failed', 'closed']).optional(),
})
const patchBody = z.object({ status: z.enum(['closed', 'pending']) }).strict()
const crIdParam = z
  .string()
  .regex(CR_ID_PATTERN, { message: 'a change request id is cr_ and 16 letters or digits' })

/** The CLI's JSON shape of a change request, plus the dataset's id the API addresses it by. */
export function crBody(cr: ChangeRequest) {
  return { ...changeRequestJson(cr), dataset_id: cr.datasetId }
}

/** The change request `id` when the caller has at least `needed` in its project (else 404 / 403). */
export async function crFor(
  deps: Pick<ServiceDeps, 'root'>,
  caller: Pick<Caller, 'userId' | 'isAdmin' | 'name'>,
  id: string,
  needed: Role,
  because?: string,
): Promise<{ cr: ChangeRequest; dataset: Dataset; projectId: number; role: Role }> {
  const crId = parseWith(crIdParam, id, 'path')
  const db = deps.root.store.db
  const { projectId } = await projectOfChangeRequest(db, crId)
  const role = await requireRole(db, projectId, caller, needed, because).catch((error) => {
    if (error instanceof DuckmergeError && error.code === 'NOT_FOUND')
      throw new DuckmergeError('NOT_FOUND', `No change request ${JSON.stringify(crId)}.`, {
        cr_id: crId,
      })
    throw error
  })
  return { ...(await changeRequestAndDataset(deps.root, crId)), projectId, role }
}

/**
 * The multipart form that creates or revises a change request (its OpenAPI description): the
 * fields of `crFields`, the `required` ones besides the file.
 */
function rowsUpload(required: readonly (keyof typeof crFields.shape)[]) {
  return {
    'multipart/form-data': {
      type: 'object',
      required: [...required, 'file'],
      properties: {
        title: { type: 'string' },
        base_version: { type: 'integer' },
        mode: { type: 'string', enum: ['patch', 'snapshot'] },
        file: { type: 'string', format: 'binary' },
      },
    },
  }
}

/** What receiving rows may answer (creating or revising a change request). */
const ROWS_ERRORS = {
  400: 'Bad input',
  413: 'Too large',
  422: 'Bad columns, keys or values',
} as const

/** Both spellings of a change-request path. */
function paths(path: string): string[] {
  return [path, path.replace('change_requests', 'change-requests')]
}

export const changeRequestRoutes: RouteModule = (app, deps) => {
  const { root } = deps
  const db = root.store.db

  documented({
    method: 'post',
    path: '/api/v1/datasets/{did}/change_requests',
    summary: 'Propose a change: an uploaded patch or snapshot, or JSON upserts and deletes',
    tag: 'change requests',
    body: crJson,
    uploads: rowsUpload(['title']),
    responses: {
      201: 'Created (status pending)',
      403: 'Viewer',
      404: 'No such dataset',
      ...ROWS_ERRORS,
    },
  })
  for (const path of paths('/api/v1/datasets/:did/change_requests'))
    app.post(path, async (c) => {
      const caller = c.get('caller')
      const { dataset } = await datasetFor(
        db,
        root,
        caller,
        c.req.param('did') ?? '',
        'contributor',
        'proposing changes',
      )
      const rows = await receiveRows(c, deps, crFields, crJson)
      try {
        const cr = await createChangeRequest(root, {
          ...rows.change,
          dataset: dataset.name,
          title: rows.fields.title,
          author: caller.name,
        })
        return c.json(crBody(cr), 201)
      } finally {
        await rows.remove()
      }
    })

  documented({
    method: 'put',
    path: '/api/v1/change_requests/{cr}/rows',
    summary:
      'Replace the rows (a new revision; same upload forms as creating one, title optional); the author or an owner',
    tag: 'change requests',
    body: rowsJson,
    uploads: rowsUpload([]),
    responses: {
      200: 'The change request (revision + 1, status pending)',
      403: 'Not the author nor an owner',
      404: 'No such change request',
      409: 'invalid_state: merging, merged or closed',
      ...ROWS_ERRORS,
    },
  })
  for (const path of paths('/api/v1/change_requests/:cr/rows'))
    app.put(path, async (c) => {
      const caller = c.get('caller')
      const { cr, role } = await crFor(
        deps,
        caller,
        c.req.param('cr') ?? '',
        'contributor',
        'changing change requests',
      )
      if (!hasRole(role, 'owner') && cr.author !== caller.name)
        throw forbidden(caller.name, 'owner', role, "replacing another author's rows")
      const rows = await receiveRows(c, deps, rowsFields, rowsJson)
      try {
        const revised = await reviseChangeRequest(root, cr.id, {
          ...rows.change,
          actor: caller.name,
        })
        return c.json(crBody(revised))
      } finally {
        await rows.remove()
      }
    })

  documented({
    method: 'get',
    path: '/api/v1/datasets/{did}/change_requests',
    summary: 'The change requests of a dataset, newest first',
    tag: 'change requests',
    query: statusQuery,
    responses: { 200: '{change_requests:[…]}', 404: 'No such dataset' },
  })
  for (const path of paths('/api/v1/datasets/:did/change_requests'))
    app.get(path, async (c) => {
      const { dataset } = await datasetFor(
        db,
        root,
        c.get('caller'),
        c.req.param('did') ?? '',
        'viewer',
      )
      const { status } = parseWith(statusQuery, c.req.query(), 'query')
      const crs = await listChangeRequests(root, dataset.name, status)
      return c.json({ change_requests: crs.map(crBody) })
    })

  documented({
    method: 'get',
    path: '/api/v1/change_requests/{cr}',
    summary: 'A change request',
    tag: 'change requests',
    responses: { 200: 'The change request', 404: 'No such change request' },
  })
  for (const path of paths('/api/v1/change_requests/:cr'))
    app.get(path, async (c) => {
      const { cr } = await crFor(deps, c.get('caller'), c.req.param('cr') ?? '', 'viewer')
      return c.json(crBody(cr))
    })

  documented({
    method: 'patch',
    path: '/api/v1/change_requests/{cr}',
    summary: 'Close (status closed) or reopen (status pending); contributors their own only',
    tag: 'change requests',
    body: patchBody,
    responses: { 200: 'The change request', 403: 'Not yours', 409: 'Not in a state for that' },
  })
  for (const path of paths('/api/v1/change_requests/:cr'))
    app.patch(path, async (c) => {
      const caller = c.get('caller')
      const { cr, role } = await crFor(
        deps,
        caller,
        c.req.param('cr') ?? '',
        'contributor',
        'closing change requests',
      )
      const body = await readJson(c, patchBody, deps.limits.jsonBytes)
      if (!hasRole(role, 'owner') && cr.author !== caller.name)
        throw forbidden(
          caller.name,
          'owner',
          role,
          "closing or reopening another author's change request",
        )
      const updated =
        body.status === 'closed'
          ? await closeChangeRequest(root, cr.id, caller.name)
          : await reopenChangeRequest(root, cr.id, caller.name)
      return c.json(crBody(updated))
    })

  documented({
    method: 'post',
    path: '/api/v1/change_requests/{cr}/merge',
    summary:
      'Merge (Prefer: respond-async → 202 with an operation; Idempotency-Key; If-Match "v<N>")',
    tag: 'change requests',
    body: mergeBody,
    responses: {
      200: 'Merged (idempotent_replay true when it already was)',
      202: 'Accepted: {operation_id}',
      403: 'Role too low for these options',
      404: 'No such change request',
      409: 'merge_conflict (conflicts listed), merge_in_progress, invalid_state',
      412: 'If-Match names a version that is no longer the head',
      422: 'validation_failed, idempotency_key_reused, unsupported options',
    },
  })
  for (const path of paths('/api/v1/change_requests/:cr/merge'))
    app.post(path, async (c) => mergeRoute(c, deps))
}

async function mergeRoute(c: Context<ServiceEnv>, deps: ServiceDeps) {
  const caller = c.get('caller')
  const { cr, role } = await crFor(deps, caller, c.req.param('cr') ?? '', 'viewer')
  const body = await readJson(c, mergeBody, deps.limits.jsonBytes)
  deps.merges.authorize(role, caller, body, cr.staged.new_columns.length)
  const ifMatch = c.req.header('if-match')
  let expectedVersion: number | undefined
  if (ifMatch !== undefined) {
    const match = /^\s*(?:W\/)?"v(\d+)"\s*$/.exec(ifMatch)
    if (!match?.[1])
      throw new DuckmergeError('VALIDATION_FAILED', `If-Match must be "v<N>", not ${ifMatch}.`, {
        issues: [{ path: ['If-Match'], code: 'invalid_header', message: 'expected "v<N>"' }],
      })
    expectedVersion = Number(match[1])
  }
  const key = c.req.header('idempotency-key')
  if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      'Idempotency-Key must be 1-200 visible ASCII characters.',
      {
        issues: [{ path: ['Idempotency-Key'], code: 'invalid_header', message: 'bad key' }],
      },
    )
  const started = await deps.merges.start({
    cr,
    caller,
    body,
    requestId: c.get('requestId'),
    ...(key !== undefined ? { idempotencyKey: key } : {}),
    ...(expectedVersion !== undefined ? { expectedVersion } : {}),
  })
  const prefer = c.req.header('prefer') ?? ''
  if (/\brespond-async\b/i.test(prefer)) {
    const self = `/api/v1/operations/${started.operationId}`
    c.header('Location', self)
    return c.json(
      {
        operation_id: started.operationId,
        status: 'queued',
        links: { self, events: `${self}/events` },
      },
      202,
    )
  }
  const outcome = await started.done
  c.header('X-Operation-Id', started.operationId)
  const headers: Record<string, string> = {}
  if (outcome.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="duckmerge"'
  return c.json({ ...outcome.body, request_id: c.get('requestId') }, outcome.status as 200, headers)
}

function sameColumns(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => k in b)
}

interface RowsFields {
  readonly title?: string | undefined
  readonly base_version?: number | undefined
  readonly mode?: 'patch' | 'snapshot' | undefined
}

interface ReceivedRows<F extends RowsFields> {
  readonly fields: F
  /** The file and the fields given, as createChangeRequest and reviseChangeRequest take them. */
  readonly change: {
    readonly from: string
    readonly title?: string
    readonly mode?: CrMode
    readonly baseVersion?: number
  }
  readonly remove: () => Promise<void>
}

function receivedRows<F extends RowsFields>(
  file: string,
  fields: F,
  remove: () => Promise<void>,
): ReceivedRows<F> {
  const { title, mode, base_version } = fields
  const change = {
    from: file,
    ...(title !== undefined ? { title } : {}),
    ...(mode !== undefined ? { mode } : {}),
    ...(base_version !== undefined ? { baseVersion: base_version } : {}),
  }
  return { fields, change, remove }
}

/**
 * The rows a request carries, as a file under the root's tmp folder: a multipart or raw upload
 * (fields from the form or the query), or JSON `{upserts, deletes}` written as a JSONL patch.
 * Creating and revising a change request take the same forms. The caller calls `remove()` when
 * done.
 */
async function receiveRows<F extends RowsFields>(
  c: Context<ServiceEnv>,
  deps: ServiceDeps,
  form: z.ZodType<F>,
  json: z.ZodType<
    RowsFields & { upserts: Record<string, unknown>[]; deletes: Record<string, unknown>[] }
  >,
): Promise<ReceivedRows<F>> {
  if (isUpload(c)) {
    const received = await receiveUpload(c, deps.root, deps.limits)
    const remove = () => removeUpload(received.file)
    try {
      const fields = parseWith(form, received.fields, 'form')
      if (!received.file) throw missingFile()
      return receivedRows(received.file.path, fields, remove)
    } catch (error) {
      await remove()
      throw error
    }
  }
  const body = await readJson(c, json, deps.limits.jsonBytes)
  const { uploadRows, uploadColumns } = deps.limits
  const rows = body.upserts.length + body.deletes.length
  if (rows > uploadRows) throw tooManyRows(uploadRows, rows)
  const columns = Math.max(
    Object.keys(body.upserts[0] ?? {}).length,
    ...body.deletes.map((d) => Object.keys(d).length),
  )
  if (columns > uploadColumns) throw tooManyColumns(uploadColumns, columns)
  // The same fields as a form's, typed by the same schema (JSON rows are always a patch).
  const given = { title: body.title, base_version: body.base_version, mode: 'patch' }
  const fields = parseWith(
    form,
    Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
    'body',
  )
  const file = await writeRows(deps.root, body.upserts, body.deletes)
  return receivedRows(file, fields, () => rm(file, { force: true }))
}

/** JSON rows as a JSONL patch file (`_op` upsert or delete) under the root's tmp folder. */
async function writeRows(
  root: ServiceDeps['root'],
  upserts: readonly Record<string, unknown>[],
  deletes: readonly Record<string, unknown>[],
): Promise<string> {
  const dir = join(tmpDir(root), 'uploads')
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${randomBytes(12).toString('hex')}.jsonl`)
  const lines = [
    ...upserts.map((r) => JSON.stringify({ ...r, _op: 'upsert' })),
    ...deletes.map((r) => JSON.stringify({ ...r, _op: 'delete' })),
  ]
  await writeFile(path, `${lines.join('\n')}\n`, { flag: 'wx' })
  return path
}
