/** Projects and their members: POST/GET /projects, PUT/DELETE /projects/{pid}/members/{user}. */
import { z } from 'zod'
import { DuckmergeError } from '../../errors.js'
import { isUniqueViolation, type StoreTx } from '../../store/store.js'
import { type Role, requireRole } from '../access.js'
import { userIdOf } from '../auth.js'
import type { RouteModule } from '../context.js'
import { documented } from '../openapi.js'
import { parseWith, readJson } from '../validate.js'

export const projectName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
  message: 'use 1-63 lowercase letters, digits, "_" or "-", starting with a letter or digit',
})
const createProjectBody = z.object({ name: projectName }).strict()
const memberBody = z.object({ role: z.enum(['owner', 'contributor', 'viewer']) }).strict()
export const idParam = z.coerce.number().int().positive()

export const projectRoutes: RouteModule = (app, deps) => {
  const db = deps.root.store.db

  documented({
    method: 'post',
    path: '/api/v1/projects',
    summary: 'Create a project; the caller becomes its owner',
    tag: 'projects',
    body: createProjectBody,
    responses: { 201: 'Created', 400: 'Bad input', 401: 'No token', 409: 'Name taken' },
  })
  app.post('/api/v1/projects', async (c) => {
    const caller = c.get('caller')
    const body = await readJson(c, createProjectBody, deps.limits.jsonBytes)
    const now = Date.now()
    let id: number
    try {
      id = await db.transaction().execute(async (tx) => {
        const row = await tx
          .insertInto('projects')
          .values({ name: body.name, created_by: caller.userId, created_at: now })
          .returning('id')
          .executeTakeFirstOrThrow()
        await tx
          .insertInto('project_members')
          .values({
            project_id: Number(row.id),
            user_id: caller.userId,
            role: 'owner',
            added_at: now,
          })
          .execute()
        return Number(row.id)
      })
    } catch (error) {
      if (isUniqueViolation(error))
        throw new DuckmergeError('ALREADY_EXISTS', `A project named "${body.name}" exists.`, {
          project: body.name,
        })
      throw error
    }
    return c.json(
      { id, name: body.name, role: 'owner', created_at: new Date(now).toISOString() },
      201,
    )
  })

  documented({
    method: 'get',
    path: '/api/v1/projects',
    summary: 'The projects the caller is a member of',
    tag: 'projects',
    responses: { 200: '{projects:[…]}' },
  })
  app.get('/api/v1/projects', async (c) => {
    const caller = c.get('caller')
    let query = db
      .selectFrom('projects')
      .leftJoin('project_members', (j) =>
        j
          .onRef('project_members.project_id', '=', 'projects.id')
          .on('project_members.user_id', '=', caller.userId),
      )
      .select(['projects.id', 'projects.name', 'projects.created_at', 'project_members.role'])
    if (!caller.isAdmin) query = query.where('project_members.role', 'is not', null)
    const rows = await query.orderBy('projects.id').execute()
    return c.json({
      projects: rows.map((r) => ({
        id: Number(r.id),
        name: r.name,
        role: r.role ?? 'owner',
        created_at: new Date(Number(r.created_at)).toISOString(),
      })),
    })
  })

  documented({
    method: 'get',
    path: '/api/v1/projects/{pid}',
    summary: 'A project with its members and datasets',
    tag: 'projects',
    responses: { 200: 'The project', 404: 'No such project, or not a member' },
  })
  app.get('/api/v1/projects/:pid', async (c) => {
    const pid = parseWith(idParam, c.req.param('pid'), 'path')
    const role = await requireRole(db, pid, c.get('caller'), 'viewer')
    const project = await db
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', pid)
      .executeTakeFirstOrThrow()
    const members = await db
      .selectFrom('project_members')
      .innerJoin('users', 'users.id', 'project_members.user_id')
      .select(['users.name', 'project_members.role'])
      .where('project_id', '=', pid)
      .orderBy('users.name')
      .execute()
    const datasets = await db
      .selectFrom('project_datasets')
      .innerJoin('datasets', 'datasets.id', 'project_datasets.dataset_id')
      .select(['datasets.id', 'datasets.name', 'datasets.current_version', 'datasets.row_count'])
      .where('project_datasets.project_id', '=', pid)
      .orderBy('datasets.name')
      .execute()
    return c.json({
      id: pid,
      name: project.name,
      role,
      created_at: new Date(Number(project.created_at)).toISOString(),
      members: members.map((m) => ({ user: m.name, role: m.role })),
      datasets: datasets.map((d) => ({
        id: Number(d.id),
        name: d.name,
        current_version: Number(d.current_version),
        row_count: Number(d.row_count),
      })),
    })
  })

  documented({
    method: 'put',
    path: '/api/v1/projects/{pid}/members/{user}',
    summary: 'Add a member or change their role (owners)',
    tag: 'projects',
    body: memberBody,
    responses: { 200: 'The membership', 403: 'Not an owner', 404: 'No such project or user' },
  })
  app.put('/api/v1/projects/:pid/members/:user', async (c) => {
    const pid = parseWith(idParam, c.req.param('pid'), 'path')
    await requireRole(db, pid, c.get('caller'), 'owner', 'managing members')
    const body = await readJson(c, memberBody, deps.limits.jsonBytes)
    const user = c.req.param('user')
    const userId = await userIdOf(db, user)
    await db.transaction().execute(async (tx) => {
      if (body.role !== 'owner') await assertOtherOwner(tx, pid, userId)
      await tx
        .insertInto('project_members')
        .values({ project_id: pid, user_id: userId, role: body.role, added_at: Date.now() })
        .onConflict((oc) => oc.columns(['project_id', 'user_id']).doUpdateSet({ role: body.role }))
        .execute()
    })
    return c.json({ project_id: pid, user, role: body.role satisfies Role })
  })

  documented({
    method: 'delete',
    path: '/api/v1/projects/{pid}/members/{user}',
    summary: 'Remove a member (owners; the last owner stays)',
    tag: 'projects',
    responses: { 204: 'Removed', 403: 'Not an owner', 404: 'No such project or member' },
  })
  app.delete('/api/v1/projects/:pid/members/:user', async (c) => {
    const pid = parseWith(idParam, c.req.param('pid'), 'path')
    await requireRole(db, pid, c.get('caller'), 'owner', 'managing members')
    const userId = await userIdOf(db, c.req.param('user'))
    await db.transaction().execute(async (tx) => {
      await assertOtherOwner(tx, pid, userId)
      await tx
        .deleteFrom('project_members')
        .where('project_id', '=', pid)
        .where('user_id', '=', userId)
        .execute()
    })
    return c.body(null, 204)
  })
}

/** A project keeps at least one owner: demoting or removing the last one is refused. */
async function assertOtherOwner(tx: StoreTx, projectId: number, userId: number): Promise<void> {
  const owners = await tx
    .selectFrom('project_members')
    .select('user_id')
    .where('project_id', '=', projectId)
    .where('role', '=', 'owner')
    .execute()
  if (owners.length === 1 && Number(owners[0]?.user_id) === userId)
    throw new DuckmergeError(
      'INVALID_STATE',
      `Project ${projectId} needs an owner: make another member owner first.`,
      { project_id: projectId },
    )
}
