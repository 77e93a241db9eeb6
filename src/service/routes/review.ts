/**
 * Reviewing a change request: its diff (against its base or the current head, paged by key),
 * its conflicts with the head, and its audit trail (store events, and the audit files a merge
 * writes). Readable by viewers.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { conflictsOfChangeRequest } from '../../changes/conflicts-change-request.js'
import { auditDir } from '../../changes/data-root.js'
import { diffChangeRequest } from '../../changes/diff-change-request.js'
import { auditEventsOf } from '../../changes/events.js'
import { DuckmergeError } from '../../errors.js'
import type { RouteModule } from '../context.js'
import { documented } from '../openapi.js'
import { parseWith } from '../validate.js'
import { crFor } from './change-requests.js'

const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== ''),
)
const diffQuery = z.object({
  against: z.enum(['base', 'main']).default('base'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(2000).optional(),
  kinds: list.pipe(z.array(z.enum(['added', 'deleted', 'modified']))).optional(),
  columns: list.optional(),
  summary_only: z.enum(['true', 'false']).optional(),
})
const conflictsQuery = z.object({
  rule: z.enum(['cell', 'row']).optional(),
  limit: z.coerce.number().int().min(0).max(10_000).default(1000),
})
/** The only files an audit download may name (never a path from the request). */
export const AUDIT_FILES = [
  'merge_result.json',
  'diff.json',
  'conflicts.json',
  'validation.json',
] as const

export const reviewRoutes: RouteModule = (app, deps) => {
  const { root } = deps
  const alias = (path: string) => [path, path.replace('change_requests', 'change-requests')]

  documented({
    method: 'get',
    path: '/api/v1/change_requests/{cr}/diff',
    summary: 'What the change request changes (against=base) or would change now (against=main)',
    tag: 'review',
    query: diffQuery,
    responses: {
      200: '{summary, rows, page}',
      400: 'Bad cursor or query',
      404: 'No such change request',
    },
  })
  for (const path of alias('/api/v1/change_requests/:cr/diff'))
    app.get(path, async (c) => {
      const { cr } = await crFor(deps, c.get('caller'), c.req.param('cr') ?? '', 'viewer')
      const q = parseWith(diffQuery, c.req.query(), 'query')
      const diff = await diffChangeRequest(root, cr.id, {
        against: q.against,
        limit: q.limit,
        summaryOnly: q.summary_only === 'true',
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        ...(q.kinds !== undefined ? { kinds: q.kinds } : {}),
        ...(q.columns !== undefined ? { columns: q.columns } : {}),
      })
      return c.json(diff)
    })

  documented({
    method: 'get',
    path: '/api/v1/change_requests/{cr}/conflicts',
    summary: 'Conflicts with the current head (cell or row rule), with base/ours/theirs',
    tag: 'review',
    query: conflictsQuery,
    responses: { 200: '{summary, items}', 404: 'No such change request' },
  })
  for (const path of alias('/api/v1/change_requests/:cr/conflicts'))
    app.get(path, async (c) => {
      const { cr } = await crFor(deps, c.get('caller'), c.req.param('cr') ?? '', 'viewer')
      const q = parseWith(conflictsQuery, c.req.query(), 'query')
      return c.json(
        await conflictsOfChangeRequest(root, cr.id, {
          limit: q.limit,
          ...(q.rule !== undefined ? { rule: q.rule } : {}),
        }),
      )
    })

  documented({
    method: 'get',
    path: '/api/v1/change_requests/{cr}/audit',
    summary: 'The audit events of a change request and the audit files present',
    tag: 'review',
    responses: { 200: '{events, files}', 404: 'No such change request' },
  })
  for (const path of alias('/api/v1/change_requests/:cr/audit'))
    app.get(path, async (c) => {
      const { cr } = await crFor(deps, c.get('caller'), c.req.param('cr') ?? '', 'viewer')
      const present = await readdir(auditDir(root, cr.id)).catch(() => [] as string[])
      return c.json({
        cr_id: cr.id,
        events: await auditEventsOf(root.store.db, cr.id),
        files: AUDIT_FILES.filter((f) => present.includes(f)),
      })
    })

  documented({
    method: 'get',
    path: '/api/v1/change_requests/{cr}/audit/{file}',
    summary: 'One audit file: merge_result.json, diff.json, conflicts.json or validation.json',
    tag: 'review',
    responses: { 200: 'The file (JSON)', 404: 'No such file' },
  })
  for (const path of alias('/api/v1/change_requests/:cr/audit/:file'))
    app.get(path, async (c) => {
      const { cr } = await crFor(deps, c.get('caller'), c.req.param('cr') ?? '', 'viewer')
      const name = AUDIT_FILES.find((f) => f === c.req.param('file'))
      const notFound = new DuckmergeError(
        'NOT_FOUND',
        `No audit file ${JSON.stringify(c.req.param('file'))} for ${cr.id} (files: ${AUDIT_FILES.join(', ')}).`,
        { cr_id: cr.id },
      )
      if (!name) throw notFound
      const text = await readFile(join(auditDir(root, cr.id), name), 'utf8').catch(() => {
        throw notFound
      })
      return c.body(text, 200, { 'content-type': 'application/json' })
    })
}
