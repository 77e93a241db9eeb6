/**
 * Model files, git-style: merge keeps a model as a candidate, rebase (promote) makes it the
 * production model. This module registers candidates and lists the registry; promotion, rollback
 * and pruning live in model-promote.ts and model-prune.ts.
 *
 * DIR/registry.json      candidates, production, history (see formats/model/registry-file.ts)
 * DIR/candidates/<id>    one file per candidate, id = <run-id>_<file name>
 * DIR/production/<name>  the production model
 * DIR/store/<sha256>     every model that was ever in production, for rollback
 */
import { promises as fs } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { assertExists } from '../engine/files.js'
import { removeTempsOnExit, safePoint, throwIfInterrupted } from '../engine/interrupt.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { copyToTemp, digestFile, type FileDigest } from '../formats/model/content-store.js'
import { withLockFile } from '../formats/model/lock-file.js'
import {
  type Candidate,
  type HistoryEntry,
  lockPath,
  type MetricValue,
  type ModelRef,
  type Production,
  type Registry,
  readRegistry,
  registryPath,
  writeRegistry,
} from '../formats/model/registry-file.js'

export type {
  Candidate,
  HistoryEntry,
  MetricValue,
  ModelRef,
  Production,
  Registry,
} from '../formats/model/registry-file.js'

/** Where the registry lives; default `models`. */
export interface ModelsDirOption {
  readonly models?: string
}

export interface ModelMergeOptions extends ModelsDirOption {
  /** The model file to keep as a candidate. */
  readonly exp: string
  /** The run (track id) that produced it; part of the candidate id. */
  readonly runId: string
  readonly metrics?: Readonly<Record<string, MetricValue>>
  /** Hash the file and report what would be registered; write nothing. */
  readonly dryRun?: boolean
  /**
   * Aborting stops before the candidate is named and registered (INTERRUPTED): its temporary
   * copy is removed and the registry is unchanged.
   */
  readonly signal?: AbortSignal
}

export interface ModelMergeReport {
  readonly strategy: 'merge'
  readonly dryRun: boolean
  readonly models: string
  /** False when the same file was already registered under this run id. */
  readonly changed: boolean
  readonly candidate: Candidate
  /** Where the candidate's copy is. */
  readonly path: string
  readonly durationMs: number
}

/** The default models folder. */
export const defaultModelsDir = 'models'

/**
 * Merge for models: copies the file to `DIR/candidates/<run-id>_<file name>` and records it in
 * the registry (run id, sha256, size, source, metrics, time). Registering the same file under the
 * same run id again changes nothing; a different file under an existing id is DUPLICATE_KEY.
 *
 * @example
 * const { candidate } = await mergeModel({ exp: 'out/model.bin', runId: 'messy-tuna-4687',
 *   metrics: { accuracy: 0.95 } })
 * candidate.id // 'messy-tuna-4687_model.bin'
 */
export async function mergeModel(options: ModelMergeOptions): Promise<ModelMergeReport> {
  const started = performance.now()
  const dir = options.models ?? defaultModelsDir
  await assertModelFile(options.exp)
  assertRunId(options.runId)
  const fileName = basename(options.exp)
  const id = `${options.runId}_${fileName}`
  const target = join(dir, 'candidates', id)
  const report = (result: { changed: boolean; candidate: Candidate }): ModelMergeReport => ({
    strategy: 'merge',
    dryRun: options.dryRun ?? false,
    models: dir,
    ...result,
    path: target,
    durationMs: Math.round(performance.now() - started),
  })
  const register = (registry: Registry, digest: FileDigest) => {
    const existing = registry.candidates.find((c) => c.id === id)
    if (!existing) return undefined
    if (existing.sha256 !== digest.sha256)
      throw new DuckmergeError(
        'DUPLICATE_KEY',
        `Candidate ${id} is already registered in ${registryPath(dir)} with different content (sha256 ${existing.sha256.slice(0, 12)}…, new file ${digest.sha256.slice(0, 12)}…).`,
        {
          id,
          registered: existing.sha256,
          sha256: digest.sha256,
          hint: 'Register it under a new {runId}.',
        },
      )
    return { changed: false, candidate: existing }
  }
  const candidateOf = ({ sha256, size }: FileDigest): Candidate => ({
    id,
    runId: options.runId,
    fileName,
    sha256,
    size,
    source: resolve(options.exp),
    metrics: { ...(options.metrics ?? {}) },
    registeredAt: new Date().toISOString(),
  })

  if (options.dryRun) {
    // A registry read without the lock: writers replace it by rename, so it is whole.
    const digest = await digestFile(options.exp)
    const registry = await readRegistry(dir)
    return report(register(registry, digest) ?? { changed: true, candidate: candidateOf(digest) })
  }

  const made = await fs
    .mkdir(join(dir, 'candidates'), { recursive: true })
    .catch((error: unknown) => {
      throw unwritable(dir, error)
    })
  const { signal } = options
  const outcome = `nothing was registered in ${dir}`
  // Copy and hash outside the lock (large files); the hash is of the copy we keep.
  const forget = removeTempsOnExit(join(dir, 'candidates'))
  let temp: string | undefined
  try {
    throwIfInterrupted(signal, outcome)
    temp = await copyToTemp(options.exp, target)
    await safePoint(signal, outcome)
    const digest = await digestFile(temp)
    const copy = temp
    const result = await updateRegistry(dir, async (registry) => {
      const existing = register(registry, digest)
      if (existing) return { value: existing }
      const candidate = candidateOf(digest)
      await safePoint(signal, outcome)
      await fs.rename(copy, target)
      const next = { ...registry, candidates: [...registry.candidates, candidate] }
      return {
        value: { changed: true, candidate },
        next,
        undo: () => fs.rm(target, { force: true }),
      }
    })
    return report(result)
  } catch (error) {
    if (temp) await fs.rm(temp, { force: true })
    // Folders this call made go too when it registered nothing (rmdir leaves a non-empty one).
    if (made)
      for (const folder of [join(dir, 'candidates'), dir])
        await fs.rmdir(folder).catch(() => undefined)
    throw error
  } finally {
    if (temp) await fs.rm(temp, { force: true })
    forget()
  }
}

export interface ModelListing {
  readonly models: string
  readonly production: Production | null
  readonly candidates: readonly (Candidate & { readonly isProduction: boolean })[]
  readonly history: readonly HistoryEntry[]
  /** What `model rollback` would restore, if anything. */
  readonly rollbackTo: ModelRef | null
}

/**
 * The registry as it stands: production, candidates (marking the production one), history.
 *
 * @example
 * const { production, candidates } = await listModels({ models: 'models' })
 */
export async function listModels(options: ModelsDirOption = {}): Promise<ModelListing> {
  const dir = options.models ?? defaultModelsDir
  await assertModelsDir(dir)
  const registry = await readRegistry(dir)
  const stack = productionStack(registry.history)
  return {
    models: dir,
    production: registry.production,
    candidates: registry.candidates.map((c) => ({
      ...c,
      isProduction: registry.production?.sha256 === c.sha256,
    })),
    history: registry.history,
    rollbackTo: stack.at(-2) ?? null,
  }
}

/**
 * The models production held, oldest first, as promotions push and rollbacks pop; the last one
 * is production, the one before is what a rollback restores.
 */
export function productionStack(history: readonly HistoryEntry[]): ModelRef[] {
  const stack: ModelRef[] = []
  for (const entry of history) {
    if (entry.action === 'promote') {
      if (stack.length === 0 && entry.replaced) stack.push(entry.replaced)
      stack.push(entry.model)
    } else {
      stack.pop()
    }
  }
  return stack
}

/** What a registry change computes: a value, and the new registry to write (if any). */
export interface RegistryChange<T> {
  readonly value: T
  readonly next?: Registry
  /** Reverts file moves made inside the change if writing the registry fails. */
  readonly undo?: () => Promise<unknown>
  /** Runs after the registry is written, still under the lock (e.g. removing files). */
  readonly afterWrite?: () => Promise<unknown>
}

/**
 * Read-modify-write of the registry under its lock file, so concurrent callers never lose an
 * entry. `change` may move files; if the registry write fails, its `undo` runs.
 */
export async function updateRegistry<T>(
  dir: string,
  change: (registry: Registry) => Promise<RegistryChange<T>>,
): Promise<T> {
  try {
    await fs.mkdir(dir, { recursive: true })
  } catch (error) {
    throw unwritable(dir, error)
  }
  return withLockFile(lockPath(dir), async () => {
    const registry = await readRegistry(dir)
    const { value, next, undo, afterWrite } = await change(registry)
    if (next) {
      try {
        await writeRegistry(dir, next)
      } catch (error) {
        await undo?.()
        throw error
      }
      await afterWrite?.()
    }
    return value
  })
}

/** A folder that cannot be made or written (read-only, no permission, a file in its path). */
function unwritable(dir: string, error: unknown): DuckmergeError {
  return new DuckmergeError(
    'OUTPUT_UNWRITABLE',
    `Cannot write the models folder ${dir}: ${messageOf(error)}.`,
    { path: dir, hint: 'Choose {models} as a folder you can write.' },
    { cause: error },
  )
}

export async function assertModelsDir(dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined)
  if (!stat?.isDirectory())
    throw new DuckmergeError('INPUT_NOT_FOUND', `Models folder not found: ${dir}.`, {
      path: dir,
      hint: 'Register a model first: a model merge with {models} set to that folder.',
    })
}

export async function assertModelFile(path: string): Promise<void> {
  await assertExists(path, 'model file')
  const stat = await fs.stat(path)
  if (!stat.isFile())
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Model ${path} is a folder; duckmerge registers single model files. Archive the folder (e.g. tar) and register the archive.`,
      { path },
    )
}

/** Throws USAGE unless `runId` can be part of a file name. */
export function assertRunId(runId: string): void {
  if (runId === '' || /[/\\\0]/.test(runId) || runId.startsWith('.'))
    throw new DuckmergeError(
      'USAGE',
      `Run id "${runId}" cannot name a file: it must be non-empty, not start with "." and contain no "/" or "\\".`,
      { runId },
    )
}
