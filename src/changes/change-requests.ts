/**
 * Change requests: a patch (upserts, deletes marked by `_op`) against a base version of a
 * dataset, staged as Parquet under the root, with a lifecycle kept in the store.
 *
 *   pending ──merge──▶ merged (re-merge = replay) │ conflict │ failed
 *   pending │ conflict │ failed ──close──▶ closed ──reopen──▶ pending
 *   pending │ conflict │ failed ──revise (new rows, r<n+1>)──▶ pending
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { dirname, join } from 'node:path'
import { DuckDb } from '../engine/duckdb.js'
import { ident, identList, join as joinSql, literal, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import { registerSnapshot } from '../formats/delta/scan.js'
import type { StoreDb, StoreTx } from '../store/store.js'
import { type DataRoot, stagingDir } from './data-root.js'
import { datasetSnapshot } from './dataset-rows.js'
import { type Dataset, getDataset, getDatasetById } from './datasets.js'
import { addAuditEvent } from './events.js'
import { typeSql } from './rules.js'
import {
  assertColumnNames,
  assertKeyColumns,
  assertUniqueKeys,
  OP_COLUMN,
  openUpload,
} from './upload.js'

export type CrStatus = 'pending' | 'merging' | 'merged' | 'conflict' | 'failed' | 'closed'
export type CrMode = 'patch' | 'snapshot'

export interface Staged {
  readonly rows: number
  readonly upserts: number
  readonly deletes: number
  readonly new_columns: readonly { readonly name: string; readonly type: string }[]
  /** Columns of the dataset the upload carries (others stay unchanged). */
  readonly columns: readonly string[]
}

export interface ChangeRequest {
  readonly id: string
  readonly number: number
  readonly dataset: string
  readonly datasetId: number
  readonly title: string
  readonly author: string | null
  readonly baseVersion: number
  readonly mode: CrMode
  readonly revision: number
  readonly status: CrStatus
  readonly staged: Staged
  readonly failure: Record<string, unknown> | null
  readonly result: Record<string, unknown> | null
  readonly mergedVersion: number | null
  readonly createdAt: string
  readonly updatedAt: string
}

/** A change request as the CLI's --json and the HTTP API show it (snake_case fields). */
export function changeRequestJson(cr: ChangeRequest) {
  return {
    id: cr.id,
    number: cr.number,
    dataset: cr.dataset,
    title: cr.title,
    author: cr.author,
    status: cr.status,
    base_version: cr.baseVersion,
    mode: cr.mode,
    revision: cr.revision,
    staged: cr.staged,
    failure: cr.failure,
    merged_version: cr.mergedVersion,
    created_at: cr.createdAt,
    updated_at: cr.updatedAt,
  }
}

export interface CreateChangeRequestOptions {
  readonly dataset: string
  readonly from: string
  readonly title: string
  /** Default: the dataset's current version. */
  readonly baseVersion?: number
  readonly mode?: CrMode
  readonly author?: string
}

/** A new change request id: `cr_` and 16 lowercase letters or digits. */
export function newCrId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const bytes = randomBytes(16)
  return `cr_${[...bytes].map((b) => alphabet[b % 36]).join('')}`
}

const SAMPLE = 5

/**
 * Stages a change request: the upload is checked (names, keys, `_op` values), cast to the
 * dataset's types (values that do not convert are refused with samples), and written as
 * `r<revision>.parquet` with an `_op` column; then the store row is created (status pending).
 *
 * @example
 * const cr = await createChangeRequest(root, { dataset: 'products', from: 'fix.csv', title: 'fix prices' })
 * cr.staged // { rows: 3, upserts: 2, deletes: 1, new_columns: [], columns: ['id', 'price'] }
 */
export async function createChangeRequest(
  root: DataRoot,
  options: CreateChangeRequestOptions,
): Promise<ChangeRequest> {
  const dataset = await getDataset(root, options.dataset)
  const baseVersion = options.baseVersion ?? dataset.currentVersion
  const mode = options.mode ?? 'patch'
  const id = newCrId()
  const dir = stagingDir(root, dataset.id, id)
  let staged: Staged
  try {
    staged = await stage(dataset, options.from, mode, baseVersion, join(dir, 'r1.parquet'))
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true })
    throw error
  }
  const now = Date.now()
  await root.store.db.transaction().execute(async (tx) => {
    // Numbers are the dataset's highest plus one: writing its row first makes creators of one
    // dataset (another connection, instance or process) wait for each other's commit, so each
    // reads the number the previous one took (Postgres row lock, SQLite write lock).
    await tx
      .updateTable('datasets')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('id', '=', dataset.id)
      .execute()
    const last = await tx
      .selectFrom('change_requests')
      .select((eb) => eb.fn.max('number').as('n'))
      .where('dataset_id', '=', dataset.id)
      .executeTakeFirst()
    await tx
      .insertInto('change_requests')
      .values({
        id,
        dataset_id: dataset.id,
        number: Number(last?.n ?? 0) + 1,
        title: options.title,
        author: options.author ?? null,
        base_version: baseVersion,
        mode,
        revision: 1,
        status: 'pending',
        staged_json: JSON.stringify(staged),
        failure_json: null,
        result_json: null,
        merged_version: null,
        merged_by: null,
        merged_at: null,
        closed_at: null,
        created_at: now,
        updated_at: now,
      })
      .execute()
    await addAuditEvent(tx, {
      action: 'cr.create',
      actor: options.author ?? null,
      datasetId: dataset.id,
      crId: id,
      deltaVersion: baseVersion,
      details: { title: options.title, mode, staged },
    })
  })
  return getChangeRequest(root, id)
}

export interface ReviseChangeRequestOptions {
  /** The new rows, in any form createChangeRequest takes. */
  readonly from: string
  /** Default: the dataset's current version, as for a new change request. */
  readonly baseVersion?: number
  /** Default: the change request's mode. */
  readonly mode?: CrMode
  /** Default: unchanged. */
  readonly title?: string
  readonly actor?: string
}

/**
 * Replaces the rows of an open change request (pending, conflict or failed): the upload is
 * staged as revision n+1 (`r<n+1>.parquet`, earlier revisions kept for the audit trail), the
 * change request is pending again and a merge commits the new revision (its txn version).
 *
 * @example
 * const cr = await reviseChangeRequest(root, 'cr_8k2m4q7w1z9x3c5v', { from: 'fixed.csv' })
 * cr.revision // 2
 */
export async function reviseChangeRequest(
  root: DataRoot,
  id: string,
  options: ReviseChangeRequestOptions,
): Promise<ChangeRequest> {
  const cr = await getChangeRequest(root, id)
  const open: readonly CrStatus[] = ['pending', 'conflict', 'failed']
  const refuse = (status: CrStatus) =>
    new DuckmergeError(
      'INVALID_STATE',
      `Change request ${cr.id} is ${status}; only a pending, conflicting or failed one can get new rows.`,
      { cr_id: cr.id, status, wanted: 'pending' },
    )
  if (!open.includes(cr.status)) throw refuse(cr.status)
  const dataset = await getDatasetById(root, cr.datasetId)
  const baseVersion = options.baseVersion ?? dataset.currentVersion
  const mode = options.mode ?? cr.mode
  const revision = cr.revision + 1
  const file = join(stagingDir(root, dataset.id, cr.id), `r${revision}.parquet`)
  const staged = await stage(dataset, options.from, mode, baseVersion, file)
  try {
    await root.store.db.transaction().execute(async (tx: StoreTx) => {
      // Compare-and-set on the revision too: of two concurrent revisions, one wins.
      const updated = await tx
        .updateTable('change_requests')
        .set({
          revision,
          base_version: baseVersion,
          mode,
          title: options.title ?? cr.title,
          status: 'pending',
          staged_json: JSON.stringify(staged),
          failure_json: null,
          updated_at: Date.now(),
        })
        .where('id', '=', cr.id)
        .where('revision', '=', cr.revision)
        .where('status', 'in', [...open])
        .returning('id')
        .executeTakeFirst()
      if (!updated) throw refuse((await getChangeRequest(root, cr.id)).status)
      await addAuditEvent(tx, {
        action: 'cr.revise',
        actor: options.actor ?? null,
        datasetId: dataset.id,
        crId: cr.id,
        deltaVersion: baseVersion,
        details: { revision, mode, staged, previous_status: cr.status },
      })
    })
  } catch (error) {
    await fs.rm(file, { force: true })
    throw error
  }
  return getChangeRequest(root, cr.id)
}

/**
 * Checks and writes an upload as a staged revision `file`: names, keys and `_op` values checked,
 * values cast to the dataset's types (refused with samples when they do not convert), deletes
 * added for the base's keys a snapshot lacks. Nothing is left at `file` on failure.
 */
async function stage(
  dataset: Dataset,
  from: string,
  mode: CrMode,
  baseVersion: number,
  file: string,
): Promise<Staged> {
  const base = await datasetSnapshot(dataset, baseVersion)
  const duck = await DuckDb.open()
  try {
    const upload = await openUpload(duck, from)
    assertColumnNames(upload, mode === 'patch' ? [OP_COLUMN] : [])
    assertKeyColumns(upload, dataset.keyColumns)
    await assertUniqueKeys(duck, upload.relation, dataset.keyColumns, upload.label)
    const hasOp = upload.columns.some((c) => c.name === OP_COLUMN)
    if (hasOp) {
      const bad = await duck.allJson(
        sql`SELECT DISTINCT ${ident(OP_COLUMN)}::VARCHAR AS op FROM ${upload.relation} WHERE ${ident(OP_COLUMN)} IS NOT NULL AND ${ident(OP_COLUMN)}::VARCHAR NOT IN ('upsert', 'delete') LIMIT ${SAMPLE}`,
      )
      if (bad.length > 0)
        throw new DuckmergeError(
          'VALIDATION_FAILED',
          `${upload.label}: column _op must be "upsert" or "delete" (found ${bad.map((b) => JSON.stringify(b.op)).join(', ')}).`,
          { file: upload.label, column: OP_COLUMN, sample_values: bad.map((b) => b.op) },
        )
    }
    const types = new Map(dataset.schema.map((c) => [c.name, c.type]))
    const dataColumns = upload.columns.filter((c) => c.name !== OP_COLUMN)
    // Cast each known column to the dataset's type; a value that was not NULL and casts to NULL
    // does not convert.
    for (const c of dataColumns) {
      const type = types.get(c.name)
      if (type === undefined || type === c.type) continue
      const bad = await duck.allJson(
        sql`SELECT ${identList(dataset.keyColumns)}, ${ident(c.name)}::VARCHAR AS value FROM ${upload.relation}
          WHERE ${ident(c.name)} IS NOT NULL AND TRY_CAST(${ident(c.name)} AS ${typeSql(type)}) IS NULL LIMIT ${SAMPLE}`,
      )
      if (bad.length > 0)
        throw new DuckmergeError(
          'SCHEMA_MISMATCH',
          `${upload.label}: column "${c.name}" holds values that do not convert to ${type} (the dataset's type), e.g. ${bad.map((b) => JSON.stringify(b.value)).join(', ')}.`,
          { file: upload.label, column: c.name, type, sample: bad },
        )
    }
    const projected = dataColumns.map((c) => {
      const type = types.get(c.name)
      return type === undefined
        ? ident(c.name)
        : sql`CAST(${ident(c.name)} AS ${typeSql(type)}) AS ${ident(c.name)}`
    })
    const op = hasOp ? sql`coalesce(${ident(OP_COLUMN)}::VARCHAR, 'upsert')` : sql`'upsert'`
    let patch = sql`SELECT ${joinSql(projected)}, ${op} AS ${ident(OP_COLUMN)} FROM ${upload.relation}`
    if (mode === 'snapshot') {
      // Keys of the base version the snapshot lacks are deletes.
      await registerSnapshot(duck, base, '__dm_base')
      const keys = identList(dataset.keyColumns)
      const others = dataColumns
        .filter((c) => !dataset.keyColumns.includes(c.name))
        .map((c) => sql`NULL AS ${ident(c.name)}`)
      patch = sql`${patch} UNION ALL BY NAME SELECT ${keys}${others.length ? sql`, ${joinSql(others)}` : sql``}, 'delete' AS ${ident(OP_COLUMN)}
        FROM __dm_base b WHERE NOT EXISTS (SELECT 1 FROM ${upload.relation} u WHERE ${joinSql(
          dataset.keyColumns.map((k) => sql`u.${ident(k)} = b.${ident(k)}`),
          ' AND ',
        )})`
    }
    await fs.mkdir(dirname(file), { recursive: true })
    await duck.run(sql`COPY (${patch}) TO ${literal(`${file}.tmp`)} (FORMAT parquet)`)
    await fs.rename(`${file}.tmp`, file)
    const counts = await duck.one<{ rows: bigint; deletes: bigint }>(
      sql`SELECT count(*) AS rows, count(*) FILTER (WHERE ${ident(OP_COLUMN)} = 'delete') AS deletes FROM read_parquet(${literal(file)})`,
    )
    const rows = Number(counts?.rows ?? 0)
    const deletes = Number(counts?.deletes ?? 0)
    return {
      rows,
      upserts: rows - deletes,
      deletes,
      new_columns: dataColumns
        .filter((c) => !types.has(c.name))
        .map((c) => ({ name: c.name, type: c.type })),
      columns: dataColumns.filter((c) => types.has(c.name)).map((c) => c.name),
    }
  } catch (error) {
    await fs.rm(file, { force: true })
    throw error
  } finally {
    duck.close()
  }
}

/** The staged patch of a change request (Parquet with `_op`). */
export function stagedFile(root: DataRoot, cr: ChangeRequest): string {
  return join(stagingDir(root, cr.datasetId, cr.id), `r${cr.revision}.parquet`)
}

/** A change request by id; NOT_FOUND when there is none. */
export async function getChangeRequest(root: DataRoot, id: string): Promise<ChangeRequest> {
  return (await changeRequestAndDataset(root, id)).cr
}

/** A change request by id with its dataset (synced once, for callers that need both). */
export async function changeRequestAndDataset(
  root: DataRoot,
  id: string,
): Promise<{ cr: ChangeRequest; dataset: Dataset }> {
  const row = await root.store.db
    .selectFrom('change_requests')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row)
    throw new DuckmergeError(
      'NOT_FOUND',
      `No change request ${JSON.stringify(id)} in ${root.path}.`,
      { cr_id: id },
    )
  const dataset = await getDatasetById(root, Number(row.dataset_id))
  return { cr: crOf(row, dataset), dataset }
}

/** The change requests of a dataset, newest first, optionally of one status. */
export async function listChangeRequests(
  root: DataRoot,
  datasetName: string,
  status?: CrStatus,
): Promise<ChangeRequest[]> {
  const dataset = await getDataset(root, datasetName)
  let query = root.store.db
    .selectFrom('change_requests')
    .selectAll()
    .where('dataset_id', '=', dataset.id)
  if (status !== undefined) query = query.where('status', '=', status)
  const rows = await query.orderBy('number', 'desc').execute()
  return rows.map((r) => crOf(r, dataset))
}

/**
 * Moves a change request from one of `from` to `to` (compare-and-set) with its audit event in
 * the same store transaction; INVALID_STATE when its status is not among `from`.
 */
export async function transition(
  db: StoreDb,
  cr: ChangeRequest,
  from: readonly CrStatus[],
  to: CrStatus,
  event: Parameters<typeof addAuditEvent>[1],
  set: Partial<{
    failure_json: string | null
    result_json: string | null
    merged_version: number
    merged_by: string | null
    merged_at: number
    closed_at: number | null
  }> = {},
): Promise<void> {
  await db.transaction().execute(async (tx: StoreTx) => {
    const updated = await tx
      .updateTable('change_requests')
      .set({ status: to, updated_at: Date.now(), ...set })
      .where('id', '=', cr.id)
      .where('status', 'in', [...from])
      .returning('id')
      .executeTakeFirst()
    if (!updated)
      throw new DuckmergeError(
        'INVALID_STATE',
        `Change request ${cr.id} is ${cr.status}; it can become ${to} only from ${from.join(' or ')}.`,
        { cr_id: cr.id, status: cr.status, wanted: to },
      )
    await addAuditEvent(tx, { ...event, crId: cr.id, datasetId: cr.datasetId })
  })
}

/** Closes an open change request. */
export function closeChangeRequest(
  root: DataRoot,
  id: string,
  actor?: string,
): Promise<ChangeRequest> {
  const open = ['pending', 'conflict', 'failed'] as const
  return move(root, id, open, 'closed', 'cr.close', actor, { closed_at: Date.now() })
}

/** Reopens a closed change request (pending again). */
export function reopenChangeRequest(
  root: DataRoot,
  id: string,
  actor?: string,
): Promise<ChangeRequest> {
  return move(root, id, ['closed'], 'pending', 'cr.reopen', actor, { closed_at: null })
}

/** One user-asked transition of a change request, read back after it is stored. */
async function move(
  root: DataRoot,
  id: string,
  from: readonly CrStatus[],
  to: CrStatus,
  action: Parameters<typeof addAuditEvent>[1]['action'],
  actor: string | undefined,
  fields: Parameters<typeof transition>[5],
): Promise<ChangeRequest> {
  const cr = await getChangeRequest(root, id)
  await transition(root.store.db, cr, from, to, { action, actor: actor ?? null }, fields)
  return getChangeRequest(root, id)
}

function crOf(row: Record<string, unknown>, dataset: Dataset): ChangeRequest {
  const r = row as Record<string, string | number | null>
  return {
    id: String(r.id),
    number: Number(r.number),
    dataset: dataset.name,
    datasetId: dataset.id,
    title: String(r.title),
    author: r.author === null ? null : String(r.author),
    baseVersion: Number(r.base_version),
    mode: r.mode as CrMode,
    revision: Number(r.revision),
    status: r.status as CrStatus,
    staged: JSON.parse(String(r.staged_json)) as Staged,
    failure:
      r.failure_json === null
        ? null
        : (JSON.parse(String(r.failure_json)) as Record<string, unknown>),
    result:
      r.result_json === null
        ? null
        : (JSON.parse(String(r.result_json)) as Record<string, unknown>),
    mergedVersion: r.merged_version === null ? null : Number(r.merged_version),
    createdAt: new Date(Number(r.created_at)).toISOString(),
    updatedAt: new Date(Number(r.updated_at)).toISOString(),
  }
}
