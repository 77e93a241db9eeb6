/**
 * Rebase for models: promote a model to production, and roll back to the one before. The
 * production file is replaced atomically (temp + fsync + rename); every model that was in
 * production is kept in the content-addressed store, so the replaced one stays retrievable by
 * its hash.
 *
 * promote: lock → pick model → production known by its stamp? (else hash it into the store)
 *          → store has the model? copy it to a production temp
 *            : read it once, hashing, into a store temp and a production temp (a changed
 *              candidate is refused here) → fsync → name store/<sha256>
 *          → rename the temp over production → fsync folder → write registry
 *          (on failure: the replaced file put back, the store files added removed)
 */
import { promises as fs } from 'node:fs'
import { basename, extname, join, resolve } from 'node:path'
import { removeTempsOnExit, safePoint } from '../engine/interrupt.js'
import { DuckmergeError } from '../errors.js'
import {
  digestFile,
  exists,
  type StagedObject,
  stageInStore,
  storePath,
} from '../formats/model/content-store.js'
import type { Candidate, ModelRef, Production, Registry } from '../formats/model/registry-file.js'
import { readRegistry, registryPath } from '../formats/model/registry-file.js'
import {
  assertModelFile,
  assertModelsDir,
  defaultModelsDir,
  type ModelsDirOption,
  productionStack,
  type RegistryChange,
  updateRegistry,
} from './model.js'
import { bestCandidate, findCandidate } from './model-candidates.js'
import {
  discardAll,
  inspectProduction,
  placeProduction,
  productionTemp,
} from './model-production.js'

/** Exactly one of `exp`, `candidate` or `best` says which model to promote. */
export interface ModelPromoteOptions extends ModelsDirOption {
  /** A model file, promoted directly (not registered as a candidate). */
  readonly exp?: string
  /** A candidate id, e.g. 'messy-tuna-4687_model.bin'. */
  readonly candidate?: string
  /** The candidate with the highest value of this metric (lowest with `minimize`). */
  readonly best?: string
  readonly minimize?: boolean
  /**
   * The production file's name in `DIR/production/`, the same whichever candidate wins, so a
   * server loads one path (default `model<ext>` after the chosen file, e.g. `model.bin`, as the
   * seed's `production/model.bin`). The registry keeps which candidate it is.
   */
  readonly name?: string
  /** Report what the promotion would do (hashing what it would hash); write nothing. */
  readonly dryRun?: boolean
  /**
   * Aborting stops before production is replaced (INTERRUPTED): the copies made so far are
   * removed, production and the registry are unchanged. Once production is replaced, it completes.
   */
  readonly signal?: AbortSignal
}

export interface ModelPromoteReport {
  readonly strategy: 'promote' | 'rollback'
  readonly dryRun: boolean
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
 * A candidate's bytes are read once, when they first enter the store: hashed while they are
 * written to the store and to production at the same time, and refused if they differ from the
 * registered sha256. A model the store already has is copied from there without reading the
 * candidate. The production file it replaces is not read when it still has the stamp recorded
 * when it was placed (its bytes are in the store already).
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
      `Say which model to promote: a model file, a candidate or the best by a metric (${chosen.length} given).`,
      { hint: 'Give exactly one of {exp}, {candidate} or {best}.' },
    )

  if (options.exp !== undefined) await assertModelFile(options.exp)
  else await assertModelsDir(dir)
  const { name } = options
  if (name !== undefined) assertProductionName(name)

  if (options.dryRun) {
    // A registry read without the lock: writers replace it by rename, so it is whole.
    const registry = await readRegistry(dir)
    const choice = chooseModel(dir, registry, options)
    return (await promoteChoice(dir, registry, choice, { dryRun: true, started, name })).value
  }
  // A second Ctrl-C exits at once: the copies being made into the store and production go too.
  const forget = ['store', 'production'].map((folder) => removeTempsOnExit(join(dir, folder)))
  try {
    return await updateRegistry(dir, (registry) =>
      promoteChoice(dir, registry, chooseModel(dir, registry, options), {
        dryRun: false,
        started,
        name,
        signal: options.signal,
      }),
    )
  } finally {
    for (const f of forget) f()
  }
}

/**
 * What promoting a candidate that a dry run of `mergeModel` reported would do, although it is
 * not registered yet: `exp` holds its bytes (just hashed). Writes nothing.
 *
 * @example
 * const merged = await mergeModel({ exp, runId, dryRun: true })
 * await previewCandidatePromotion({ models: 'models', candidate: merged.candidate, exp })
 */
export async function previewCandidatePromotion(options: {
  readonly models?: string
  readonly candidate: Candidate
  readonly exp: string
  readonly name?: string
}): Promise<ModelPromoteReport> {
  const started = performance.now()
  const dir = options.models ?? defaultModelsDir
  const { candidate } = options
  const registry = await readRegistry(dir)
  const choice: Choice = {
    ...choiceOf(dir, candidate),
    path: options.exp,
    isVerified: true,
  }
  return (await promoteChoice(dir, registry, choice, { dryRun: true, started, name: options.name }))
    .value
}

/** `model.bin` for `r1_model.bin`: the stable production name (STABLE_NAME plus the extension). */
export function productionName(fileName: string, name?: string): string {
  return name ?? `${STABLE_NAME}${extname(fileName)}`
}

const STABLE_NAME = 'model'

function assertProductionName(name: string): void {
  if (name === '' || name.startsWith('.') || /[\\/]/.test(name))
    throw new DuckmergeError(
      'USAGE',
      `The production file name "${name}" must be a plain file name (no folder, not hidden), e.g. model.bin.`,
      { name, hint: 'Choose {name} as a plain file name.' },
    )
}

/** The promotion of `choice` as a registry change (dry run: only its report). */
async function promoteChoice(
  dir: string,
  registry: Registry,
  choice: Choice,
  run: {
    readonly dryRun: boolean
    readonly started: number
    readonly name: string | undefined
    readonly signal?: AbortSignal | undefined
  },
): Promise<RegistryChange<ModelPromoteReport>> {
  const { dryRun } = run
  // The production file keeps one name whichever model is promoted; the ref keeps its candidate.
  const asProduction = (ref: ModelRef): ModelRef => ({
    ...ref,
    fileName: productionName(ref.fileName, run.name),
  })
  const current = await inspectProduction(dir, registry, dryRun ? 'read-only' : 'stage')
  const staged: StagedObject[] = current?.staged ? [current.staged] : []
  /** The new production file, written while the model was copied into the store. */
  let prepared: string | undefined
  const isProduction = (ref: ModelRef) =>
    current !== undefined &&
    registry.production !== null &&
    current.ref.sha256 === ref.sha256 &&
    current.ref.fileName === ref.fileName
  const report = (changed: boolean, production: Production, replaced: ModelRef | null) => ({
    strategy: 'promote' as const,
    dryRun,
    models: dir,
    changed,
    production,
    replaced,
    path: join(dir, 'production', production.fileName),
    durationMs: Math.round(performance.now() - run.started),
  })
  try {
    if (choice.known && isProduction(asProduction(choice.known)) && registry.production) {
      await discardAll(staged)
      return { value: report(false, registry.production, null) }
    }
    const brought = await bringIntoStore(dir, choice, dryRun)
    const pick = { ...brought, ref: asProduction(brought.ref) }
    if (pick.staged) staged.push(pick.staged)
    prepared = pick.prepared
    if (isProduction(pick.ref) && registry.production) {
      await discardAll(staged, prepared)
      return { value: report(false, registry.production, null) }
    }
    const replaced = current?.ref ?? null
    const now = new Date().toISOString()
    const production: Production = { ...pick.ref, source: choice.source, promotedAt: now }
    if (dryRun) return { value: report(true, production, replaced) }
    // The last safe point: from here production is replaced and the registry written.
    await safePoint(run.signal, `production in ${dir} is unchanged`)
    const { stamp, undo } = await placeProduction(dir, {
      model: pick.ref,
      replaced,
      staged,
      ...(prepared && { prepared }),
    })
    const placed: Production = { ...production, stamp }
    const next: Registry = {
      ...registry,
      production: placed,
      history: [...registry.history, { action: 'promote', at: now, model: pick.ref, replaced }],
    }
    return { value: report(true, placed, replaced), next, undo }
  } catch (error) {
    await discardAll(staged, prepared)
    throw error
  }
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
    // A production file edited by hand is hashed into the store too: rolling back loses nothing.
    const current = await inspectProduction(dir, registry)
    const staged = current?.staged ? [current.staged] : []
    const now = new Date().toISOString()
    // On failure placeProduction discards the staged copy itself.
    const { stamp, undo } = await placeProduction(dir, {
      model: target,
      replaced: current?.ref ?? null,
      staged,
    })
    const production: Production = { ...target, source: resolve(stored), promotedAt: now, stamp }
    const replaced = current?.ref ?? stack.at(-1) ?? null
    const next: Registry = {
      ...registry,
      production,
      history: [...registry.history, { action: 'rollback', at: now, model: target, replaced }],
    }
    return {
      value: {
        strategy: 'rollback' as const,
        dryRun: false,
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

/** Which model to promote, before its bytes are known to be in the store. */
interface Choice {
  /** The registered model; undefined for a file promoted directly (its hash is not known yet). */
  readonly known?: ModelRef
  /** The file holding its bytes. */
  readonly path: string
  readonly source: string
  /** True when `path` was hashed just now (a dry run's would-be candidate). */
  readonly isVerified?: boolean
}

function chooseModel(dir: string, registry: Registry, options: ModelPromoteOptions): Choice {
  if (options.exp !== undefined) return { path: options.exp, source: resolve(options.exp) }
  const candidate =
    options.candidate !== undefined
      ? findCandidate(dir, registry, options.candidate)
      : bestCandidate(dir, registry, options.best ?? '', options.minimize ?? false)
  return choiceOf(dir, candidate)
}

function choiceOf(dir: string, candidate: Candidate): Choice {
  const { fileName, sha256, size, id } = candidate
  return {
    known: { fileName, sha256, size, candidateId: id },
    path: join(dir, 'candidates', id),
    source: candidate.source,
  }
}

/**
 * The chosen model's ref, with its bytes in the store or staged for it. A model the store has is
 * not read again (the store verified it on entry); otherwise the file is copied in while hashed,
 * and in the same pass to a temporary production file (`prepared`), so production gets exactly
 * the bytes hashed without a second read; a candidate whose hash is not the registered one is
 * refused. A dry run only hashes.
 */
async function bringIntoStore(
  dir: string,
  choice: Choice,
  dryRun: boolean,
): Promise<{ readonly ref: ModelRef; readonly staged?: StagedObject; readonly prepared?: string }> {
  const { known, path } = choice
  if (known && (await exists(storePath(dir, known.sha256)))) return { ref: known }
  if (known && choice.isVerified) return { ref: known }
  if (!(await exists(path)))
    throw new DuckmergeError(
      'INPUT_NOT_FOUND',
      `Candidate ${known?.candidateId} is registered but its file ${path} is missing. Register it again with duckmerge model merge.`,
      { path },
    )
  const fileName = known?.fileName ?? basename(path)
  let staged: StagedObject | undefined
  let prepared: string | undefined
  // Folders made here are removed again if the candidate is refused: a refusal changes nothing.
  const made: (string | undefined)[] = []
  if (!dryRun) {
    made.push(await fs.mkdir(join(dir, 'store'), { recursive: true }))
    made.push(await fs.mkdir(join(dir, 'production'), { recursive: true }))
    prepared = await productionTemp(dir, fileName)
    staged = await stageInStore(dir, path, { alsoTo: prepared })
  }
  const digest = staged ?? (await digestFile(path))
  if (known && digest.sha256 !== known.sha256) {
    await discardAll(staged ? [staged] : [], prepared)
    for (const folder of made) if (folder) await fs.rmdir(folder).catch(() => undefined)
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Candidate file ${path} changed since it was registered (sha256 ${digest.sha256.slice(0, 12)}…, registered ${known.sha256.slice(0, 12)}…). Register the new file under a new run id.`,
      { path, sha256: digest.sha256, registered: known.sha256 },
    )
  }
  const ref = known ?? { fileName, sha256: digest.sha256, size: digest.size, candidateId: null }
  return { ref, ...(staged && { staged }), ...(prepared && { prepared }) }
}
