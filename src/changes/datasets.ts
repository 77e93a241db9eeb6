/**
 * Datasets: a Delta table under the data root, its key columns, and store metadata (version, row
 * count, schema) that mirrors the Delta head: synced after every commit and whenever opened, so
 * a writer outside duckmerge (Spark, `delta` commands) never leaves it stale.
 */
import { promises as fs } from 'node:fs'
import { DuckDb } from '../engine/duckdb.js'
import { identList, literal, sql } from '../engine/sql.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { createTable } from '../formats/delta/operations/create.js'
import { liveRowsOf } from '../formats/delta/operations/write-context.js'
import { registerSnapshot } from '../formats/delta/scan.js'
import { deltaToDuckDbType } from '../formats/delta/schema.js'
import { loadSnapshot } from '../formats/delta/snapshot.js'
import type { Snapshot } from '../formats/delta/snapshot-types.js'
import type { DatasetTable } from '../store/schema.js'
import { isUniqueViolation } from '../store/store.js'
import { type DataRoot, datasetTablePath } from './data-root.js'
import { addAuditEvent } from './events.js'
import { assertColumnNames, assertKeyColumns, assertUniqueKeys, openUpload } from './upload.js'

export interface DatasetColumn {
  readonly name: string
  /** DuckDB type. */
  readonly type: string
  readonly nullable: boolean
  readonly key: boolean
}

export type ConflictRule = 'cell' | 'row'

export interface Dataset {
  readonly id: number
  readonly name: string
  readonly keyColumns: readonly string[]
  readonly currentVersion: number
  readonly rowCount: number
  readonly schema: readonly DatasetColumn[]
  readonly conflictRule: ConflictRule
  readonly createdBy: string | null
  readonly createdAt: string
  readonly updatedAt: string
  /** Absolute path of the Delta table. */
  readonly tablePath: string
}

export interface CreateDatasetOptions {
  readonly name: string
  /** Parquet, CSV, JSONL file, or a Delta table folder (read at its latest version). */
  readonly from: string
  readonly key: readonly string[]
  readonly createdBy?: string
}

/** Dataset names: lowercase letters, digits, `_` and `-`, so they are safe in URLs and logs. */
export const DATASET_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/

/**
 * Creates a dataset: checks the upload (column names, key present, unique, not null), commits
 * it as version 0 of a new Delta table under the root, then records it in the store.
 *
 * @example
 * const ds = await createDataset(root, { name: 'products', from: 'products.parquet', key: ['id'] })
 * ds.currentVersion // 0
 */
export async function createDataset(
  root: DataRoot,
  options: CreateDatasetOptions,
): Promise<Dataset> {
  assertDatasetName(options.name)
  if (options.key.length === 0)
    throw new DuckmergeError(
      'KEY_COLUMN_MISSING',
      `Dataset "${options.name}" needs at least one key column.`,
      {
        dataset: options.name,
        hint: 'Name the columns that identify a row with {key}.',
      },
    )
  const db = root.store.db
  const existing = await db
    .selectFrom('datasets')
    .select('id')
    .where('name', '=', options.name)
    .executeTakeFirst()
  if (existing) throw alreadyExists(options.name)

  const duck = await DuckDb.open()
  let id: number
  try {
    const upload = await openUpload(duck, options.from)
    assertColumnNames(upload)
    assertKeyColumns(upload, options.key)
    await assertUniqueKeys(duck, upload.relation, options.key, upload.label)
    const now = Date.now()
    try {
      const row = await db
        .insertInto('datasets')
        .values({
          name: options.name,
          key_columns: JSON.stringify(options.key),
          current_version: -1,
          row_count: 0,
          schema_json: '[]',
          settings_json: '{}',
          created_by: options.createdBy ?? null,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
      id = Number(row.id)
    } catch (error) {
      if (isUniqueViolation(error)) throw alreadyExists(options.name)
      throw error
    }
    const tablePath = datasetTablePath(root, id)
    try {
      // Key columns first, in key order: readers see the identity of a row at a glance.
      const rest = upload.columns.map((c) => c.name).filter((n) => !options.key.includes(n))
      const query = sql`SELECT ${identList([...options.key, ...rest])} FROM ${upload.relation}`
      // The upload view lives in this session; createTable runs its own, so copy it to Parquet first.
      const file = `${tablePath}.upload.parquet`
      await fs.mkdir(tablePath, { recursive: true })
      await duck.run(sql`COPY (${query}) TO ${literal(file)} (FORMAT parquet)`)
      try {
        await createTable({ path: tablePath, source: { file }, name: options.name })
      } finally {
        await fs.rm(file, { force: true })
      }
    } catch (error) {
      await fs.rm(tablePath, { recursive: true, force: true })
      await db.deleteFrom('datasets').where('id', '=', id).execute()
      throw error
    }
  } finally {
    duck.close()
  }
  return syncDataset(root, id, { action: 'dataset.create', actor: options.createdBy ?? null })
}

/** Every dataset, by name, each synced with its Delta head. */
export async function listDatasets(root: DataRoot): Promise<Dataset[]> {
  const rows = await root.store.db
    .selectFrom('datasets')
    .select(['id', 'current_version'])
    .orderBy('name')
    .execute()
  const out: Dataset[] = []
  for (const row of rows) {
    const synced = await syncDataset(root, Number(row.id)).catch(() => undefined)
    if (synced) out.push(synced)
  }
  return out
}

/** The dataset called `name`, synced with its Delta head; NOT_FOUND when there is none. */
export async function getDataset(root: DataRoot, name: string): Promise<Dataset> {
  const row = await root.store.db
    .selectFrom('datasets')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirst()
  if (!row)
    throw new DuckmergeError('NOT_FOUND', `No dataset named "${name}" in ${root.path}.`, {
      dataset: name,
      root: root.path,
    })
  return syncDataset(root, Number(row.id))
}

/** The dataset with store id `id`, synced. */
export async function getDatasetById(root: DataRoot, id: number): Promise<Dataset> {
  return syncDataset(root, id)
}

/** Facts about a Delta snapshot the store mirrors. */
export async function headFacts(
  snapshot: Snapshot,
  keys: readonly string[],
): Promise<{ version: number; rowCount: number; schema: DatasetColumn[] }> {
  let rowCount: number
  if (snapshot.files.every((f) => typeof f.stats === 'string' && f.stats.includes('numRecords')))
    rowCount = snapshot.files.reduce((n, f) => n + liveRowsOf(f), 0)
  else {
    // Files without statistics: count the rows themselves.
    const duck = await DuckDb.open()
    try {
      await registerSnapshot(duck, snapshot, 'head')
      const row = await duck.one<{ n: bigint }>(sql`SELECT count(*) AS n FROM head`)
      rowCount = Number(row?.n ?? 0)
    } finally {
      duck.close()
    }
  }
  const schema = snapshot.schema.fields.map((f) => ({
    name: f.name,
    type: deltaToDuckDbType(f.type),
    nullable: !keys.includes(f.name) && f.nullable,
    key: keys.includes(f.name),
  }))
  return { version: snapshot.version, rowCount, schema }
}

/**
 * Reconciles the store row of a dataset with its Delta head (the log is the truth) and returns
 * the dataset. Writes (and records `action`) only when something differs or `action` is given.
 */
export async function syncDataset(
  root: DataRoot,
  id: number,
  record?: { readonly action: 'dataset.create' | 'dataset.resync'; readonly actor: string | null },
): Promise<Dataset> {
  const db = root.store.db
  const row = await db.selectFrom('datasets').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row)
    throw new DuckmergeError('NOT_FOUND', `No dataset with id ${id} in ${root.path}.`, {
      dataset: id,
    })
  const keys = JSON.parse(row.key_columns) as string[]
  const tablePath = datasetTablePath(root, id)
  let snapshot: Snapshot
  try {
    snapshot = await loadSnapshot(tablePath)
  } catch (error) {
    throw new DuckmergeError(
      'DELTA_LOG_INVALID',
      `Dataset "${row.name}": its Delta table ${tablePath} cannot be read: ${messageOf(error)}`,
      { dataset: row.name, table: tablePath },
      { cause: error },
    )
  }
  const facts = await headFacts(snapshot, keys)
  const schemaJson = JSON.stringify(facts.schema)
  const differs =
    Number(row.current_version) !== facts.version ||
    Number(row.row_count) !== facts.rowCount ||
    row.schema_json !== schemaJson
  if (differs || record) {
    const now = Date.now()
    await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('datasets')
        .set({
          current_version: facts.version,
          row_count: facts.rowCount,
          schema_json: schemaJson,
          updated_at: now,
        })
        .where('id', '=', id)
        .execute()
      await addAuditEvent(tx, {
        action: record?.action ?? 'dataset.resync',
        actor: record?.actor ?? null,
        datasetId: id,
        deltaVersion: facts.version,
        details: { from_version: Number(row.current_version), row_count: facts.rowCount },
      })
    })
    return datasetOf(
      {
        ...row,
        current_version: facts.version,
        row_count: facts.rowCount,
        schema_json: schemaJson,
        updated_at: now,
      },
      tablePath,
    )
  }
  return datasetOf(row, tablePath)
}

/** Sets the dataset's default conflict rule. */
export async function setConflictRule(
  root: DataRoot,
  name: string,
  rule: ConflictRule,
): Promise<Dataset> {
  const dataset = await getDataset(root, name)
  await root.store.db
    .updateTable('datasets')
    .set({ settings_json: JSON.stringify({ conflict_rule: rule }), updated_at: Date.now() })
    .where('id', '=', dataset.id)
    .execute()
  return getDataset(root, name)
}

type DatasetRow = { [K in keyof DatasetTable]: K extends 'id' ? number : DatasetTable[K] }

function datasetOf(row: DatasetRow, tablePath: string): Dataset {
  const settings = JSON.parse(row.settings_json) as { conflict_rule?: ConflictRule }
  return {
    id: Number(row.id),
    name: row.name,
    keyColumns: JSON.parse(row.key_columns) as string[],
    currentVersion: Number(row.current_version),
    rowCount: Number(row.row_count),
    schema: JSON.parse(row.schema_json) as DatasetColumn[],
    conflictRule: settings.conflict_rule ?? 'cell',
    createdBy: row.created_by,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
    tablePath,
  }
}

function assertDatasetName(name: string): void {
  if (!DATASET_NAME_PATTERN.test(name))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Dataset name ${JSON.stringify(name)} is not allowed: use 1-63 lowercase letters, digits, "_" or "-", starting with a letter or digit.`,
      { dataset: name, reason: 'invalid_name' },
    )
}

function alreadyExists(name: string): DuckmergeError {
  return new DuckmergeError('ALREADY_EXISTS', `A dataset named "${name}" already exists.`, {
    dataset: name,
  })
}
