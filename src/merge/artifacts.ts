/**
 * The combined run a DVC stage calls: results database, Parquet dataset and model file, each
 * with its own strategy, producing every output or none.
 *
 *   check all inputs → results → temp │ data → temp → model (candidate, promotion)
 *   → rename all temps into place → on any failure: temps removed, model step undone
 *   dry run: check all inputs → each step's report against the real outputs, nothing written
 */
import { promises as fs } from 'node:fs'
import { resolve } from 'node:path'
import { assertExists } from '../engine/files.js'
import { removeOnExit, safePoint } from '../engine/interrupt.js'
import { DuckmergeError, messageOf } from '../errors.js'
import type { MetricValue } from '../formats/model/registry-file.js'
import type { ProgressCallback } from '../progress.js'
import {
  commitOutputs,
  discardOutputs,
  type PendingOutput,
  tempOutputPath,
} from './artifacts-outputs.js'
import type { ModelStrategy } from './artifacts-params.js'
import { mergeData, rebaseData } from './data.js'
import {
  assertModelFile,
  assertRunId,
  defaultModelsDir,
  type ModelMergeReport,
  mergeModel,
} from './model.js'
import {
  type ModelPromoteReport,
  previewCandidatePromotion,
  promoteModel,
} from './model-promote.js'
import { captureModelState, restoreModelState } from './model-state.js'
import type { MergeReport, Strategy } from './report.js'
import { mergeResults, rebaseResults } from './results.js'

export type { ModelStrategy } from './artifacts-params.js'

export interface ResultsArtifact {
  readonly ours: string
  readonly theirs: string
  /** Default: ours (replaced atomically when the whole run succeeds). */
  readonly output?: string
  readonly strategy: Strategy
  /** Required for rebase; for merge, default is each table's primary key. */
  readonly key?: readonly string[]
  readonly tables?: readonly string[]
}

export interface DataArtifact {
  readonly ours: string
  readonly theirs: string
  /** Default: ours (replaced atomically when the whole run succeeds). */
  readonly output?: string
  readonly strategy: Strategy
  /** Required for rebase; for merge, theirs rows whose key ours has are skipped. */
  readonly key?: readonly string[]
}

export interface ModelArtifact {
  readonly exp: string
  readonly runId: string
  /** Default 'models'. */
  readonly models?: string
  /** merge keeps the model as a candidate; promote also makes it production. */
  readonly strategy: ModelStrategy
  readonly metrics?: Readonly<Record<string, MetricValue>>
}

/** Each artifact group is optional; only the ones given run. */
export interface ArtifactsOptions {
  readonly results?: ResultsArtifact
  readonly data?: DataArtifact
  readonly model?: ModelArtifact
  /**
   * Report what every step would do (the same figures as a real run: results and data counted,
   * the model hashed and checked against the registry); write nothing.
   */
  readonly dryRun?: boolean
  readonly onProgress?: ProgressCallback
  /**
   * Aborting stops the running step at its next safe point (INTERRUPTED): no output is moved
   * into place, the model step is undone, every input is unchanged.
   */
  readonly signal?: AbortSignal
}

export interface ArtifactsModelReport {
  readonly strategy: ModelStrategy
  readonly candidate: ModelMergeReport
  readonly promotion: ModelPromoteReport | null
}

export interface ArtifactsReport {
  readonly dryRun: boolean
  readonly strategy: {
    readonly results?: Strategy
    readonly data?: Strategy
    readonly model?: ModelStrategy
  }
  readonly results: MergeReport | null
  readonly data: MergeReport | null
  readonly model: ArtifactsModelReport | null
  readonly durationMs: number
}

/**
 * Runs the given artifact groups; every output appears only if all of them succeed.
 *
 * @example
 * const report = await mergeArtifacts({
 *   results: { ours: 'results/experiments.db', theirs: 'results/incoming.db', strategy: 'merge' },
 *   data: { ours: 'data/train.parquet', theirs: 'data/incoming.parquet', strategy: 'rebase', key: ['id'] },
 *   model: { exp: 'out/model.bin', runId: 'messy-tuna-4687', strategy: 'promote' },
 * })
 */
export async function mergeArtifacts(options: ArtifactsOptions): Promise<ArtifactsReport> {
  const started = performance.now()
  const { results, data, model } = options
  await check(options)
  const dryRun = options.dryRun ?? false
  const reports = dryRun ? await previewAll(options) : await runAll(options)
  return {
    dryRun,
    strategy: {
      ...(results && { results: results.strategy }),
      ...(data && { data: data.strategy }),
      ...(model && { model: model.strategy }),
    },
    ...reports,
    durationMs: Math.round(performance.now() - started),
  }
}

type StepReports = Pick<ArtifactsReport, 'results' | 'data' | 'model'>

/** Runs results and data into temporary outputs, then the model step, then renames them all. */
async function runAll(options: ArtifactsOptions): Promise<StepReports> {
  const { results, data, model } = options
  const pending: PendingOutput[] = []
  const { signal } = options
  let undoModel: (() => Promise<void>) | undefined
  try {
    const resultsReport = results ? await runResults(results, options, pending) : null
    const dataReport = data ? await runData(data, options, pending) : null
    let modelReport: ArtifactsModelReport | null = null
    if (model) {
      const models = model.models ?? defaultModelsDir
      const before = await captureModelState(models)
      const candidate = await mergeModel({ ...modelMergeOptions(model), ...(signal && { signal }) })
      undoModel = () => restoreModelState(before, { merged: candidate })
      // Promotion comes last: it is the one step other readers (serving) see at once.
      const promotion =
        model.strategy === 'promote'
          ? await promoteModel({
              models,
              candidate: candidate.candidate.id,
              ...(signal && { signal }),
            })
          : null
      undoModel = () => restoreModelState(before, { merged: candidate, promoted: promotion })
      modelReport = { strategy: model.strategy, candidate, promotion }
    }
    // The last safe point: a Ctrl-C until here leaves every output as it was.
    await safePoint(signal, 'no output was replaced and the model step was undone')
    await commitOutputs(pending)
    return { results: resultsReport, data: dataReport, model: modelReport }
  } catch (error) {
    await discardOutputs(pending)
    if (undoModel)
      await undoModel().catch((undoError: unknown) => {
        throw new DuckmergeError(
          'INTERNAL',
          `${messageOf(error)} Undoing the model step then failed too (${messageOf(undoError)}); check ${model?.models ?? defaultModelsDir} with duckmerge model list.`,
          {},
          { cause: error },
        )
      })
    throw error
  } finally {
    for (const output of pending) output.forget?.()
  }
}

/**
 * Dry run: every step reports what it would do against the real output paths, in the same
 * order, and fails the way the real run would; nothing is written (no temporary outputs, no
 * models folder).
 */
async function previewAll(options: ArtifactsOptions): Promise<StepReports> {
  const { results, data, model } = options
  const resultsReport = results ? await runResults(results, options, undefined) : null
  const dataReport = data ? await runData(data, options, undefined) : null
  let modelReport: ArtifactsModelReport | null = null
  if (model) {
    const models = model.models ?? defaultModelsDir
    const candidate = await mergeModel({ ...modelMergeOptions(model), dryRun: true })
    const promotion =
      model.strategy === 'promote'
        ? await previewCandidatePromotion({
            models,
            candidate: candidate.candidate,
            exp: model.exp,
          })
        : null
    modelReport = { strategy: model.strategy, candidate, promotion }
  }
  return { results: resultsReport, data: dataReport, model: modelReport }
}

/** The results step: into a temporary output added to `pending`, or (no `pending`) a dry run. */
async function runResults(
  results: ResultsArtifact,
  { onProgress, signal }: ArtifactsOptions,
  pending: PendingOutput[] | undefined,
): Promise<MergeReport> {
  const target = results.output ?? results.ours
  // A dry run is given the same temporary path (nothing is written there), so it makes the
  // same checks as the real run.
  const output = tempOutputPath(target)
  // A second Ctrl-C exits at once: the temporary output goes with the process.
  pending?.push({ temp: output, target, forget: removeOnExit(output) })
  const common = {
    ours: results.ours,
    theirs: results.theirs,
    output,
    dryRun: pending === undefined,
    ...(results.tables && { tables: results.tables }),
    ...(onProgress && { onProgress }),
    ...(signal && { signal }),
  }
  const report =
    results.strategy === 'merge'
      ? await mergeResults({ ...common, ...(results.key && { key: results.key }) })
      : await rebaseResults({ ...common, key: results.key ?? [] })
  return { ...report, output: target }
}

/** The data step: into a temporary output added to `pending`, or (no `pending`) a dry run. */
async function runData(
  data: DataArtifact,
  { onProgress, signal }: ArtifactsOptions,
  pending: PendingOutput[] | undefined,
): Promise<MergeReport> {
  const target = data.output ?? data.ours
  // A dry run is given the same temporary path (nothing is written there), so it makes the
  // same checks as the real run.
  const output = tempOutputPath(target)
  // A second Ctrl-C exits at once: the temporary output goes with the process.
  pending?.push({ temp: output, target, forget: removeOnExit(output) })
  const common = {
    ours: data.ours,
    theirs: data.theirs,
    output,
    dryRun: pending === undefined,
    ...(onProgress && { onProgress }),
    ...(signal && { signal }),
  }
  const report =
    data.strategy === 'merge'
      ? await mergeData({ ...common, ...(data.key && { key: data.key }) })
      : await rebaseData({ ...common, key: data.key ?? [] })
  return { ...report, output: target }
}

function modelMergeOptions(model: ModelArtifact) {
  return {
    exp: model.exp,
    runId: model.runId,
    models: model.models ?? defaultModelsDir,
    ...(model.metrics && { metrics: model.metrics }),
  }
}

/** Everything that can be known before any work: a failure here costs nothing. */
async function check(options: ArtifactsOptions): Promise<void> {
  const { results, data, model } = options
  if (!results && !data && !model)
    throw new DuckmergeError(
      'USAGE',
      'Nothing to do: give at least one artifact group (results, data or model).',
      {
        hint: 'Give {results.ours} and {results.theirs}, {data.ours} and {data.theirs}, or {model.exp} and {model.runId}.',
      },
    )
  for (const [name, group] of [
    ['results', results],
    ['data', data],
  ] as const) {
    if (group?.strategy === 'rebase' && (group.key ?? []).length === 0)
      throw new DuckmergeError(
        'USAGE',
        `Rebase of ${name} needs key columns, and none were given.`,
        {
          artifact: name,
          hint: `Give {key}, or set merge.key_columns (or merge.${name}.key_columns) in params.yaml.`,
        },
      )
  }
  for (const [name, group, what] of [
    ['results', results, 'Database'],
    ['data', data, 'Dataset'],
  ] as const)
    for (const side of ['ours', 'theirs'] as const)
      if (group) await assertExists(group[side], what, { artifact: name, side })
  if (model) {
    assertRunId(model.runId)
    await assertModelFile(model.exp)
  }
  for (const [name, group] of [
    ['results', results],
    ['data', data],
  ] as const) {
    const output = group && (group.output ?? group.ours)
    if (output && (await fs.stat(output).catch(() => undefined))?.isDirectory())
      throw new DuckmergeError(
        'OUTPUT_UNWRITABLE',
        `Output ${output} is a directory; artifacts writes one file per output.`,
        { artifact: name, output, hint: `Name a file as {${name}.output}.` },
      )
  }
  for (const [name, group] of [
    ['results', results],
    ['data', data],
  ] as const)
    if (group && resolve(group.output ?? group.ours) === resolve(group.theirs))
      throw new DuckmergeError(
        'OUTPUT_IS_INPUT',
        `The ${name} output ${group.output ?? group.ours} is the input ${group.theirs}, whose rows are merged in: inputs are never replaced.`,
        {
          artifact: name,
          side: 'theirs',
          output: group.output ?? group.ours,
          hint: `Leave out {${name}.output} to write into ${group.ours}, or give a new path.`,
        },
      )
  if (results && data) {
    const db = resolve(results.output ?? results.ours)
    const dataOut = resolve(data.output ?? data.ours)
    const clash =
      db === dataOut
        ? `the results output and the data output are the same path ${db}`
        : [resolve(data.ours), resolve(data.theirs)].includes(db)
          ? `the results output ${db} is a data input`
          : [resolve(results.ours), resolve(results.theirs)].includes(dataOut)
            ? `the data output ${dataOut} is a results input`
            : undefined
    if (clash)
      throw new DuckmergeError(
        'OUTPUT_IS_INPUT',
        `Cannot run: ${clash}. Give each artifact its own output.`,
        {
          results: db,
          data: dataOut,
        },
      )
  }
}
