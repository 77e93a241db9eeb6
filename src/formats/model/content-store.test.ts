import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { hashTree } from '../../../test/support/snapshot.js'
import { tempDir } from '../../../test/support/temp.js'
import { DuckmergeError } from '../../errors.js'
import {
  commitStaged,
  copyAndDigest,
  digestFile,
  discardStaged,
  fileStamp,
  isSameStamp,
  stageInStore,
  storePath,
} from './content-store.js'

const sha = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex')

describe('copyAndDigest', () => {
  // A chunk of 1000 bytes puts the sizes below on every side of a chunk boundary.
  test.each([0, 1, 999, 1000, 1001, 2000, 3005])(
    'copies %i bytes exactly and hashes them',
    async (n) => {
      const dir = tempDir()
      const bytes = randomBytes(n)
      writeFileSync(join(dir, 'in.bin'), bytes)
      const digest = await copyAndDigest(join(dir, 'in.bin'), [join(dir, 'out.bin')], {
        chunkBytes: 1000,
      })
      expect(digest).toEqual({ sha256: sha(bytes), size: n })
      expect(readFileSync(join(dir, 'out.bin')).equals(bytes)).toBe(true)
      expect(await digestFile(join(dir, 'out.bin'))).toEqual(digest)
    },
  )

  test('writes the same bytes to several targets in one pass', async () => {
    const dir = tempDir()
    const bytes = randomBytes(2500)
    writeFileSync(join(dir, 'in.bin'), bytes)
    const targets = [join(dir, 'a.bin'), join(dir, 'b.bin')]
    const digest = await copyAndDigest(join(dir, 'in.bin'), targets, { chunkBytes: 1000 })
    expect(digest).toEqual({ sha256: sha(bytes), size: 2500 })
    for (const target of targets) expect(readFileSync(target).equals(bytes)).toBe(true)
  })

  test('refuses an existing target, removes the ones it created, leaves the rest as it was', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'in.bin'), 'new')
    writeFileSync(join(dir, 'out.bin'), 'old')
    const before = hashTree(dir)
    const error = await copyAndDigest(join(dir, 'in.bin'), [
      join(dir, 'fresh.bin'),
      join(dir, 'out.bin'),
    ]).catch((e) => e)
    expect(error.code).toBe('OUTPUT_UNWRITABLE')
    expect(hashTree(dir)).toEqual(before)
  })

  test('refuses an existing target and leaves both files as they were', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'in.bin'), 'new')
    writeFileSync(join(dir, 'out.bin'), 'old')
    const before = hashTree(dir)
    const error = await copyAndDigest(join(dir, 'in.bin'), [join(dir, 'out.bin')]).catch((e) => e)
    expect(error).toBeInstanceOf(DuckmergeError)
    expect(error.code).toBe('OUTPUT_UNWRITABLE')
    expect(error.message).toMatch(/Cannot write .*out\.bin: EEXIST/)
    expect(hashTree(dir)).toEqual(before)
  })

  test('a missing source is INPUT_UNREADABLE naming it, and creates nothing', async () => {
    const dir = tempDir()
    const error = await copyAndDigest(join(dir, 'nope.bin'), [join(dir, 'out.bin')]).catch((e) => e)
    expect(error.code).toBe('INPUT_UNREADABLE')
    expect(error.message).toMatch(/Cannot read model file .*nope\.bin: ENOENT/)
    expect(readdirSync(dir)).toEqual([])
  })
})

describe('file stamps', () => {
  test('a rewrite with the same size changes the stamp; reading does not', async () => {
    const dir = tempDir()
    const path = join(dir, 'model.bin')
    writeFileSync(path, 'AAAA')
    const placed = await fileStamp(path)
    readFileSync(path)
    expect(isSameStamp(placed, await fileStamp(path))).toBe(true)
    writeFileSync(path, 'BBBB')
    expect(isSameStamp(placed, await fileStamp(path))).toBe(false)
    expect(await fileStamp(join(dir, 'nope'))).toBeUndefined()
    expect(isSameStamp(undefined, undefined)).toBe(false)
  })
})

describe('the store', () => {
  test('a staged copy is invisible until committed, then named by its hash', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'model.bin'), 'weights')
    const staged = await stageInStore(dir, join(dir, 'model.bin'))
    expect(staged).toMatchObject({ sha256: sha('weights'), size: 7 })
    expect(existsSync(storePath(dir, sha('weights')))).toBe(false)
    expect(await commitStaged(dir, staged)).toBe(true)
    expect(hashTree(join(dir, 'store'))).toEqual({ [sha('weights')]: sha('weights') })

    // Bytes the store has already: the second copy is dropped, the store file not rewritten.
    const again = await stageInStore(dir, join(dir, 'model.bin'))
    expect(await commitStaged(dir, again)).toBe(false)
    const discarded = await stageInStore(dir, join(dir, 'model.bin'))
    await discardStaged(discarded)
    expect(readdirSync(join(dir, 'store'))).toEqual([sha('weights')])
  })
})
