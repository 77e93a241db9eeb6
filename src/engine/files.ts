/**
 * File-system helpers every format shares: existence checks with our error codes, format
 * sniffing by magic bytes, and outputs that appear only when complete (temp name, then rename).
 */
import { randomBytes } from 'node:crypto'
import { constants, promises as fs } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { DuckmergeError, messageOf } from '../errors.js'
import { removeOnExit, safePoint, throwIfInterrupted, withJournals } from './interrupt.js'

export type FileFormat = 'sqlite' | 'duckdb' | 'parquet' | 'unknown'

/**
 * Throws INPUT_NOT_FOUND naming `what` (e.g. 'Database') and the path unless `path` exists;
 * `details` adds fields such as the input's `side`.
 */
export async function assertExists(
  path: string,
  what: string,
  details: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  try {
    await fs.access(path, constants.R_OK)
  } catch {
    throw new DuckmergeError('INPUT_NOT_FOUND', `${what} not found: ${path}`, { ...details, path })
  }
}

/** Recognises SQLite, DuckDB and Parquet files by their magic bytes. */
export async function sniffFormat(path: string): Promise<FileFormat> {
  const handle = await fs.open(path, 'r')
  try {
    const head = Buffer.alloc(16)
    const { bytesRead } = await handle.read(head, 0, 16, 0)
    if (bytesRead >= 16 && head.toString('latin1', 0, 16) === 'SQLite format 3\0') return 'sqlite'
    if (bytesRead >= 12 && head.toString('latin1', 8, 12) === 'DUCK') return 'duckdb'
    if (bytesRead >= 4 && head.toString('latin1', 0, 4) === 'PAR1') return 'parquet'
    return 'unknown'
  } finally {
    await handle.close()
  }
}

/** True when two paths name the same file (same inode), or the same path when one is missing. */
export async function isSamePath(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true
  try {
    const [sa, sb] = await Promise.all([fs.stat(a), fs.stat(b)])
    return sa.dev === sb.dev && sa.ino === sb.ino
  } catch {
    return false
  }
}

/** A fresh name beside `target`, hidden, so a crash leaves no half-written file under its name. */
export function tempPathBeside(target: string): string {
  const abs = resolve(target)
  return join(
    dirname(abs),
    `.${basename(abs)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  )
}

/**
 * Writes an output atomically: `write` fills a temporary path beside `target` (a file or a
 * directory), which is renamed onto `target` only if `write` succeeds. On failure the temporary
 * path is removed and `target` is untouched. An aborted `signal` is a safe point just before the
 * rename (INTERRUPTED, temp removed); a forced exit meanwhile removes the temp path too
 * (engine/interrupt.ts).
 *
 * write(temp) → signal aborted? → rename → target (file: atomic replace; directory: old one moved
 * aside, then removed)
 */
export async function writeAtomically<T>(
  target: string,
  write: (tempPath: string) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const dir = dirname(resolve(target))
  try {
    await fs.access(dir, constants.W_OK)
    // access() also passes for a writable plain file: `out.db/x.db` must not reach the engine.
    if (!(await fs.stat(dir)).isDirectory()) throw new Error('not a folder')
  } catch {
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write ${target}: ${dir} does not exist, is not a folder, or is not writable.`,
      { path: target },
    )
  }
  const temp = tempPathBeside(target)
  const forget = removeOnExit(temp)
  try {
    throwIfInterrupted(signal)
    const result = await write(temp)
    await safePoint(signal)
    await replace(temp, target)
    return result
  } catch (error) {
    // A database written at `temp` may leave its journal beside it when the engine failed.
    for (const file of withJournals(temp)) await fs.rm(file, { recursive: true, force: true })
    throw error
  } finally {
    forget()
  }
}

async function replace(source: string, target: string): Promise<void> {
  const existing = await fs.stat(target).catch(() => undefined)
  if (!existing?.isDirectory()) {
    await fs.rename(source, target)
    return
  }
  // rename() cannot replace a non-empty directory: move the old one aside first.
  const aside = tempPathBeside(target)
  await fs.rename(target, aside)
  try {
    await fs.rename(source, target)
  } catch (error) {
    await fs.rename(aside, target)
    throw new DuckmergeError('OUTPUT_UNWRITABLE', `Cannot replace ${target}: ${messageOf(error)}`, {
      path: target,
    })
  }
  await fs.rm(aside, { recursive: true, force: true })
}
