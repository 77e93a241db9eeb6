/**
 * Crash recovery of change-request merges. A merge writes a manifest (who runs it, the table's
 * files before it wrote any, its phase, the report it is about to commit) before it marks the
 * change request `merging`, and removes it after `finalize`. When the process holding a
 * `merging` change request is gone (SIGKILL, power loss), the next command on the root settles it:
 *
 *   Delta log holds txn(duckmerge-cr-<id>) ≥ revision → the commit landed: merged (recovered)
 *   otherwise → failed {code: interrupted, phase}; files the merge wrote are removed
 *   either way → the dataset row is resynced from the Delta head
 *
 * The txn action makes the outcome a fact of the table, not of the process: a change request is
 * never applied twice, whichever process looks.
 *
 * Whether the holder is gone, a lease in two parts: the manifest says who holds the merge (its
 * pid, checked on this host; another host's holder touches the manifest every HEARTBEAT_MS and
 * counts as alive until it is FOREIGN_HOLDER_TTL_MS old), and on Postgres the dataset's merge lock
 * must be free too (every merge holds it from before `merging` until after `finalize`, on a
 * session that dies with its process). Either one saying "alive" leaves the merge alone: a merge
 * whose lock connection dropped (a Postgres restart) still has its heartbeat, a merge whose
 * heartbeat stalled still has its lock. A holder that stalled past its lease and wakes after it
 * was settled finds its manifest gone (holdsManifestSync) and stops before committing.
 */
import { randomUUID } from 'node:crypto'
import {
  promises as fs,
  mkdirSync,
  readFileSync,
  renameSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { join, relative } from 'node:path'
import { DuckmergeError } from '../errors.js'
import { readCommit } from '../formats/delta/log-store.js'
import { loadSnapshot } from '../formats/delta/snapshot.js'
import { STAGING_PREFIX } from '../formats/delta/write-files.js'
import { tryDatasetLock, withDatasetLock } from '../store/dataset-lock.js'
import { type AuditFiles, writeAuditFiles } from './audit-files.js'
import { type ChangeRequest, getChangeRequest, transition } from './change-requests.js'
import { CR_ID_PATTERN, type DataRoot, tmpDir } from './data-root.js'
import { getDatasetById, syncDataset } from './datasets.js'

/** The txn appId of a change request's merge commit (PROTOCOL.md, Transaction Identifiers). */
export function crAppId(crId: string): string {
  return `duckmerge-cr-${crId}`
}

export interface MergeManifest {
  readonly cr_id: string
  readonly dataset_id: number
  readonly revision: number
  readonly pid: number
  readonly host: string
  readonly started_at: number
  /** The Delta version the merge read (commits after it may be this merge's). */
  readonly read_version: number
  readonly phase: string
  readonly requested_by: string | null
  /** Files and folders of the table (relative, without _delta_log) before anything was written. */
  readonly files_before: readonly string[]
  /** The report the merge is committing (set at `write`), for a recovered finalize. */
  readonly report?: Record<string, unknown>
  /** The audit files of a committed merge (set at `finalize`), for a recovered `audit`. */
  readonly audit?: AuditFiles
  readonly updated_at: number
}

// A running merge touches its manifest this often; another host's merge is taken as dead when
// its manifest has not moved for FOREIGN_HOLDER_TTL_MS (missed heartbeats, with room for clock skew).
const HEARTBEAT_MS = 20_000
const FOREIGN_HOLDER_TTL_MS = 3 * 60 * 1000

/**
 * The lease in force. Tests of the lease only (test/integration/cr-merge-lease.test.ts) shorten
 * it with DUCKMERGE_TEST_MERGE_LEASE="HEARTBEAT_MS,TTL_MS" and give each process its own host
 * with DUCKMERGE_TEST_HOST, so a merge outliving the TTL and a stalled one take seconds, not minutes.
 */
function lease(): { readonly heartbeatMs: number; readonly ttlMs: number; readonly host: string } {
  const [heartbeatMs, ttlMs] = (process.env.DUCKMERGE_TEST_MERGE_LEASE ?? '').split(',').map(Number)
  return {
    heartbeatMs: heartbeatMs || HEARTBEAT_MS,
    ttlMs: ttlMs || FOREIGN_HOLDER_TTL_MS,
    host: process.env.DUCKMERGE_TEST_HOST || hostname(),
  }
}

function manifestPath(root: DataRoot, crId: string): string {
  return join(tmpDir(root), 'merges', `${crId}.json`)
}

/**
 * Writes (or updates) the manifest atomically, its mtime set to its `updated_at` (renewals move
 * the mtime only). Synchronous: phases change inside the Delta writer's progress callback, and
 * the phase must be on disk before the next step runs.
 */
export function writeManifestSync(root: DataRoot, manifest: MergeManifest): void {
  const path = manifestPath(root, manifest.cr_id)
  mkdirSync(join(tmpDir(root), 'merges'), { recursive: true })
  const temp = `${path}.${randomUUID()}.tmp`
  writeFileSync(temp, JSON.stringify(manifest))
  const updated = new Date(manifest.updated_at)
  utimesSync(temp, updated, updated)
  renameSync(temp, path)
}

/** The manifest, with `updated_at` its last renewal: the later of its field and the file's mtime. */
export async function readManifest(root: DataRoot, crId: string): Promise<MergeManifest | null> {
  try {
    const path = manifestPath(root, crId)
    const manifest = JSON.parse(await fs.readFile(path, 'utf8')) as MergeManifest
    const { mtimeMs } = await fs.stat(path)
    return { ...manifest, updated_at: Math.max(manifest.updated_at, Math.floor(mtimeMs)) }
  } catch {
    return null
  }
}

export async function removeManifest(root: DataRoot, crId: string): Promise<void> {
  await fs.rm(manifestPath(root, crId), { force: true })
}

/** A new manifest for a merge about to start: lists the table's files as they are now. */
export async function newManifest(
  cr: ChangeRequest,
  tablePath: string,
  readVersion: number,
  requestedBy: string | null,
): Promise<MergeManifest> {
  const now = Date.now()
  return {
    cr_id: cr.id,
    dataset_id: cr.datasetId,
    revision: cr.revision,
    pid: process.pid,
    host: lease().host,
    started_at: now,
    read_version: readVersion,
    phase: 'lock',
    requested_by: requestedBy,
    files_before: await tableEntries(tablePath),
    updated_at: now,
  }
}

const DEAD_HOLDER_TRIES = 8

/** Whether a manifest names a process of this host that is gone. */
function diedHere(manifest: MergeManifest | null): boolean {
  return manifest !== null && manifest.host === lease().host && !holderAlive(manifest)
}

/** Whether the process a manifest names may still be running its merge. */
export function holderAlive(manifest: MergeManifest | null): boolean {
  if (!manifest) return false
  const { host, ttlMs } = lease()
  if (manifest.host !== host) return Date.now() - manifest.updated_at < ttlMs
  if (manifest.pid === process.pid) return true
  try {
    process.kill(manifest.pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface RecoveredMerge {
  readonly cr_id: string
  readonly outcome: 'merged' | 'interrupted'
  readonly merged_version: number | null
  readonly phase: string | null
  readonly files_removed: number
}

/**
 * Settles every change request left `merging` by a process that is gone (all of them, only
 * `crId`, or only those of `datasetId`). Merges whose holder still runs are left alone.
 *
 * @example
 * const recovered = await recoverMerges(root) // [{ cr_id, outcome: 'merged', merged_version: 4, … }]
 */
export async function recoverMerges(
  root: DataRoot,
  options: { readonly crId?: string; readonly datasetId?: number } = {},
): Promise<RecoveredMerge[]> {
  let query = root.store.db
    .selectFrom('change_requests')
    .select(['id', 'dataset_id'])
    .where('status', '=', 'merging')
  if (options.crId !== undefined) query = query.where('id', '=', options.crId)
  if (options.datasetId !== undefined) query = query.where('dataset_id', '=', options.datasetId)
  const stuck = await query.execute()
  const out: RecoveredMerge[] = []
  for (const { id, dataset_id } of stuck) {
    const settle = async () => {
      const manifest = await readManifest(root, id)
      if (holderAlive(manifest)) return
      try {
        out.push(await recoverOne(root, await getChangeRequest(root, id), manifest))
      } catch (error) {
        // Another process settled it first (its compare-and-set won).
        if (!(error instanceof DuckmergeError && error.code === 'INVALID_STATE')) throw error
      }
    }
    // Held by a live merge (here or elsewhere): not ours to settle. A holder on this host that
    // was just killed may still hold the Postgres lock for a moment (until its server session
    // sees the connection closed): wait a little for that one.
    for (let tries = 1; ; tries++) {
      const { ran } = await tryDatasetLock(root.store, Number(dataset_id), settle)
      if (ran || tries >= DEAD_HOLDER_TRIES || !diedHere(await readManifest(root, id))) break
      await new Promise((resolve) => setTimeout(resolve, 100 * tries))
    }
  }
  await finishAudits(root, options.crId)
  return out
}

/**
 * Runs a merge of change request `crId` (`fn`) holding its dataset's merge lock, after settling
 * what dead merges left on that dataset. A dry run writes nothing and takes no lock.
 */
export async function withMergeLock<T>(
  root: DataRoot,
  crId: string,
  dryRun: boolean,
  fn: () => Promise<T>,
): Promise<T> {
  const row = await root.store.db
    .selectFrom('change_requests')
    .select('dataset_id')
    .where('id', '=', crId)
    .executeTakeFirst()
  if (!row || dryRun) {
    await recoverMerges(root, { crId })
    return fn()
  }
  const datasetId = Number(row.dataset_id)
  return withDatasetLock(root.store, datasetId, async () => {
    await recoverMerges(root, { datasetId })
    const heartbeat = setInterval(() => renewManifestSync(root, crId), lease().heartbeatMs)
    heartbeat.unref()
    try {
      return await fn()
    } finally {
      clearInterval(heartbeat)
    }
  })
}

/**
 * Whether the manifest on disk is still `manifest`'s merge (same process, same start): false
 * once another process settled the merge (recovery removes the manifest) or a new merge of the
 * change request wrote its own.
 */
export function holdsManifestSync(root: DataRoot, manifest: MergeManifest): boolean {
  try {
    const now = JSON.parse(
      readFileSync(manifestPath(root, manifest.cr_id), 'utf8'),
    ) as MergeManifest
    return (
      now.pid === manifest.pid &&
      now.host === manifest.host &&
      now.started_at === manifest.started_at
    )
  } catch {
    return false
  }
}

/**
 * Renews this process's manifest of `crId` by setting its mtime, which never creates the file: a
 * holder stopped halfway through a renewal (SIGSTOP, a frozen VM) cannot bring back a manifest
 * that recovery removed meanwhile — rewriting it (temp file, rename) could, and the holder
 * would then go on to commit what its change request says was interrupted.
 */
function renewManifestSync(root: DataRoot, crId: string): void {
  try {
    const path = manifestPath(root, crId)
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as MergeManifest
    if (manifest.pid === process.pid && manifest.host === lease().host) {
      const now = new Date()
      utimesSync(path, now, now)
    }
  } catch {
    // no manifest (not started, or done, or settled by recovery)
  }
}

/**
 * Manifests left by merges that died after their status was settled: a merged one stopped
 * during `audit`, so its audit files (kept in the manifest) are written now; any other is
 * only removed.
 */
async function finishAudits(root: DataRoot, only: string | undefined): Promise<void> {
  const names = await fs.readdir(join(tmpDir(root), 'merges')).catch(() => [] as string[])
  for (const name of names) {
    const id = name.replace(/\.json$/, '')
    if (!CR_ID_PATTERN.test(id) || !name.endsWith('.json') || (only !== undefined && id !== only))
      continue
    const manifest = await readManifest(root, id)
    if (manifest === null || holderAlive(manifest)) continue
    const cr = await getChangeRequest(root, id).catch(() => undefined)
    if (cr?.status === 'merging') continue
    if (cr?.status === 'merged' && manifest.audit) {
      const result = manifest.audit.merge_result ?? {}
      await writeAuditFiles(root, id, {
        ...manifest.audit,
        merge_result: { ...result, recovered: true, finished_at: new Date().toISOString() },
      })
    }
    await removeManifest(root, id)
  }
}

/**
 * Settles a `merging` change request from the Delta log: merged at the commit holding its txn,
 * else failed (interrupted) with the files its merge wrote removed (those not in `manifest`).
 */
export async function recoverOne(
  root: DataRoot,
  cr: ChangeRequest,
  manifest: MergeManifest | null,
): Promise<RecoveredMerge> {
  const dataset = await getDatasetById(root, cr.datasetId)
  const table = dataset.tablePath
  const head = await loadSnapshot(table)
  const appId = crAppId(cr.id)
  const landed = (head.appTransactions.get(appId)?.version ?? -1) >= cr.revision
  const from = manifest?.read_version ?? cr.baseVersion
  // Commits after the merge read the table: the one holding our txn, and files others added.
  let version: number | null = null
  let metrics: Readonly<Record<string, unknown>> = {}
  const addedSince = new Set<string>()
  for (let v = from + 1; v <= head.version; v++) {
    const actions = await readCommit(table, v).catch(() => [])
    const isOurs = actions.some((a) => 'txn' in a && a.txn.appId === appId)
    for (const a of actions) {
      if (isOurs && 'commitInfo' in a) metrics = a.commitInfo.operationMetrics ?? {}
      if ('add' in a) addedSince.add(decodeURIComponent(a.add.path))
    }
    if (isOurs) version = v
  }
  const phase = manifest?.phase ?? null
  const actor = manifest?.requested_by ?? null
  if (landed && version !== null) {
    const report = {
      ...(manifest?.report ?? reportOfCommit(cr, version, metrics)),
      merged_version: version,
      commit_id: `v${version}`,
      recovered: true,
    }
    const mergeReport = report as Record<string, unknown> & { diff?: Record<string, unknown> }
    if (mergeReport.diff) mergeReport.diff = { ...mergeReport.diff, version_after: version }
    await transition(
      root.store.db,
      cr,
      ['merging'],
      'merged',
      { action: 'merge.recovered', actor, deltaVersion: version, details: { phase } },
      {
        merged_version: version,
        merged_by: actor,
        merged_at: Date.now(),
        result_json: JSON.stringify({ ...report, idempotent_replay: false }),
        failure_json: null,
      },
    )
    await writeAuditFiles(root, cr.id, {
      ...manifest?.audit,
      merge_result: {
        ...manifest?.audit?.merge_result,
        ...report,
        status: 'merged',
        versions: { base: cr.baseVersion, main_before: from, merged: version },
        commit: { version, txn_app_id: appId },
        finished_at: new Date().toISOString(),
      },
    })
    await syncDataset(root, cr.datasetId)
    await removeManifest(root, cr.id)
    return { cr_id: cr.id, outcome: 'merged', merged_version: version, phase, files_removed: 0 }
  }
  // Not committed: whatever the merge wrote into the table folder is referenced by no commit.
  let removed = 0
  if (manifest) {
    const before = new Set(manifest.files_before)
    const live = new Set(head.files.map((f) => decodeURIComponent(f.path)))
    for (const entry of await tableEntries(table)) {
      if (before.has(entry) || live.has(entry) || addedSince.has(entry)) continue
      await fs.rm(join(table, entry), { recursive: true, force: true })
      removed++
    }
  }
  const message = `the merge process ${manifest ? `(pid ${manifest.pid}) ` : ''}stopped during ${phase ?? 'an unknown phase'} before committing`
  await transition(
    root.store.db,
    cr,
    ['merging'],
    'failed',
    {
      action: 'merge.failed',
      actor,
      details: { code: 'interrupted', phase, files_removed: removed },
    },
    { failure_json: JSON.stringify({ code: 'interrupted', phase, message }) },
  )
  await writeAuditFiles(root, cr.id, {
    merge_result: {
      status: 'failed',
      requested_by: actor,
      versions: { base: cr.baseVersion, main_before: from, merged: null },
      error: { code: 'interrupted', phase, message },
      files_removed: removed,
      recovered: true,
      finished_at: new Date().toISOString(),
    },
  })
  await syncDataset(root, cr.datasetId)
  await removeManifest(root, cr.id)
  return {
    cr_id: cr.id,
    outcome: 'interrupted',
    merged_version: null,
    phase,
    files_removed: removed,
  }
}

/** A merge report from its commit alone (the merge died before it wrote one): Spark's metrics. */
function reportOfCommit(
  cr: ChangeRequest,
  version: number,
  metrics: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const count = (name: string) => Number(metrics[name] ?? 0)
  const [added, updated, deleted] = [
    count('numTargetRowsInserted'),
    count('numTargetRowsUpdated'),
    count('numTargetRowsDeleted'),
  ]
  return {
    status: 'merged',
    cr_id: cr.id,
    base_version: cr.baseVersion,
    main_version_before: version - 1,
    rows_affected: added + updated + deleted,
    diff: {
      version_before: version - 1,
      version_after: version,
      rows_added: added,
      rows_updated: updated,
      rows_deleted: deleted,
    },
  }
}

/**
 * The table folder's data files and writer staging folders (relative paths), without the
 * Delta log: what a merge may have added.
 */
async function tableEntries(table: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const e of entries) {
      const path = join(dir, e.name)
      const rel = relative(table, path)
      if (rel === '_delta_log') continue
      if (e.isDirectory() && !e.name.startsWith(STAGING_PREFIX)) await walk(path)
      else out.push(rel)
    }
  }
  await walk(table)
  return out.sort()
}
