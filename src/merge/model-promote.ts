/**
 * Rebase for models: promote a model to production, and roll back to the one before. The
 * production file is replaced atomically (temp + rename); every model that was in production is
 * kept in the content-addressed store, so the replaced one stays retrievable by its hash.
 *
 * promote: lock → pick model → verify hash → store new (and current) → copy store → production
 *          temp → rename → write registry (on failure: put the replaced file back)
 */
import { promises as fs } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { DuckmergeError } from '../errors.js'
import {
  copyAtomically,
  digestFile,
  exists,
  putInStore,
  storePath,
} from '../formats/model/content-store.js'
import type { Candidate, ModelRef, Production, Registry } from '../formats/model/registry-file.js'
import { registryPath } from '../formats/model/registry-file.js'
import {
  assertModelFile,
  assertModelsDir,
  defaultModelsDir,
  type ModelsDirOption,
  productionStack,
  updateRegistry,
} from './model.js'

/** Exactly one of `exp`, `candidate` or `best` says which model to promote. */
export interface ModelPromoteOptions extends ModelsDirOption {
  /** A model file, promoted directly (not registered as a candidate). */
  readonly exp?: string
  /** A candidate id, e.g. 'messy-tuna-4687_model.bin'. */
  readonly candidate?: string
  /** The candidate with the highest value of this metric (lowest with `minimize`). */
  readonly best?: string
  readonly minimize?: boolean
}

export interface ModelPromoteReport {
  readonly strategy: 'promote' | 'rollback'
  readonly models: string
  /** False when the chosen model already was production. */
  readonly changed: boolean
  readonly production: Production
  /** The production model before, now kept in the store at `DIR/store/<sha256>`. */
  readonly replaced: ModelRef | null
  /** The production file. */
  readonly path: string
  readonly durationMs: number
}

/**
 * Makes a model the production model (`DIR/production/<file name>`), recording the promotion.
 *
 * @example
 * await promoteModel({ models: 'models', best: 'accuracy' })
 * await promoteModel({ models: 'models', candidate: 'messy-tuna-4687_model.bin' })
 */
export async function promoteModel(options: ModelPromoteOptions): Promise<ModelPromoteReport> {
  const started = performance.now()
  const dir = options.models ?? defaultModelsDir
  const chosen = [options.exp, options.candidate, options.best].filter((v) => v !== undefined)
  if (chosen.length !== 1)
    throw new DuckmergeError(
      'USAGE',
      'Say which model to promote with exactly one of --exp FILE, --candidate ID or --best METRIC.',
    )
  if (options.exp !== undefined) await assertModelFile(options.exp)
  else await assertModelsDir(dir)

  return updateRegistry(dir, async (registry) => {
    const pick = await pickModel(dir, registry, options)
    const current = await currentProduction(dir, registry)
    const now = new Date().toISOString()
    const production: Production = { ...pick.ref, source: pick.source, promotedAt: now }
    const path = join(dir, 'production', pick.ref.fileName)
    const report = (changed: boolean, p: Production) => ({
      strategy: 'promote' as const,
      models: dir,
      changed,
      production: p,
      replaced: changed ? (current?.ref ?? null) : null,
      path,
      durationMs: Math.round(performance.now() - started),
    })
    if (
      current &&
      registry.production &&
      current.ref.sha256 === pick.ref.sha256 &&
      current.ref.fileName === pick.ref.fileName
    )
      return { value: report(false, registry.production) }

    await putInStore(dir, pick.path, pick.ref.sha256)
    if (current) await putInStore(dir, current.path, current.ref.sha256)
    const undo = await placeProduction(dir, pick.ref, current?.ref ?? null)
    const next: Registry = {
      ...registry,
      production,
      history: [
        ...registry.history,
        { action: 'promote', at: now, model: pick.ref, replaced: current?.ref ?? null },
      ],
    }
    return { value: report(true, production), next, undo }
  })
}

/**
 * Restores the production model that the last promotion replaced (repeat to go further back).
 *
 * @example
 * const { production } = await rollbackModel({ models: 'models' })
 */
export async function rollbackModel(options: ModelsDirOption = {}): Promise<ModelPromoteReport> {
  const started = performance.now()
  const dir = options.models ?? defaultModelsDir
  await assertModelsDir(dir)
  return updateRegistry(dir, async (registry) => {
    const stack = productionStack(registry.history)
    const target = stack.at(-2)
    if (!target)
      throw new DuckmergeError(
        'NOT_FOUND',
        `Nothing to roll back to in ${registryPath(dir)}: ${stack.length === 0 ? 'no model was ever promoted' : 'the production model is the first one promoted'}.`,
        { path: registryPath(dir) },
      )
    const stored = storePath(dir, target.sha256)
    if (!(await exists(stored)))
      throw new DuckmergeError(
        'INPUT_NOT_FOUND',
        `Cannot roll back to ${target.fileName} (sha256 ${target.sha256}): its copy ${stored} is missing from the store. Restore the store folder from version control.`,
        { path: stored },
      )
    const current = await currentProduction(dir, registry)
    // A production file edited by hand is kept too, so nothing is lost by rolling back.
    if (current) await putInStore(dir, current.path, current.ref.sha256)
    const now = new Date().toISOString()
    const undo = await placeProduction(dir, target, current?.ref ?? null)
    const production: Production = { ...target, source: resolve(stored), promotedAt: now }
    const replaced = current?.ref ?? stack.at(-1) ?? null
    const next: Registry = {
      ...registry,
      production,
      history: [...registry.history, { action: 'rollback', at: now, model: target, replaced }],
    }
    return {
      value: {
        strategy: 'rollback' as const,
        models: dir,
        changed: true,
        production,
        replaced,
        path: join(dir, 'production', target.fileName),
        durationMs: Math.round(performance.now() - started),
      },
      next,
      undo,
    }
  })
}

interface Picked {
  readonly ref: ModelRef
  /** The file holding the bytes, whose hash was just verified. */
  readonly path: string
  readonly source: string
}

async function pickModel(
  dir: string,
  registry: Registry,
  options: ModelPromoteOptions,
): Promise<Picked> {
  if (options.exp !== undefined) {
    const { sha256, size } = await digestFile(options.exp)
    const ref = { fileName: basename(options.exp), sha256, size, candidateId: null }
    return { ref, path: options.exp, source: resolve(options.exp) }
  }
  const candidate =
    options.candidate !== undefined
      ? findCandidate(dir, registry, options.candidate)
      : bestCandidate(dir, registry, options.best ?? '', options.minimize ?? false)
  const path = join(dir, 'candidates', candidate.id)
  if (!(await exists(path)))
    throw new DuckmergeError(
      'INPUT_NOT_FOUND',
      `Candidate ${candidate.id} is registered but its file ${path} is missing. Register it again with duckmerge model merge.`,
      { path },
    )
  const { sha256 } = await digestFile(path)
  if (sha256 !== candidate.sha256)
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Candidate file ${path} changed since it was registered (sha256 ${sha256.slice(0, 12)}…, registered ${candidate.sha256.slice(0, 12)}…). Register the new file under a new run id.`,
      { path, sha256, registered: candidate.sha256 },
    )
  const ref = {
    fileName: candidate.fileName,
    sha256,
    size: candidate.size,
    candidateId: candidate.id,
  }
  return { ref, path, source: candidate.source }
}

function findCandidate(dir: string, registry: Registry, id: string): Candidate {
  const found = registry.candidates.find((c) => c.id === id)
  if (found) return found
  const known = registry.candidates.map((c) => c.id)
  throw new DuckmergeError(
    'NOT_FOUND',
    `No candidate "${id}" in ${registryPath(dir)} (candidates: ${known.join(', ') || 'none'}). Run duckmerge model list to see them.`,
    { id, known },
  )
}

/**
 * The candidate with the best numeric value of `metric`; ties go to the one registered first.
 *
 * @example
 * bestCandidate('models', registry, 'loss', true) // the lowest loss
 */
export function bestCandidate(
  dir: string,
  registry: Registry,
  metric: string,
  minimize: boolean,
): Candidate {
  const ranked = rankCandidates(registry.candidates, metric, minimize)
  const best = ranked[0]
  if (best) return best
  const seen = [...new Set(registry.candidates.flatMap((c) => Object.keys(c.metrics)))]
  throw new DuckmergeError(
    'NOT_FOUND',
    `No candidate in ${registryPath(dir)} has a numeric metric "${metric}" (metrics seen: ${seen.join(', ') || 'none'}). Pass one of those, or register candidates with --metrics.`,
    { metric, seen },
  )
}

/** Candidates with a numeric `metric`, best first (stable: earlier registration wins ties). */
export function rankCandidates(
  candidates: readonly Candidate[],
  metric: string,
  minimize: boolean,
): Candidate[] {
  return candidates
    .filter((c) => typeof c.metrics[metric] === 'number' && Number.isFinite(c.metrics[metric]))
    .sort((a, b) => {
      const d = (a.metrics[metric] as number) - (b.metrics[metric] as number)
      return minimize ? d : -d
    })
}

interface OnDisk {
  readonly ref: ModelRef
  readonly path: string
}

/** The production file as it is on disk (hashed now), adopting one placed there by hand. */
async function currentProduction(dir: string, registry: Registry): Promise<OnDisk | undefined> {
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
  if (!(await exists(path))) return undefined
  const { sha256, size } = await digestFile(path)
  const known = registry.production?.sha256 === sha256 ? registry.production.candidateId : null
  return { ref: { fileName, sha256, size, candidateId: known }, path }
}

/**
 * Copies the stored model onto `production/<file name>` atomically and removes the replaced file
 * when its name differs. Returns how to undo it (used if the registry write fails).
 */
async function placeProduction(
  dir: string,
  model: ModelRef,
  replaced: ModelRef | null,
): Promise<() => Promise<void>> {
  const productionDir = join(dir, 'production')
  await fs.mkdir(productionDir, { recursive: true })
  const target = join(productionDir, model.fileName)
  await copyAtomically(storePath(dir, model.sha256), target)
  if (replaced && replaced.fileName !== model.fileName)
    await fs.rm(join(productionDir, replaced.fileName), { force: true })
  return async () => {
    if (replaced) {
      await copyAtomically(storePath(dir, replaced.sha256), join(productionDir, replaced.fileName))
      if (replaced.fileName !== model.fileName) await fs.rm(target, { force: true })
    } else {
      await fs.rm(target, { force: true })
    }
  }
}
