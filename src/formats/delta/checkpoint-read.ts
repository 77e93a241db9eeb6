/**
 * Reading checkpoints (PROTOCOL.md, Checkpoints) into actions: classic and multi-part Parquet,
 * v2 checkpoints in Parquet or JSON and their sidecar files, through DuckDB's Parquet reader.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DuckDb } from '../../engine/duckdb.js'
import { join as joinSql, literal, sql } from '../../engine/sql.js'
import { DuckmergeError, messageOf } from '../../errors.js'
import type { Action, AddFile, Sidecar } from './actions.js'
import { type CheckpointEntry, logDir, parseActions } from './log-store.js'

/** The actions of one checkpoint (all parts of a multi-part one, plus v2 sidecars). */
export interface CheckpointContents {
  readonly version: number
  readonly actions: readonly Action[]
  /** Rows in the checkpoint files themselves (what `_last_checkpoint.size` counts). */
  readonly size: number
  readonly files: readonly string[]
}

/**
 * Reads every part of a checkpoint. Throws DELTA_LOG_INVALID naming the file when a part or
 * sidecar is missing or unreadable, so the caller can fall back to an older checkpoint or the
 * JSON commits (PROTOCOL.md allows either).
 *
 * @example
 * const { actions } = await readCheckpoint(db, '/data/t', parts)
 */
export async function readCheckpoint(
  db: DuckDb,
  table: string,
  parts: readonly CheckpointEntry[],
): Promise<CheckpointContents> {
  const first = parts[0]
  if (!first) throw new RangeError('readCheckpoint needs at least one part')
  const top = await readActionFiles(
    db,
    parts.map((p) => p.path),
    first.format,
  )
  const sidecars = top.flatMap((a) => ('sidecar' in a && a.sidecar ? [a.sidecar] : []))
  const sidecarActions: Action[] = []
  for (const sidecar of sidecars) {
    const path = sidecarPath(table, sidecar)
    sidecarActions.push(
      ...(await readActionFiles(db, [path], path.endsWith('.json') ? 'json' : 'parquet')),
    )
  }
  return {
    version: first.version,
    actions: sidecarActions.length > 0 ? [...top, ...sidecarActions] : top,
    size: top.length,
    files: parts.map((p) => p.path),
  }
}

/** PROTOCOL.md, Sidecar Files: sidecars live in `_delta_log/_sidecars/`, named relatively. */
function sidecarPath(table: string, sidecar: Sidecar): string {
  const p = sidecar.path
  if (p.startsWith('file:')) return fileURLToPath(p)
  if (p.startsWith('/')) return decodeURIComponent(p)
  return join(logDir(table), '_sidecars', decodeURIComponent(p))
}

async function readActionFiles(
  db: DuckDb,
  paths: readonly string[],
  format: 'json' | 'parquet',
): Promise<Action[]> {
  for (const path of paths) {
    try {
      await fs.access(path)
    } catch {
      throw new DuckmergeError('DELTA_LOG_INVALID', `Delta checkpoint file ${path} is missing.`, {
        path,
      })
    }
  }
  if (format === 'json') {
    const actions: Action[] = []
    for (const path of paths) actions.push(...parseActions(await fs.readFile(path, 'utf8'), path))
    return actions
  }
  let rows: { j: string }[]
  try {
    // to_json turns Parquet MAPs into JSON objects, exactly the shape of the JSON actions.
    rows = await db.allJson<{ j: string }>(
      sql`select to_json(c) as j from read_parquet([${joinSql(paths.map(literal))}], union_by_name = true, hive_partitioning = false) as c`,
    )
  } catch (error) {
    throw new DuckmergeError(
      'DELTA_LOG_INVALID',
      `Cannot read Delta checkpoint ${paths.join(', ')}: ${firstLine(messageOf(error))}.`,
      { paths },
      { cause: error },
    )
  }
  const actions: Action[] = []
  for (const row of rows) {
    const record = JSON.parse(row.j) as Record<string, unknown>
    for (const [key, value] of Object.entries(record)) {
      if (value === null || value === undefined) continue
      actions.push({ [key]: key === 'add' ? normaliseAdd(value as RawAdd) : value } as Action)
    }
  }
  return actions
}

type RawAdd = AddFile & {
  stats_parsed?: unknown
  partitionValues_parsed?: Record<string, unknown> | null
}

/**
 * PROTOCOL.md, Checkpoint Schema: a checkpoint may carry stats only as `stats_parsed` and
 * partition values also as `partitionValues_parsed`. Fold both back into the JSON forms.
 */
function normaliseAdd(raw: RawAdd): AddFile {
  const { stats_parsed, partitionValues_parsed, ...add } = raw
  let result: AddFile = add
  if ((add.stats === null || add.stats === undefined) && stats_parsed)
    result = { ...result, stats: JSON.stringify(stats_parsed) }
  if (!add.partitionValues && partitionValues_parsed) {
    const values: Record<string, string | null> = {}
    for (const [k, v] of Object.entries(partitionValues_parsed))
      values[k] = v === null || v === undefined ? null : String(v)
    result = { ...result, partitionValues: values }
  }
  if (!result.partitionValues) result = { ...result, partitionValues: {} }
  return result
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/\.$/, '')
}
