/**
 * The seed's contract, exactly: POST /delta/merge-cr with a service token, acting for the
 * `requested_by` user, whose role in the project decides. Answers in the seed's shapes:
 * 200 {status:"ok", merged_version, commit_id, rows_affected, diff, cleanup}, 409 merge_conflict
 * with the conflicts, 422 validation_failed, 403 forbidden, 404 not_found, 500 merge_failed.
 */
import type { Context } from 'hono'
import { z } from 'zod'
import { CR_ID_PATTERN } from '../../changes/data-root.js'
import { DuckmergeError } from '../../errors.js'
import { roleIn } from '../access.js'
import { userIdOf } from '../auth.js'
import type { RouteModule, ServiceDeps, ServiceEnv } from '../context.js'
import { errorBody } from '../error-response.js'
import { documented } from '../openapi.js'
import { readJson } from '../validate.js'
import { crFor } from './change-requests.js'

const seedBody = z.object({
  project_id: z.number().int().positive(),
  dataset_id: z.number().int().positive(),
  cr_id: z.string().regex(CR_ID_PATTERN),
  primary_keys: z.array(z.string().min(1)).min(1),
  delta_version_before: z.number().int().min(0).nullish(),
  current_delta_version: z.number().int().min(0).nullish(),
  merge_schema: z.boolean().default(true),
  requested_by: z.string().min(1),
  skip_conflict_check: z.boolean().default(false),
  force_merge: z.boolean().default(false),
})

export const mergeCrRoutes: RouteModule = (app, deps) => {
  documented({
    method: 'post',
    path: '/delta/merge-cr',
    summary: "The seed's merge endpoint (service tokens; requested_by's role decides)",
    tag: 'seed',
    body: seedBody,
    responses: {
      200: '{status:"ok", merged_version, commit_id, rows_affected, diff, cleanup}',
      400: 'Payload does not match the change request',
      403: 'forbidden',
      404: 'not_found',
      409: 'merge_conflict',
      412: 'current_delta_version is not the head',
      422: 'validation_failed',
      500: 'merge_failed',
    },
  })
  app.post('/delta/merge-cr', async (c) => {
    try {
      return await seedMerge(c, deps)
    } catch (error) {
      const { status, body } = errorBody(error, c.get('requestId'))
      return c.json(seedError(status, body), status)
    }
  })
}

async function seedMerge(c: Context<ServiceEnv>, deps: ServiceDeps) {
  const payload = await readJson(c, seedBody, deps.limits.jsonBytes)
  const db = deps.root.store.db
  const userId = await userIdOf(db, payload.requested_by).catch(() => {
    throw new DuckmergeError(
      'FORBIDDEN',
      `requested_by ${JSON.stringify(payload.requested_by)} is not a user.`,
      {
        requested_by: payload.requested_by,
      },
    )
  })
  const user = await db
    .selectFrom('users')
    .select(['name', 'is_admin'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow()
  const actor = { userId, name: user.name, isAdmin: Number(user.is_admin) === 1 }
  if ((await roleIn(db, payload.project_id, actor)) === undefined)
    throw new DuckmergeError(
      'FORBIDDEN',
      `${user.name} is not a member of project ${payload.project_id}.`,
      {
        requested_by: user.name,
        project_id: payload.project_id,
      },
    )
  const { cr, dataset, projectId, role } = await crFor(deps, actor, payload.cr_id, 'viewer')
  if (projectId !== payload.project_id || cr.datasetId !== payload.dataset_id)
    throw new DuckmergeError(
      'NOT_FOUND',
      `Change request ${cr.id} is not in dataset ${payload.dataset_id} of project ${payload.project_id}.`,
      { cr_id: cr.id },
    )
  const issues = []
  if (JSON.stringify(payload.primary_keys) !== JSON.stringify(dataset.keyColumns))
    issues.push({
      path: ['primary_keys'],
      code: 'mismatch',
      message: `the dataset's keys are ${JSON.stringify(dataset.keyColumns)}`,
    })
  if (payload.delta_version_before != null && payload.delta_version_before !== cr.baseVersion)
    issues.push({
      path: ['delta_version_before'],
      code: 'mismatch',
      message: `the change request's base version is ${cr.baseVersion}`,
    })
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `The payload does not match ${cr.id}: ${issues.map((i) => `${i.path[0]}: ${i.message}`).join('; ')}.`,
      { issues },
    )
  const body = {
    force_merge: payload.force_merge,
    skip_conflict_check: payload.skip_conflict_check,
    merge_schema: payload.merge_schema,
    dry_run: false,
  }
  deps.merges.authorize(role, actor, body, cr.staged.new_columns.length)
  const started = await deps.merges.start({
    cr,
    caller: actor,
    body,
    requestId: c.get('requestId'),
    ...(payload.current_delta_version != null
      ? { expectedVersion: payload.current_delta_version }
      : {}),
  })
  const outcome = await started.done
  if (outcome.status !== 200)
    return c.json(seedError(outcome.status, outcome.body), outcome.status as 409)
  const report = outcome.body as {
    merged_version: number
    commit_id: string
    rows_affected: number
    diff: Record<string, number>
  }
  return c.json({
    status: 'ok',
    merged_version: report.merged_version,
    commit_id: report.commit_id,
    rows_affected: report.rows_affected,
    diff: {
      version_before: report.diff.version_before,
      version_after: report.diff.version_after,
      rows_added: report.diff.rows_added,
      rows_updated: report.diff.rows_updated,
      rows_deleted: report.diff.rows_deleted,
    },
    cleanup: true,
  })
}

/** The seed's error shapes: its codes, and the conflict message "Merge conflicts detected: N rows". */
function seedError(status: number, body: Record<string, unknown>): Record<string, unknown> {
  if (status >= 500)
    return { code: 'merge_failed', message: 'The merge failed.', request_id: body.request_id }
  if (body.code === 'merge_conflict') {
    const conflicts = Array.isArray(body.conflicts) ? body.conflicts : []
    const rows = new Set(conflicts.map((c: { key?: unknown }) => JSON.stringify(c.key ?? null)))
      .size
    return { code: 'merge_conflict', message: `Merge conflicts detected: ${rows} rows`, conflicts }
  }
  return body
}
