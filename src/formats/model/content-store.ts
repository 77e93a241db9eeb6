/**
 * Model file bytes: sha256 of a file, durable copies that appear only when complete, file stamps
 * that say a file is unchanged without reading it, and the content-addressed store
 * (`DIR/store/<sha256>`) that keeps every model ever in production.
 *
 * A store object is hashed once, while it is copied in (stageInStore), and is trusted by its name
 * afterwards: nothing writes into the store but this module, and only under a temporary name.
 */
import { createHash, type Hash } from 'node:crypto'
import { constants, promises as fs } from 'node:fs'
import { dirname, join } from 'node:path'
import { tempPathBeside } from '../../engine/files.js'
import { DuckmergeError, messageOf } from '../../errors.js'

export interface FileDigest {
  readonly sha256: string
  readonly size: number
}

/** Reads of 4 MiB: large enough that per-call overhead vanishes next to hashing. */
const defaultChunkBytes = 4 << 20

/**
 * sha256 and size of a file, read in chunks (model files can be many GB).
 *
 * @example
 * const { sha256, size } = await digestFile('model.bin')
 */
export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256')
  const input = await openForRead(path)
  try {
    const size = await pump(input, path, hash, [], defaultChunkBytes)
    return { sha256: hash.digest('hex'), size }
  } finally {
    await input.close()
  }
}

/**
 * Copies `source` to each of the new files `targets` (which must not exist) and returns the
 * sha256 and size of the bytes copied, in one pass: each chunk is read once, hashed while the
 * previous one is written to every target, so the copies cost about as much as the hashing
 * alone, and every target holds exactly the bytes hashed. The targets are fsynced before
 * returning; on failure they are removed.
 *
 * @example
 * const { sha256 } = await copyAndDigest('candidates/r1_model.bin', ['store/.incoming.tmp-1-ab'])
 */
export async function copyAndDigest(
  source: string,
  targets: readonly string[],
  options: { readonly chunkBytes?: number } = {},
): Promise<FileDigest> {
  const hash = createHash('sha256')
  const input = await openForRead(source)
  const outputs: Output[] = []
  try {
    for (const path of targets) {
      const handle = await fs.open(path, 'wx').catch((error: unknown) => {
        throw unwritable(path, error)
      })
      outputs.push({ handle, path })
    }
    const size = await pump(input, source, hash, outputs, options.chunkBytes ?? defaultChunkBytes)
    await Promise.all(
      outputs.map(({ handle, path }) =>
        handle.sync().catch((error: unknown) => {
          throw unwritable(path, error)
        }),
      ),
    )
    return { sha256: hash.digest('hex'), size }
  } catch (error) {
    for (const { path } of outputs) await fs.rm(path, { force: true })
    throw error
  } finally {
    for (const { handle } of outputs) await handle.close().catch(() => undefined)
    await input.close()
  }
}

interface Output {
  readonly handle: fs.FileHandle
  readonly path: string
}

/**
 * Reads `input` to the end into `hash`, writing each chunk to every output too; returns the
 * byte count. Three buffers in turn: chunk i is hashed (on this thread) while chunk i-1 is
 * written and chunk i+1 is read (on libuv's pool), so the slowest of the three sets the pace.
 */
async function pump(
  input: fs.FileHandle,
  inputPath: string,
  hash: Hash,
  outputs: readonly Output[],
  chunkBytes: number,
): Promise<number> {
  const buffers = [0, 1, 2].map(() => Buffer.allocUnsafe(chunkBytes))
  const read = (i: number, position: number) =>
    input.read(buffers[i % 3] as Buffer, 0, chunkBytes, position).catch((error: unknown) => {
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `Cannot read model file ${inputPath}: ${messageOf(error)}`,
        { path: inputPath },
        { cause: error },
      )
    })
  let size = 0
  let writing: Promise<unknown> = Promise.resolve()
  let next = read(0, 0)
  for (let i = 0; ; i++) {
    const { bytesRead, buffer } = await next
    if (bytesRead === 0) break
    const chunk = buffer.subarray(0, bytesRead)
    // Buffer (i+1) % 3 was last written by writes i-2, which finished before writes i-1 started.
    next = read(i + 1, size + bytesRead)
    await writing
    const position = size
    writing = Promise.all(outputs.map((o) => writeFully(o.handle, o.path, chunk, position)))
    hash.update(chunk)
    size += bytesRead
  }
  await writing
  return size
}

async function writeFully(
  handle: fs.FileHandle,
  path: string,
  chunk: Buffer,
  position: number,
): Promise<void> {
  let done = 0
  while (done < chunk.length) {
    const { bytesWritten } = await handle
      .write(chunk, done, chunk.length - done, position + done)
      .catch((error: unknown) => {
        throw unwritable(path, error)
      })
    done += bytesWritten
  }
}

async function openForRead(path: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(path, 'r')
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read model file ${path}: ${messageOf(error)}`,
      { path },
      { cause: error },
    )
  }
}

/**
 * Copies `source` to a hidden temporary name beside `target` and returns that name; the caller
 * renames it into place (or removes it). Uses a copy-on-write clone where the file system has
 * one, else the kernel's copy_file_range (no bytes pass through this process).
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
      { path: target },
      { cause: error },
    )
  }
  return temp
}

/**
 * Copies `source` onto `target` atomically and durably: a temporary copy beside it is fsynced,
 * renamed over `target`, and the folder fsynced, so readers (and a machine that crashes) see the
 * old file or the new one, never half.
 */
export async function copyAtomically(source: string, target: string): Promise<void> {
  const temp = await copyToTemp(source, target)
  try {
    await syncFile(temp)
    await fs.rename(temp, target)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw unwritable(target, error)
  }
  await syncDir(dirname(target))
}

/** Flushes a file's bytes to disk. */
export async function syncFile(path: string): Promise<void> {
  const handle = await fs.open(path, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Flushes a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened. */
export async function syncDir(path: string): Promise<void> {
  const handle = await fs.open(path, 'r').catch(() => undefined)
  if (!handle) return
  try {
    await handle.sync().catch(() => undefined)
  } finally {
    await handle.close()
  }
}

/**
 * What the file system says about a file's content without reading it: size, modification and
 * change times (ns) and inode. Any write through the file system changes mtime and ctime, and
 * ctime cannot be set back from user space, so an equal stamp means the file was not written
 * since, as git's index trusts a file whose stat data it recorded.
 */
export interface FileStamp {
  readonly size: number
  readonly mtimeNs: string
  readonly ctimeNs: string
  readonly ino: string
}

/** The stamp of `path`, or undefined when it does not exist. */
export async function fileStamp(path: string): Promise<FileStamp | undefined> {
  const stat = await fs.stat(path, { bigint: true }).catch(() => undefined)
  if (!stat) return undefined
  return {
    size: Number(stat.size),
    mtimeNs: String(stat.mtimeNs),
    ctimeNs: String(stat.ctimeNs),
    ino: String(stat.ino),
  }
}

export function isSameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.ino === b.ino
  )
}

/** Where the store keeps the bytes with this hash. */
export function storePath(modelsDir: string, sha256: string): string {
  return join(modelsDir, 'store', sha256)
}

/** A file copied into the store under a temporary name, hashed on the way: not yet visible. */
export interface StagedObject extends FileDigest {
  /** The temporary copy; a complete, fsynced file holding bytes with `sha256`. */
  readonly temp: string
}

/**
 * Copies `source` into the store under a temporary name, hashing it in the same pass: the one
 * read that verifies a file entering the store. `alsoTo` names another new file that gets the
 * same bytes in the same pass (the production temp), which the caller owns. `commitStaged` makes
 * the store copy visible as `store/<sha256>`; `discardStaged` removes it.
 *
 * @example
 * const staged = await stageInStore('models', 'models/candidates/r1_model.bin')
 * if (staged.sha256 !== registered) await discardStaged(staged)
 * else await commitStaged('models', staged)
 */
export async function stageInStore(
  modelsDir: string,
  source: string,
  options: { readonly alsoTo?: string } = {},
): Promise<StagedObject> {
  const dir = join(modelsDir, 'store')
  await fs.mkdir(dir, { recursive: true })
  const temp = tempPathBeside(join(dir, 'incoming'))
  const targets = options.alsoTo === undefined ? [temp] : [temp, options.alsoTo]
  return { ...(await copyAndDigest(source, targets)), temp }
}

/**
 * Renames a staged copy to `store/<sha256>` (dropping it if the store has those bytes already:
 * store files are named by their content, so an existing one is never rewritten); returns
 * whether it added a file.
 */
export async function commitStaged(modelsDir: string, staged: StagedObject): Promise<boolean> {
  const target = storePath(modelsDir, staged.sha256)
  if (await exists(target)) {
    await discardStaged(staged)
    return false
  }
  try {
    await fs.rename(staged.temp, target)
  } catch (error) {
    await discardStaged(staged)
    throw unwritable(target, error)
  }
  await syncDir(dirname(target))
  return true
}

export async function discardStaged(staged: StagedObject): Promise<void> {
  await fs.rm(staged.temp, { force: true })
}

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path)
    return true
  } catch {
    return false
  }
}

function unwritable(path: string, error: unknown): DuckmergeError {
  if (error instanceof DuckmergeError) return error
  return new DuckmergeError(
    'OUTPUT_UNWRITABLE',
    `Cannot write ${path}: ${messageOf(error)}`,
    { path },
    { cause: error },
  )
}
