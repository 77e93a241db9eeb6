/**
 * The production slot of a models folder: what is in it now (known from the registry by its
 * stamp, else hashed on its way into the store), and putting a model there durably.
 *
 * place: staged store copies → store/<sha256> → production/.<name>.tmp (written in the pass that
 *        hashed the model into the store, or copied from the store object, fsynced)
 *        → rename over production/<name> → fsync folder → stamp
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tempPathBeside } from '../engine/files.js'
import { DuckmergeError } from '../errors.js'
import {
  commitStaged,
  copyAtomically,
  digestFile,
  discardStaged,
  exists,
  type FileStamp,
  fileStamp,
  isSameStamp,
  type StagedObject,
  stageInStore,
  storePath,
  syncDir,
} from '../formats/model/content-store.js'
import type { ModelRef, Registry } from '../formats/model/registry-file.js'

export interface CurrentProduction {
  readonly ref: ModelRef
  readonly path: string
  /** A hashed copy of it, made because the registry could not vouch for the file. */
  readonly staged?: StagedObject
}

/**
 * The production file as it is on disk. When it still has the stamp recorded when it was placed
 * and the store holds its bytes, the registry's sha256 is used without reading it. Otherwise (a
 * file placed or edited by hand, or a registry written on another machine) it is hashed while
 * being copied into the store (staged, not yet visible), so replacing it never loses bytes; in
 * 'read-only' mode (a dry run) it is only hashed.
 */
export async function inspectProduction(
  dir: string,
  registry: Registry,
  mode: 'stage' | 'read-only' = 'stage',
): Promise<CurrentProduction | undefined> {
  const productionDir = join(dir, 'production')
  let fileName = registry.production?.fileName
  if (fileName === undefined) {
    const names = (await fs.readdir(productionDir).catch(() => [] as string[])).filter(
      (n) => !n.startsWith('.'),
    )
    if (names.length > 1)
      throw new DuckmergeError(
        'UNSUPPORTED_FEATURE',
        `${productionDir} holds several files the registry does not know (${names.join(', ')}). Keep only the production model there, then promote again.`,
        { path: productionDir, names },
      )
    fileName = names[0]
  }
  if (fileName === undefined) return undefined
  const path = join(productionDir, fileName)
  const stamp = await fileStamp(path)
  if (!stamp) return undefined
  const recorded = registry.production
  if (
    recorded &&
    isSameStamp(recorded.stamp, stamp) &&
    (await exists(storePath(dir, recorded.sha256)))
  ) {
    const { sha256, size, candidateId } = recorded
    return { ref: { fileName, sha256, size, candidateId }, path }
  }
  // A dry run only hashes it: what a real run would store, without storing it.
  const staged = mode === 'stage' ? await stageInStore(dir, path) : undefined
  const { sha256, size } = staged ?? (await digestFile(path))
  const candidateId = recorded?.sha256 === sha256 ? recorded.candidateId : null
  return { ref: { fileName, sha256, size, candidateId }, path, ...(staged && { staged }) }
}

export interface Placement {
  /** The production file's stamp, to record in the registry. */
  readonly stamp: FileStamp
  /** Puts the replaced model back and removes what this placement added to the store. */
  readonly undo: () => Promise<void>
}

/** A hidden temporary name in `production/` for a new production file (creating the folder). */
export async function productionTemp(dir: string, fileName: string): Promise<string> {
  const productionDir = join(dir, 'production')
  await fs.mkdir(productionDir, { recursive: true })
  return tempPathBeside(join(productionDir, fileName))
}

/**
 * Commits the staged store copies, then puts `model` at `production/<model.fileName>` atomically
 * and durably: the `prepared` temporary copy when given (written and fsynced in the pass that
 * hashed the model into the store), else a copy of `store/<model.sha256>`; the replaced file is
 * removed when its name differs. On failure, the store files it added are removed again and
 * production is unchanged.
 *
 * @example
 * const { stamp, undo } = await placeProduction('models', { model, replaced: null, staged: [] })
 */
export async function placeProduction(
  dir: string,
  placing: {
    readonly model: ModelRef
    readonly replaced: ModelRef | null
    readonly staged: readonly StagedObject[]
    readonly prepared?: string
  },
): Promise<Placement> {
  const { model, replaced, staged, prepared } = placing
  const productionDir = join(dir, 'production')
  const target = join(productionDir, model.fileName)
  const added: string[] = []
  const removeAdded = async () => {
    for (const path of added) await fs.rm(path, { force: true })
  }
  try {
    for (const object of staged)
      if (await commitStaged(dir, object)) added.push(storePath(dir, object.sha256))
    await fs.mkdir(productionDir, { recursive: true })
    if (prepared) {
      await fs.rename(prepared, target)
      await syncDir(productionDir)
    } else {
      // From the store, not the candidate: a store object's bytes were verified on entry.
      await copyAtomically(storePath(dir, model.sha256), target)
    }
  } catch (error) {
    await discardAll(staged, prepared)
    await removeAdded()
    throw error
  }
  if (replaced && replaced.fileName !== model.fileName)
    await fs.rm(join(productionDir, replaced.fileName), { force: true })
  const stamp = await fileStamp(target)
  if (!stamp)
    throw new DuckmergeError('OUTPUT_UNWRITABLE', `${target} vanished right after it was written.`)
  const undo = async () => {
    if (replaced) {
      await copyAtomically(storePath(dir, replaced.sha256), join(productionDir, replaced.fileName))
      if (replaced.fileName !== model.fileName) await fs.rm(target, { force: true })
    } else {
      await fs.rm(target, { force: true })
    }
    await removeAdded()
  }
  return { stamp, undo }
}

/** Removes staged copies (and a prepared production temp) that will not be used. */
export async function discardAll(
  staged: readonly (StagedObject | undefined)[],
  prepared?: string,
): Promise<void> {
  for (const object of staged) if (object) await discardStaged(object)
  if (prepared) await fs.rm(prepared, { force: true })
}
