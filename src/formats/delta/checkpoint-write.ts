/**
 * Writes classic Parquet checkpoints (PROTOCOL.md, Checkpoints; V1 spec, or V2 spec for tables
 * with v2Checkpoint) and `_last_checkpoint`,
 * so readers start from one file instead of replaying every commit.
 *
 *   snapshot at N → actions as NDJSON (temp) → DuckDB read_json with the checkpoint schema
 *     → COPY to .N.checkpoint.parquet.tmp → rename to N.checkpoint.parquet → _last_checkpoint
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { DuckDb } from '../../engine/duckdb.js'
import { writeAtomically } from '../../engine/files.js'
import { literal, raw, sql } from '../../engine/sql.js'
import { DuckmergeError } from '../../errors.js'
import type { Action } from './actions.js'
import { logDir, padVersion } from './log-store.js'
import { writerFeatures } from './protocol-support.js'
import type { Snapshot } from './snapshot-types.js'

export interface CheckpointResult {
  readonly version: number
  readonly path: string
  /** Rows (actions) in the checkpoint, as `_last_checkpoint.size` records. */
  readonly size: number
  readonly sizeInBytes: number
  readonly numOfAddFiles: number
}

const DV =
  'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT)'
const MAP = 'MAP(VARCHAR, VARCHAR)'

/** PROTOCOL.md, Checkpoint Schema: one struct column per action type. */
const CHECKPOINT_COLUMNS: Readonly<Record<string, string>> = {
  txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
  add: `STRUCT(path VARCHAR, partitionValues ${MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${MAP}, deletionVector ${DV}, baseRowId BIGINT, defaultRowCommitVersion BIGINT, clusteringProvider VARCHAR)`,
  // Checkpoint removes are tombstones for VACUUM only: no stats or tags.
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${MAP}, size BIGINT, deletionVector ${DV}, baseRowId BIGINT, defaultRowCommitVersion BIGINT)`,
  metaData: `STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${MAP}, createdTime BIGINT)`,
  protocol:
    'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
  domainMetadata: 'STRUCT(domain VARCHAR, configuration VARCHAR, removed BOOLEAN)',
  checkpointMetadata: `STRUCT(version BIGINT, tags ${MAP})`,
}

/** PROTOCOL.md, Table Properties: tombstones are kept this long (default one week). */
const DEFAULT_TOMBSTONE_RETENTION_MS = 7 * 24 * 3600 * 1000

/**
 * Writes the classic checkpoint `N.checkpoint.parquet` of `snapshot` and points
 * `_last_checkpoint` at it. Live files become adds with dataChange=false; tombstones younger
 * than delta.deletedFileRetentionDuration stay; commitInfo and cdc are never copied.
 * Tables with the v2Checkpoint feature get a V2-spec checkpoint under the classic name (with a
 * checkpointMetadata action, no sidecars).
 *
 * @example
 * const snap = await loadSnapshot('/data/events')
 * await writeCheckpoint(snap) // _delta_log/00000000000000000010.checkpoint.parquet
 */
export async function writeCheckpoint(
  snapshot: Snapshot,
  options: { readonly db?: DuckDb; readonly now?: number } = {},
): Promise<CheckpointResult> {
  // PROTOCOL.md, Classic checkpoint: with the v2Checkpoint feature a classic-named checkpoint
  // follows the V2 spec, i.e. it carries one checkpointMetadata action (no sidecars here).
  const isV2 = writerFeatures(snapshot.protocol).includes('v2Checkpoint')
  const now = options.now ?? Date.now()
  const retention = retentionMs(
    snapshot.metadata.configuration['delta.deletedFileRetentionDuration'],
    DEFAULT_TOMBSTONE_RETENTION_MS,
  )
  const actions: Action[] = [{ protocol: snapshot.protocol }, { metaData: snapshot.metadata }]
  if (isV2) actions.push({ checkpointMetadata: { version: snapshot.version, tags: {} } })
  for (const txn of snapshot.appTransactions.values()) actions.push({ txn })
  for (const domainMetadata of snapshot.domainMetadata.values()) actions.push({ domainMetadata })
  for (const add of snapshot.files) actions.push({ add: { ...add, dataChange: false } })
  for (const { stats: _s, tags: _t, ...remove } of snapshot.tombstones)
    if ((remove.deletionTimestamp ?? 0) > now - retention)
      actions.push({ remove: { ...remove, dataChange: false } })

  const dir = logDir(snapshot.tablePath)
  const target = join(dir, `${padVersion(snapshot.version)}.checkpoint.parquet`)
  const columns = Object.entries(CHECKPOINT_COLUMNS).filter(([name]) => {
    if (name === 'domainMetadata') return snapshot.domainMetadata.size > 0
    if (name === 'checkpointMetadata') return isV2
    return true
  })
  const db = options.db ?? (await DuckDb.open({ threads: 2 }))
  const ndjson = join(dir, `.${padVersion(snapshot.version)}.checkpoint.${process.pid}.ndjson`)
  try {
    await fs.writeFile(ndjson, `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`)
    // Fixed text (no user input): the struct of column types read_json takes.
    const columnSpec = `{${columns.map(([k, v]) => `${literal(k).text}: ${literal(v).text}`).join(', ')}}`
    await writeAtomically(target, async (temp) => {
      await db.run(
        sql`COPY (SELECT * FROM read_json(${literal(ndjson)}, format = 'newline_delimited', columns = ${raw(columnSpec)})) TO ${literal(temp)} (FORMAT parquet, COMPRESSION snappy)`,
      )
    })
  } finally {
    await fs.rm(ndjson, { force: true })
    if (!options.db) db.close()
  }
  const sizeInBytes = (await fs.stat(target)).size
  const result: CheckpointResult = {
    version: snapshot.version,
    path: target,
    size: actions.length,
    sizeInBytes,
    numOfAddFiles: snapshot.files.length,
  }
  await writeLastCheckpoint(snapshot.tablePath, result)
  return result
}

/** `_last_checkpoint` (PROTOCOL.md, Last Checkpoint File), replaced atomically; never moved back. */
async function writeLastCheckpoint(tablePath: string, cp: CheckpointResult): Promise<void> {
  const path = join(logDir(tablePath), '_last_checkpoint')
  const current = await fs
    .readFile(path, 'utf8')
    .then((t) => (JSON.parse(t) as { version?: number }).version ?? -1)
    .catch(() => -1)
  if (current > cp.version) return
  const body = {
    version: cp.version,
    size: cp.size,
    sizeInBytes: cp.sizeInBytes,
    numOfAddFiles: cp.numOfAddFiles,
  }
  await writeAtomically(path, (temp) => fs.writeFile(temp, JSON.stringify(body)))
}

/**
 * Parses a Delta interval property such as 'interval 7 days' or '168 hours' into ms; `fallback`
 * when absent. Throws VALIDATION_FAILED naming the value when it cannot be read.
 *
 * @example retentionMs('interval 2 days', 0) // 172800000
 */
export function retentionMs(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const m = /^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i.exec(value)
  const unit: Record<string, number> = {
    millisecond: 1,
    second: 1000,
    minute: 60_000,
    hour: 3_600_000,
    day: 86_400_000,
    week: 7 * 86_400_000,
  }
  const factor = m?.[2] ? unit[m[2].toLowerCase()] : undefined
  if (!m || factor === undefined)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Cannot read the Delta interval "${value}": expected e.g. "interval 7 days".`,
      { value },
    )
  return Number(m[1]) * factor
}
