/**
 * Projects, members and roles: who may do what. A caller who is not a member of a project gets
 * NOT_FOUND for everything in it (its existence stays hidden); a member whose role is too low
 * gets FORBIDDEN naming the role needed. Admins act as owners everywhere.
 */
import { DuckmergeError } from '../errors.js'
import type { StoreDb } from '../store/store.js'
import type { Caller } from './auth.js'

export type Role = 'viewer' | 'contributor' | 'owner'
export const ROLES: readonly Role[] = ['viewer', 'contributor', 'owner']

const RANK: Readonly<Record<Role, number>> = { viewer: 0, contributor: 1, owner: 2 }

/** The caller's role in the project, or undefined when not a member. */
export async function roleIn(
  db: StoreDb,
  projectId: number,
  caller: Pick<Caller, 'userId' | 'isAdmin'>,
): Promise<Role | undefined> {
  const project = await db
    .selectFrom('projects')
    .select('id')
    .where('id', '=', projectId)
    .executeTakeFirst()
  if (!project) return undefined
  if (caller.isAdmin) return 'owner'
  const row = await db
    .selectFrom('project_members')
    .select('role')
    .where('project_id', '=', projectId)
    .where('user_id', '=', caller.userId)
    .executeTakeFirst()
  return row?.role as Role | undefined
}

/**
 * The caller's role when it is at least `needed`; NOT_FOUND for non-members, FORBIDDEN for a
 * role too low (`because` says what needed it, e.g. "force_merge").
 */
export async function requireRole(
  db: StoreDb,
  projectId: number,
  caller: Pick<Caller, 'userId' | 'isAdmin' | 'name'>,
  needed: Role,
  because?: string,
): Promise<Role> {
  const role = await roleIn(db, projectId, caller)
  if (role === undefined)
    throw new DuckmergeError('NOT_FOUND', `No project ${projectId}.`, { project_id: projectId })
  if (RANK[role] < RANK[needed])
    throw forbidden(caller.name, needed, role, because ?? `this action in project ${projectId}`)
  return role
}

export function hasRole(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed]
}

export function forbidden(user: string, needed: Role, actual: Role, because: string) {
  return new DuckmergeError(
    'FORBIDDEN',
    `${user} is ${actual === 'owner' ? 'an' : 'a'} ${actual}; ${because} needs the ${needed} role.`,
    { required: needed, actual, because },
  )
}

/** The project a dataset belongs to; NOT_FOUND for datasets outside every project. */
export async function projectOfDataset(db: StoreDb, datasetId: number): Promise<number> {
  const row = await db
    .selectFrom('project_datasets')
    .select('project_id')
    .where('dataset_id', '=', datasetId)
    .executeTakeFirst()
  if (!row)
    throw new DuckmergeError('NOT_FOUND', `No dataset ${datasetId}.`, { dataset_id: datasetId })
  return Number(row.project_id)
}

/** The dataset and project of a change request; NOT_FOUND when outside every project. */
export async function projectOfChangeRequest(
  db: StoreDb,
  crId: string,
): Promise<{ datasetId: number; projectId: number }> {
  const row = await db
    .selectFrom('change_requests')
    .innerJoin('project_datasets', 'project_datasets.dataset_id', 'change_requests.dataset_id')
    .select(['change_requests.dataset_id', 'project_datasets.project_id'])
    .where('change_requests.id', '=', crId)
    .executeTakeFirst()
  if (!row)
    throw new DuckmergeError('NOT_FOUND', `No change request ${JSON.stringify(crId)}.`, {
      cr_id: crId,
    })
  return { datasetId: Number(row.dataset_id), projectId: Number(row.project_id) }
}
