import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import { DuckmergeError } from '../../errors.js'
import { withLockFile } from './lock-file.js'

const owner = (pid: number, host = hostname()) =>
  JSON.stringify({ pid, host, createdAt: '2026-01-01T00:00:00.000Z', token: 'other' })

describe('withLockFile', () => {
  test('holds the lock during fn and removes it afterwards, also when fn throws', async () => {
    const lock = join(tempDir(), 'x.lock')
    await withLockFile(lock, async () => {
      expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid)
    })
    expect(existsSync(lock)).toBe(false)
    await expect(withLockFile(lock, () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    )
    expect(existsSync(lock)).toBe(false)
  })

  test('serialises concurrent holders in one process', async () => {
    const lock = join(tempDir(), 'x.lock')
    let inside = 0
    let maxInside = 0
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withLockFile(lock, async () => {
          inside++
          maxInside = Math.max(maxInside, inside)
          await new Promise((r) => setTimeout(r, 5))
          inside--
        }),
      ),
    )
    expect(maxInside).toBe(1)
  })

  test('breaks a lock whose process is dead on this host', async () => {
    const lock = join(tempDir(), 'x.lock')
    writeFileSync(lock, owner(2 ** 22 + 12345)) // above Linux pid_max default: never alive
    const value = await withLockFile(lock, async () => 'ran', { timeoutMs: 2000 })
    expect(value).toBe('ran')
  })

  test('breaks a lock older than staleMs even from another host', async () => {
    const lock = join(tempDir(), 'x.lock')
    writeFileSync(lock, owner(1, 'elsewhere'))
    const old = new Date(Date.now() - 60_000)
    utimesSync(lock, old, old)
    expect(await withLockFile(lock, async () => 'ran', { staleMs: 30_000 })).toBe('ran')
  })

  test('waits for a live lock, then fails with LOCKED naming the holder', async () => {
    const lock = join(tempDir(), 'x.lock')
    writeFileSync(lock, owner(process.pid))
    const error = await withLockFile(lock, async () => 'ran', { timeoutMs: 200 }).catch((e) => e)
    expect(error).toBeInstanceOf(DuckmergeError)
    expect(error.code).toBe('LOCKED')
    expect(error.message).toContain(`is held by process ${process.pid} on ${hostname()}`)
    expect(readFileSync(lock, 'utf8')).toBe(owner(process.pid))
  })
})

describe('withLockFile heartbeat', () => {
  test('a holder working longer than staleMs keeps its lock', async () => {
    const lock = join(tempDir(), 'x.lock')
    const events: string[] = []
    const slow = withLockFile(
      lock,
      async () => {
        events.push('slow in')
        await new Promise((r) => setTimeout(r, 600))
        events.push('slow out')
      },
      { staleMs: 150 },
    )
    await new Promise((r) => setTimeout(r, 50))
    const waiter = withLockFile(lock, async () => events.push('waiter in'), {
      staleMs: 150,
      timeoutMs: 5000,
    })
    await Promise.all([slow, waiter])
    expect(events).toEqual(['slow in', 'slow out', 'waiter in'])
  })
})
