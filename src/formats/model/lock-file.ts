/**
 * A lock file shared by processes: created with O_EXCL, holding its owner's pid, host and start
 * time, and touched every `staleMs / 4` while held (a heartbeat). A lock whose owner died (same
 * host) or whose heartbeat stopped for `staleMs` is broken; a live holder is waited for, however
 * long its work (copying a large model) takes, up to `timeoutMs`.
 *
 * acquire: open(lock, 'wx') → EEXIST: read owner → stale? move aside, verify, retry : wait, retry
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { hostname } from 'node:os'
import { removeOnExit } from '../../engine/interrupt.js'
import { DuckmergeError, messageOf } from '../../errors.js'

export interface LockOptions {
  /** Give up after this long, with LOCKED. Default 10 minutes. */
  readonly timeoutMs?: number
  /** A lock not touched for this long is abandoned. Default 60 s. */
  readonly staleMs?: number
}

interface LockOwner {
  readonly pid: number
  readonly host: string
  readonly createdAt: string
  readonly token: string
}

/**
 * Runs `fn` while holding the lock file `path`; the lock is removed afterwards, also on failure.
 *
 * @example
 * await withLockFile('models/registry.lock', async () => { … read, change, write … })
 */
export async function withLockFile<T>(
  path: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? 60_000
  const token = await acquire(path, options.timeoutMs ?? 600_000, staleMs)
  // A second Ctrl-C exits at once: the lock goes with the process rather than waiting to be stale.
  const forget = removeOnExit(path)
  const heartbeat = setInterval(() => {
    const now = new Date()
    fs.utimes(path, now, now).catch(() => undefined)
  }, staleMs / 4)
  heartbeat.unref()
  try {
    return await fn()
  } finally {
    clearInterval(heartbeat)
    await release(path, token)
    forget()
  }
}

async function acquire(path: string, timeoutMs: number, staleMs: number): Promise<string> {
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    createdAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  }
  const deadline = Date.now() + timeoutMs
  let waitMs = 5
  for (;;) {
    try {
      const handle = await fs.open(path, 'wx')
      try {
        await handle.writeFile(JSON.stringify(owner))
      } finally {
        await handle.close()
      }
      return owner.token
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new DuckmergeError(
          'OUTPUT_UNWRITABLE',
          `Cannot create lock file ${path}: ${messageOf(error)}`,
          {
            path,
          },
          { cause: error },
        )
    }
    const holder = await readOwner(path)
    if (holder !== undefined && isStale(holder.owner, holder.mtimeMs, staleMs)) {
      await breakLock(path, holder.text)
      continue
    }
    if (Date.now() >= deadline)
      throw new DuckmergeError(
        'LOCKED',
        `Lock file ${path} is held by ${holder?.owner ? `process ${holder.owner.pid} on ${holder.owner.host} since ${holder.owner.createdAt}` : 'another process'}. Wait for it to finish; if no duckmerge is running, delete ${path}.`,
        { path, owner: holder?.owner },
      )
    await sleep(waitMs + Math.random() * waitMs)
    waitMs = Math.min(waitMs * 2, 100)
  }
}

async function release(path: string, token: string): Promise<void> {
  // Remove only our own lock: if ours was broken as stale, the file now belongs to someone else.
  const holder = await readOwner(path)
  if (holder?.owner?.token === token) await fs.rm(path, { force: true })
}

async function readOwner(
  path: string,
): Promise<{ owner: LockOwner | undefined; text: string; mtimeMs: number } | undefined> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(path, 'utf8'), fs.stat(path)])
    return { owner: parseOwner(text), text, mtimeMs: stat.mtimeMs }
  } catch {
    return undefined // released between our open and our read: just retry
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>
    if (typeof value.pid === 'number' && typeof value.host === 'string') return value as LockOwner
  } catch {
    // a lock being written right now is empty for an instant: not stale by content alone
  }
  return undefined
}

function isStale(owner: LockOwner | undefined, mtimeMs: number, staleMs: number): boolean {
  if (Date.now() - mtimeMs > staleMs) return true
  if (owner === undefined || owner.host !== hostname()) return false
  try {
    process.kill(owner.pid, 0)
    return false
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/**
 * Moves the stale lock aside (rename is atomic: only one breaker wins) and checks it moved the
 * lock it judged stale; if a fresh lock was taken instead, it is put back (link never overwrites).
 */
async function breakLock(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await fs.rename(path, aside)
  } catch {
    return // someone else broke or released it
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => staleText)
  if (moved !== staleText) await fs.link(aside, path).catch(() => undefined)
  await fs.rm(aside, { force: true })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
