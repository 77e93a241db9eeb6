/**
 * Model file bytes: sha256 of a file, copies that appear only when complete, and the
 * content-addressed store (`DIR/store/<sha256>`) that keeps every model ever in production.
 */
import { createHash } from 'node:crypto'
import { constants, createReadStream, promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tempPathBeside } from '../../engine/files.js'
import { DuckmergeError, messageOf } from '../../errors.js'

export interface FileDigest {
  readonly sha256: string
  readonly size: number
}

/**
 * sha256 and size of a file, read as a stream (model files can be many GB).
 *
 * @example
 * const { sha256, size } = await digestFile('model.bin')
 */
export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256')
  let size = 0
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const bytes = chunk as Buffer
      size += bytes.length
      hash.update(bytes)
    }
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read model file ${path}: ${messageOf(error)}`,
      {
        path,
      },
      { cause: error },
    )
  }
  return { sha256: hash.digest('hex'), size }
}

/**
 * Copies `source` to a hidden temporary name beside `target` and returns that name; the caller
 * renames it into place (or removes it). Uses a copy-on-write clone where the file system has one.
 */
export async function copyToTemp(source: string, target: string): Promise<string> {
  const temp = tempPathBeside(target)
  try {
    await fs.copyFile(source, temp, constants.COPYFILE_FICLONE)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot copy ${source} to ${target}: ${messageOf(error)}`,
      {
        path: target,
      },
      { cause: error },
    )
  }
  return temp
}

/** Copies `source` onto `target` atomically: readers see the old file or the new one, never half. */
export async function copyAtomically(source: string, target: string): Promise<void> {
  const temp = await copyToTemp(source, target)
  try {
    await fs.rename(temp, target)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write ${target}: ${messageOf(error)}`,
      {
        path: target,
      },
      { cause: error },
    )
  }
}

/** Where the store keeps the bytes with this hash. */
export function storePath(modelsDir: string, sha256: string): string {
  return join(modelsDir, 'store', sha256)
}

/**
 * Puts a file whose hash is already known into the store, unless the store has it. Store files
 * are named by their content, so an existing one is never rewritten.
 */
export async function putInStore(
  modelsDir: string,
  source: string,
  sha256: string,
): Promise<string> {
  const target = storePath(modelsDir, sha256)
  if (await exists(target)) return target
  await fs.mkdir(join(modelsDir, 'store'), { recursive: true })
  await copyAtomically(source, target)
  return target
}

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path)
    return true
  } catch {
    return false
  }
}
