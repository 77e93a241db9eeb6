/**
 * VACUUM: deletes data files the table no longer references once they are older than the
 * retention, so time travel within the retention keeps working.
 *
 *   snapshot → referenced = live files + their deletion vectors (+ tombstones younger than the
 *   retention) → walk the table folder (not _delta_log) → delete unreferenced files older than
 *   the retention (or list them with dryRun)
 */
import { promises as fs } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { DuckmergeError } from '../../../errors.js'
import { retentionMs } from '../checkpoint-write.js'
import { deletionVectorPath } from '../deletion-vectors.js'
import { dataFilePath } from '../partition-values.js'
import { STAGING_PREFIX } from '../write-files.js'
import { openForWrite, removeEmptyFolders, writing } from './write-context.js'

export interface VacuumOptions {
  readonly path: string
  /** Keep files younger than this; default the table's delta.deletedFileRetentionDuration (7 days). */
  readonly retentionHours?: number
  /** List what would be deleted without deleting it. */
  readonly dryRun?: boolean
  /** Allow a retention below the table's delta.deletedFileRetentionDuration. */
  readonly force?: boolean
  /** The clock, for tests. */
  readonly now?: number
}

export interface VacuumResult {
  readonly version: number
  readonly operation: 'VACUUM'
  readonly dryRun: boolean
  /** Paths relative to the table root, sorted. */
  readonly files: readonly string[]
  readonly metrics: {
    readonly numDeletedFiles: number
    readonly numDeletedBytes: number
    readonly numFilesToDelete: number
  }
}

const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000
/** Temp files of commits and checkpoints a killed writer left: never part of the log. */
const LEFTOVER_AGE_MS = 3_600_000

/**
 * Deletes unreferenced files older than the retention. Never deletes a file the current snapshot
 * references, whatever its age; refuses (VALIDATION_FAILED) a retention below the table's
 * delta.deletedFileRetentionDuration unless `force`, because older snapshots still being read
 * could lose their files.
 *
 * @example
 * const { files } = await vacuum({ path: '/data/events', dryRun: true }) // what would go
 */
export async function vacuum(options: VacuumOptions): Promise<VacuumResult> {
  return writing(options.path, undefined, () => vacuumOnce(options))
}

async function vacuumOnce(options: VacuumOptions): Promise<VacuumResult> {
  const snapshot = await openForWrite(options.path)
  const table = snapshot.tablePath
  const now = options.now ?? Date.now()
  const tableRetention = retentionMs(
    snapshot.metadata.configuration['delta.deletedFileRetentionDuration'],
    DEFAULT_RETENTION_MS,
  )
  const retention =
    options.retentionHours === undefined ? tableRetention : options.retentionHours * 3_600_000
  if (!(retention >= 0))
    throw new DuckmergeError(
      'USAGE',
      `The vacuum retention must be 0 hours or more, got ${options.retentionHours}.`,
      { retentionHours: options.retentionHours, hint: 'Give {retentionHours} as 0 or more.' },
    )
  if (retention < tableRetention && !options.force)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Refusing to vacuum ${table} with a retention of ${retention / 3_600_000} hours: the table keeps deleted files for ${tableRetention / 3_600_000} hours (delta.deletedFileRetentionDuration), and readers of older versions may still need them.`,
      {
        table,
        retentionHours: retention / 3_600_000,
        hint: 'Pass {force} if no one reads older versions.',
      },
    )
  const cutoff = now - retention
  const keep = new Set<string>()
  for (const file of snapshot.files) {
    keep.add(dataFilePath(table, file.path))
    if (file.deletionVector && file.deletionVector.storageType !== 'i')
      keep.add(deletionVectorPath(table, file.deletionVector))
  }
  for (const tomb of snapshot.tombstones)
    if ((tomb.deletionTimestamp ?? 0) > cutoff) keep.add(dataFilePath(table, tomb.path))

  const candidates: { path: string; size: number }[] = []
  for await (const file of walk(table)) {
    if (keep.has(file.path) || file.mtimeMs > cutoff) continue
    candidates.push({ path: file.path, size: file.size })
  }
  for (const file of await logLeftovers(table))
    if (file.mtimeMs <= now - LEFTOVER_AGE_MS) candidates.push({ path: file.path, size: file.size })
  candidates.sort((a, b) => a.path.localeCompare(b.path))
  // A killed writer's staging folders, old enough that no running writer still uses them (their
  // age is taken before the deletions below touch them).
  const stagingFolders: string[] = []
  for (const entry of await fs.readdir(table, { withFileTypes: true }))
    if (entry.isDirectory() && entry.name.startsWith(STAGING_PREFIX)) {
      const stat = await fs.stat(join(table, entry.name)).catch(() => undefined)
      if (stat && stat.mtimeMs <= cutoff) stagingFolders.push(join(table, entry.name))
    }
  if (!options.dryRun) {
    for (const c of candidates) await fs.rm(c.path, { force: true })
    for (const folder of stagingFolders) await removeEmptyFolders(folder)
  }
  const bytes = candidates.reduce((n, c) => n + c.size, 0)
  return {
    version: snapshot.version,
    operation: 'VACUUM',
    dryRun: options.dryRun === true,
    files: candidates.map((c) => relative(table, c.path).split(sep).join('/')),
    metrics: {
      numFilesToDelete: candidates.length,
      numDeletedFiles: options.dryRun ? 0 : candidates.length,
      numDeletedBytes: options.dryRun ? 0 : bytes,
    },
  }
}

/**
 * Every file under the table root except the log. Like Spark, hidden and `_`-prefixed files and
 * folders are skipped, except our own crash leftovers (`.duckmerge-staging-*`), ours to clean.
 */
async function* walk(
  dir: string,
  top = true,
  staging = false,
): AsyncGenerator<{ path: string; size: number; mtimeMs: number }> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    const hidden = entry.name.startsWith('.') || entry.name.startsWith('_')
    const isStaging = staging || (top && entry.name.startsWith(STAGING_PREFIX))
    if (hidden && !isStaging) continue
    if (entry.isDirectory()) yield* walk(path, false, isStaging)
    else if (entry.isFile()) {
      const stat = await fs.stat(path)
      yield { path, size: stat.size, mtimeMs: stat.mtimeMs }
    }
  }
}

/**
 * Hidden temp files in `_delta_log` (checkpoint temps) and `_delta_log/.tmp` (commit temps) that
 * a killed writer left behind. Readers ignore them; vacuum removes them after an hour.
 */
async function logLeftovers(
  table: string,
): Promise<{ path: string; size: number; mtimeMs: number }[]> {
  const out: { path: string; size: number; mtimeMs: number }[] = []
  const log = join(table, '_delta_log')
  const tmp = join(log, '.tmp')
  const scan = async (dir: string, pick: (name: string) => boolean) => {
    const names = await fs.readdir(dir).catch(() => [] as string[])
    for (const name of names) {
      if (!pick(name)) continue
      const stat = await fs.stat(join(dir, name)).catch(() => undefined)
      if (stat?.isFile())
        out.push({ path: join(dir, name), size: stat.size, mtimeMs: stat.mtimeMs })
    }
  }
  await scan(log, (n) => n.startsWith('.') && /\.(tmp-|ndjson$)/.test(n) && n !== '.tmp')
  await scan(tmp, () => true)
  return out
}
