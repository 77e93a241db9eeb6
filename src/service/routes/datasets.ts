/**
 * Datasets of a project: create from an uploaded Parquet or CSV (commits version 0), read the
 * dataset, its rows at a version (paged), its Delta history and its validation rules.
 */
import { z } from 'zod'
import {
  createDataset,
  DATASET_NAME_PATTERN,
  type Dataset,
  getDatasetById,
} from '../../changes/datasets.js'
import { listRules, parseRules, setRules } from '../../changes/rules.js'
import { DuckmergeError } from '../../errors.js'
import { history } from '../../formats/delta/history.js'
import type { StoreDb } from '../../store/store.js'
import { projectOfDataset, type Role, requireRole } from '../access.js'
import type { Caller } from '../auth.js'
import type { RouteModule } from '../context.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { documented } from '../openapi.js'
import { missingFile, receiveUpload, removeUpload } from '../upload.js'
import { parseWith, readJson } from '../validate.js'
import { idParam } from './projects.js'

const datasetFields = z.object({
  name: z.string().regex(DATASET_NAME_PATTERN, {
    message: 'use 1-63 lowercase letters, digits, "_" or "-", starting with a letter or digit',
  }),
  primary_keys: z
    .string()
    .min(1)
    .transform((text, ctx) => {
      let keys: unknown = text.split(',').map((k) => k.trim())
      if (text.trim().startsWith('['))
        try {
          keys = JSON.parse(text)
        } catch {
          ctx.addIssue({ code: 'custom', message: 'not a JSON array' })
          return z.NEVER
        }
      const parsed = z.array(z.string().min(1)).min(1).safeParse(keys)
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: 'a JSON array of column names, or a comma list' })
        return z.NEVER
      }
      return parsed.data
    }),
})
const rowsQuery = z.object({
  version: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
})

/** The JSON shape of a dataset. */
export function datasetBody(d: Dataset, projectId: number) {
  return {
    id: d.id,
    project_id: projectId,
    name: d.name,
    primary_keys: d.keyColumns,
    current_version: d.currentVersion,
    row_count: d.rowCount,
    schema: d.schema,
    conflict_rule: d.conflictRule,
    created_by: d.createdBy,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  }
}

/** The dataset `did` when the caller has at least `needed` in its project (else 404 / 403). */
export async function datasetFor(
  db: StoreDb,
  root: Parameters<typeof getDatasetById>[0],
  caller: Caller,
  did: string,
  needed: Role,
  because?: string,
  load: (id: number) => Promise<Dataset> = (id) => getDatasetById(root, id),
): Promise<{ dataset: Dataset; projectId: number; role: Role }> {
  const id = parseWith(idParam, did, 'path')
  const projectId = await projectOfDataset(db, id)
  const role = await requireRole(db, projectId, caller, needed, because).catch((error) => {
    // A non-member learns nothing, not even that the project exists.
    if (error instanceof DuckmergeError && error.code === 'NOT_FOUND')
      throw new DuckmergeError('NOT_FOUND', `No dataset ${id}.`, { dataset_id: id })
    throw error
  })
  return { dataset: await load(id), projectId, role }
}

export const datasetRoutes: RouteModule = (app, deps) => {
  const { root } = deps
  const db = root.store.db

  documented({
    method: 'post',
    path: '/api/v1/projects/{pid}/datasets',
    summary: 'Create a dataset from an uploaded Parquet or CSV file (version 0)',
    tag: 'datasets',
    uploads: {
      'multipart/form-data': {
        type: 'object',
        required: ['name', 'primary_keys', 'file'],
        properties: {
          name: { type: 'string' },
          primary_keys: { type: 'string', description: 'JSON array or comma list' },
          file: { type: 'string', format: 'binary' },
        },
      },
      'application/vnd.apache.parquet': {
        type: 'string',
        format: 'binary',
        description: 'name and primary_keys as query parameters',
      },
      'text/csv': { type: 'string', description: 'name and primary_keys as query parameters' },
    },
    responses: {
      201: 'Created',
      400: 'Bad name or fields',
      403: 'Not an owner',
      404: 'No such project',
      409: 'Name taken',
      413: 'Upload too large',
      415: 'Not an upload',
      422: 'Bad columns or keys',
    },
  })
  app.post('/api/v1/projects/:pid/datasets', async (c) => {
    const pid = parseWith(idParam, c.req.param('pid'), 'path')
    const caller = c.get('caller')
    await requireRole(db, pid, caller, 'owner', 'creating datasets')
    // A raw body's fields are in the query: refuse a bad name before reading a byte of it.
    if (c.req.query('name') !== undefined)
      parseWith(datasetFields.pick({ name: true }), { name: c.req.query('name') }, 'query')
    const received = await receiveUpload(c, root, deps.limits)
    try {
      const fields = parseWith(datasetFields, received.fields, 'form')
      if (!received.file) throw missingFile()
      const dataset = await createDataset(root, {
        name: fields.name,
        from: received.file.path,
        key: fields.primary_keys,
        createdBy: caller.name,
      })
      await db
        .insertInto('project_datasets')
        .values({ dataset_id: dataset.id, project_id: pid })
        .execute()
      return c.json(datasetBody(dataset, pid), 201)
    } finally {
      await removeUpload(received.file)
    }
  })

  documented({
    method: 'get',
    path: '/api/v1/datasets/{did}',
    summary: 'A dataset: version, row count, schema (synced with its Delta head)',
    tag: 'datasets',
    responses: { 200: 'The dataset', 404: 'No such dataset, or not a member' },
  })
  app.get('/api/v1/datasets/:did', async (c) => {
    const { dataset, projectId } = await datasetFor(
      db,
      root,
      c.get('caller'),
      c.req.param('did'),
      'viewer',
    )
    return c.json(datasetBody(dataset, projectId))
  })

  documented({
    method: 'get',
    path: '/api/v1/datasets/{did}/rows',
    summary: 'A page of rows at a version (default the head), ordered by key',
    tag: 'datasets',
    query: rowsQuery,
    responses: {
      200: '{rows, version, page}',
      400: 'Bad cursor',
      404: 'No such dataset or version',
    },
  })
  app.get('/api/v1/datasets/:did/rows', async (c) => {
    const { dataset } = await datasetFor(
      db,
      root,
      c.get('caller'),
      c.req.param('did'),
      'viewer',
      undefined,
      (id) => deps.pages.head(root, id),
    )
    const query = parseWith(rowsQuery, c.req.query(), 'query')
    const at = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
    const version = at?.version ?? query.version ?? dataset.currentVersion
    if (at && query.version !== undefined && query.version !== at.version)
      throw new DuckmergeError('VALIDATION_FAILED', 'The cursor belongs to another version.', {
        issues: [{ path: ['cursor'], code: 'invalid_cursor', message: 'another version' }],
      })
    const offset = at?.offset ?? 0
    const page = await deps.pages.read(dataset, version, offset, query.limit)
    const next = page.hasMore
      ? encodeCursor({ version: page.version, offset: offset + page.count })
      : null
    // The rows' JSON comes ready-made (row-pages.ts): spliced in, not parsed and written again.
    const body = Buffer.concat([
      Buffer.from(`{"version":${page.version},"rows":`),
      page.json,
      Buffer.from(
        `,"page":${JSON.stringify({ limit: query.limit, has_more: page.hasMore, next_cursor: next })}}`,
      ),
    ])
    return c.body(body, 200, { 'content-type': 'application/json' })
  })

  documented({
    method: 'get',
    path: '/api/v1/datasets/{did}/versions',
    summary: 'The Delta history, newest first: who committed what (change request, operation)',
    tag: 'datasets',
    responses: { 200: '{versions:[…]}', 404: 'No such dataset' },
  })
  app.get('/api/v1/datasets/:did/versions', async (c) => {
    const { dataset } = await datasetFor(db, root, c.get('caller'), c.req.param('did'), 'viewer')
    const commits = await history(dataset.tablePath, { limit: 1000 })
    return c.json({
      versions: commits.map((h) => ({
        version: h.version,
        timestamp: new Date(h.timestamp).toISOString(),
        operation: h.operation,
        cr_id: h.operationParameters.cr_id ?? h.commitInfo?.cr_id ?? null,
        requested_by: h.operationParameters.requested_by ?? h.commitInfo?.requested_by ?? null,
        operation_parameters: h.operationParameters,
        operation_metrics: h.operationMetrics,
        user_metadata: h.userMetadata,
      })),
    })
  })

  documented({
    method: 'get',
    path: '/api/v1/datasets/{did}/validation-rules',
    summary: 'The validation rules (the CLI rules file)',
    tag: 'datasets',
    responses: { 200: '{rules:[…]}', 404: 'No such dataset' },
  })
  app.get('/api/v1/datasets/:did/validation-rules', async (c) => {
    const { dataset } = await datasetFor(db, root, c.get('caller'), c.req.param('did'), 'viewer')
    return c.json({ rules: await listRules(root, dataset) })
  })

  documented({
    method: 'put',
    path: '/api/v1/datasets/{did}/validation-rules',
    summary: 'Replace the validation rules (owners)',
    tag: 'datasets',
    body: z.array(z.record(z.string(), z.unknown())),
    responses: { 200: '{rules:[…]}', 400: 'Invalid rules', 403: 'Not an owner' },
  })
  app.put('/api/v1/datasets/:did/validation-rules', async (c) => {
    const caller = c.get('caller')
    const { dataset } = await datasetFor(
      db,
      root,
      caller,
      c.req.param('did'),
      'owner',
      'changing rules',
    )
    const body = await readJson(
      c,
      z.union([z.array(z.unknown()), z.object({ rules: z.array(z.unknown()) })]),
      deps.limits.jsonBytes,
    )
    const document = Array.isArray(body) ? body : body.rules
    const rules = await parseRules(dataset, document, 'the request body')
    await setRules(root, dataset, rules, caller.name)
    return c.json({ rules: await listRules(root, dataset) })
  })
}
