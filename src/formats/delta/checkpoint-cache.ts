/**
 * Checkpoints already read, kept in memory: a checkpoint file never changes once written
 * (PROTOCOL.md, Checkpoints), yet reading one costs a DuckDB instance and a Parquet scan
 * (35-125 ms measured for a one-file table), paid by every loadSnapshot past version 10, and a
 * change-request merge loads its table's snapshot several times. Entries are keyed by each
 * part's path, size, mtime and inode, so a table deleted and re-created at the same path is
 * read afresh. Cached actions are frozen: every snapshot built from them shares them.
 */
import { promises as fs } from 'node:fs'
import type { DuckDb } from '../../engine/duckdb.js'
import { type CheckpointContents, readCheckpoint } from './checkpoint-read.js'
import type { CheckpointEntry } from './log-store.js'

/** Actions kept over all cached checkpoints (the least recently used go first past it). */
const MAX_CACHED_ACTIONS = 100_000
/** Checkpoints kept (tables a process reads), whatever their size. */
const MAX_CACHED_CHECKPOINTS = 256

const cache = new Map<string, CheckpointContents>()
let cachedActions = 0

/** Whether the checkpoint with this (first) part's path was read before, whatever its identity. */
export function checkpointCached(path: string): boolean {
  for (const contents of cache.values()) if (contents.files[0] === path) return true
  return false
}

/**
 * The checkpoint's contents, read through `db` only when this exact set of files was not read
 * before. Errors are readCheckpoint's (nothing is cached then).
 *
 * @example
 * const { actions } = await cachedCheckpoint(() => DuckDb.open(), '/data/t', parts)
 */
export async function cachedCheckpoint(
  db: () => Promise<DuckDb>,
  table: string,
  parts: readonly CheckpointEntry[],
): Promise<CheckpointContents> {
  const key = await identity(parts)
  const hit = key === undefined ? undefined : cache.get(key)
  if (key !== undefined && hit) {
    cache.delete(key)
    cache.set(key, hit)
    return hit
  }
  const contents = await readCheckpoint(await db(), table, parts)
  // Two loads may read the same checkpoint at once: the first one read stays.
  if (key !== undefined && !cache.has(key) && contents.actions.length <= MAX_CACHED_ACTIONS) {
    for (const action of contents.actions) deepFreeze(action)
    cache.set(key, contents)
    cachedActions += contents.actions.length
    for (const [old, kept] of cache) {
      if (cachedActions <= MAX_CACHED_ACTIONS && cache.size <= MAX_CACHED_CHECKPOINTS) break
      cache.delete(old)
      cachedActions -= kept.actions.length
    }
  }
  return contents
}

/** Path, size, mtime and inode of every part; undefined when one cannot be stat'ed. */
async function identity(parts: readonly CheckpointEntry[]): Promise<string | undefined> {
  try {
    const stats = await Promise.all(parts.map((p) => fs.stat(p.path, { bigint: true })))
    return parts
      .map((p, i) => {
        const s = stats[i]
        return `${p.path}\u0000${s?.size}\u0000${s?.mtimeNs}\u0000${s?.ino}`
      })
      .join('\u0001')
  } catch {
    return undefined
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const inner of Object.values(value)) deepFreeze(inner)
}
