/**
 * The data root: one folder holding the metadata store, the datasets' Delta tables, staged
 * change requests and the audit trail. Every path under it is built from ids the store issued
 * (dataset numbers, `cr_` ids), never from names users type.
 *
 *   <root>/duckmerge.db                              metadata store (SQLite default)
 *   <root>/datasets/<dataset id>/table/              Delta table
 *   <root>/staging/<dataset id>/<cr id>/r<rev>.parquet  normalised patch (with _op)
 *   <root>/audit/change_requests/<cr id>/            merge_result.json, diff.json, …
 */
import { join, relative, resolve } from 'node:path'
import { DuckmergeError } from '../errors.js'
import { openStore, type Store } from '../store/store.js'
import { recoverMerges } from './merge-recovery.js'

/** Where the data root is when neither an option nor DELTA_DATA_ROOT names it. */
export const DEFAULT_ROOT_NAME = 'duckmerge-data'

export interface DataRootOptions {
  /** The root folder; else DELTA_DATA_ROOT, else `duckmerge-data` in `cwd`. */
  readonly root?: string
  /** A store URL (`postgres://…`); else DUCKMERGE_STORE_URL, else `<root>/duckmerge.db`. */
  readonly store?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  /** Settle merges a dead process left `merging` (default true). */
  readonly recover?: boolean
}

export interface DataRoot {
  readonly path: string
  readonly store: Store
  close(): Promise<void>
}

/** The root folder the options, environment and working directory select. */
export function resolveRootPath(options: DataRootOptions = {}): string {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const chosen = options.root ?? env.DELTA_DATA_ROOT
  return resolve(cwd, chosen && chosen !== '' ? chosen : DEFAULT_ROOT_NAME)
}

/**
 * Opens the data root and its store (created and migrated on first use).
 *
 * @example
 * const root = await openDataRoot({ root: '/data/delta' })
 * try { await listDatasets(root) } finally { await root.close() }
 */
export async function openDataRoot(options: DataRootOptions = {}): Promise<DataRoot> {
  const path = resolveRootPath(options)
  const env = options.env ?? process.env
  const url = options.store ?? env.DUCKMERGE_STORE_URL ?? join(path, 'duckmerge.db')
  const store = await openStore({ url: url === '' ? join(path, 'duckmerge.db') : url })
  const root: DataRoot = { path, store, close: () => store.close() }
  // A merge killed mid-way (SIGKILL, power loss) is settled by whichever command comes next.
  if (options.recover !== false)
    await recoverMerges(root).catch(async (error: unknown) => {
      await store.close()
      throw error
    })
  return root
}

/** The Delta table of a dataset. */
export function datasetTablePath(root: DataRoot, datasetId: number): string {
  return under(root, 'datasets', String(checkId(datasetId)), 'table')
}

/** The folder holding a change request's staged revisions. */
export function stagingDir(root: DataRoot, datasetId: number, crId: string): string {
  return under(root, 'staging', String(checkId(datasetId)), checkCrId(crId))
}

/** The audit folder of a change request. */
export function auditDir(root: DataRoot, crId: string): string {
  return under(root, 'audit', 'change_requests', checkCrId(crId))
}

/** Stored diffs of a change request (rebuilt from the staged patch and the table when gone). */
export function diffCacheDir(root: DataRoot, crId: string): string {
  return under(root, 'cache', 'diff', checkCrId(crId))
}

/** A scratch folder under the root (same filesystem, so renames out of it are atomic). */
export function tmpDir(root: DataRoot): string {
  return under(root, 'tmp')
}

export const CR_ID_PATTERN = /^cr_[a-z0-9]{16}$/

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1)
    throw new DuckmergeError('INTERNAL', `bad dataset id ${id}`)
  return id
}

function checkCrId(id: string): string {
  if (!CR_ID_PATTERN.test(id)) throw new DuckmergeError('INTERNAL', `bad change request id ${id}`)
  return id
}

/** Second layer behind ids-only paths: the result must stay inside the root. */
function under(root: DataRoot, ...parts: string[]): string {
  const path = join(root.path, ...parts)
  const rel = relative(root.path, path)
  if (rel.startsWith('..') || resolve(root.path, rel) !== path)
    throw new DuckmergeError('INTERNAL', `path ${path} escapes the data root ${root.path}`)
  return path
}
