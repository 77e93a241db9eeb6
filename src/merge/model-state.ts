/**
 * Undoing a model step when a later step of a combined run fails: the candidate it registered
 * and the promotion it made are reverted, leaving the models folder as it was before.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { copyAtomically, exists, storePath } from '../formats/model/content-store.js'
import { type Production, readRegistry, registryPath } from '../formats/model/registry-file.js'
import { type ModelMergeReport, updateRegistry } from './model.js'
import type { ModelPromoteReport } from './model-promote.js'

/** What the models folder looked like before a step, enough to put it back. */
export interface ModelState {
  readonly models: string
  readonly production: Production | null
  /** Which of the folder, its sub-folders and registry.json existed. */
  readonly existed: ReadonlySet<string>
  readonly storeFiles: ReadonlySet<string>
}

const parts = ['', 'candidates', 'production', 'store', 'registry.json']

/**
 * Records the models folder's state before a step that may have to be undone.
 *
 * @example
 * const before = await captureModelState('models')
 * const merged = await mergeModel({ models: 'models', exp, runId })
 * // … a later step fails …
 * await restoreModelState(before, { merged })
 */
export async function captureModelState(models: string): Promise<ModelState> {
  const existed = new Set<string>()
  for (const part of parts) if (await exists(join(models, part))) existed.add(part)
  const production = existed.has('registry.json') ? (await readRegistry(models)).production : null
  const storeFiles = new Set(await fs.readdir(join(models, 'store')).catch(() => [] as string[]))
  return { models, production, existed, storeFiles }
}

/**
 * Reverts a registration and/or a promotion made since `before`: the production file is put
 * back, the candidate removed, the registry entries dropped, files and folders the step created
 * removed. Entries other processes added meanwhile are kept.
 */
export async function restoreModelState(
  before: ModelState,
  changes: { readonly merged?: ModelMergeReport; readonly promoted?: ModelPromoteReport | null },
): Promise<void> {
  const dir = before.models
  const { merged, promoted } = changes
  await updateRegistry(dir, async (registry) => {
    let { candidates, history, production } = registry
    if (promoted?.changed) {
      const productionDir = join(dir, 'production')
      const replaced = promoted.replaced
      production = before.production
      // The registry is restored byte for byte, so the copy put back does not have the recorded
      // stamp: the next promotion reads it once (it is in the store already).
      if (replaced)
        await copyAtomically(
          storePath(dir, replaced.sha256),
          join(productionDir, replaced.fileName),
        )
      if (!replaced || replaced.fileName !== promoted.production.fileName)
        await fs.rm(join(productionDir, promoted.production.fileName), { force: true })
      const last = history.at(-1)
      if (last?.action === 'promote' && last.at === promoted.production.promotedAt)
        history = history.slice(0, -1)
    }
    if (merged?.changed) {
      candidates = candidates.filter((c) => c.id !== merged.candidate.id)
      await fs.rm(join(dir, 'candidates', merged.candidate.id), { force: true })
    }
    return { value: undefined, next: { ...registry, candidates, history, production } }
  })
  const added = (await fs.readdir(join(dir, 'store')).catch(() => [] as string[])).filter(
    (name) => !before.storeFiles.has(name),
  )
  for (const name of added) await fs.rm(join(dir, 'store', name), { force: true })
  await removeCreated(before)
}

async function removeCreated(before: ModelState): Promise<void> {
  const dir = before.models
  if (!before.existed.has('registry.json')) {
    const registry = await readRegistry(dir)
    const isEmpty =
      registry.production === null &&
      registry.candidates.length === 0 &&
      registry.history.length === 0
    if (isEmpty) await fs.rm(registryPath(dir), { force: true })
  }
  // rmdir only removes empty folders: anything another process put there stays.
  for (const part of ['candidates', 'production', 'store', ''])
    if (!before.existed.has(part)) await fs.rmdir(join(dir, part)).catch(() => undefined)
}
