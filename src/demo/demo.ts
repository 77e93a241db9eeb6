/**
 * The walk-through behind `duckmerge demo`: in a fresh folder it creates experiments the way an
 * ML team does (a baseline, a parallel sweep, a run with an extra param, a corrected re-run, a
 * dataset that grows and is reprocessed, trained models) and combines them with merge, rebase and
 * promote, returning every step's report. It uses the library API, as a user's script would.
 */
import { promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withDuckDb } from '../engine/duckdb.js'
import { literal, raw, sql } from '../engine/sql.js'
import { DuckmergeError } from '../errors.js'
import { mergeData, rebaseData } from '../merge/data.js'
import { type ModelMergeReport, mergeModel } from '../merge/model.js'
import { type ModelPromoteReport, promoteModel } from '../merge/model-promote.js'
import type { MergeReport } from '../merge/report.js'
import { mergeResults, rebaseResults } from '../merge/results.js'
import type { ProgressCallback } from '../progress.js'
import { type ExperimentResult, runExperiment } from './demo-experiment.js'
import { runSweep } from './sweep.js'

export interface DemoOptions {
  /** Work here (created if missing, must be empty); default a new folder in the temp dir. */
  readonly dir?: string
  readonly onProgress?: ProgressCallback
}

export type DemoStepReport = MergeReport | ModelMergeReport | ModelPromoteReport

export interface DemoStep {
  readonly number: number
  readonly title: string
  /** What happened and why, in a few plain sentences. */
  readonly explanation: readonly string[]
  /** The reports of the library calls the step made, by name. */
  readonly reports: Readonly<Record<string, DemoStepReport>>
  readonly durationMs: number
}

export interface DemoReport {
  readonly dir: string
  readonly steps: readonly DemoStep[]
  readonly summary: {
    readonly resultsDb: string
    readonly predictionsRows: number
    readonly metricsRows: number
    readonly datasetRows: number
    readonly productionModel: string
  }
  readonly durationMs: number
}

export const demoStepCount = 6

/**
 * Runs the walk-through and returns every step's report; nothing is printed.
 *
 * @example
 * const report = await runDemo({ dir: 'demo' })
 * report.summary.predictionsRows // 150
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const started = performance.now()
  const dir = await prepareDir(options.dir)
  const at = (...parts: string[]) => join(dir, ...parts)
  await fs.mkdir(at('runs'))
  await fs.mkdir(at('data'))
  const steps: DemoStep[] = []
  let stepStarted = performance.now()
  const step = (title: string) => {
    stepStarted = performance.now()
    options.onProgress?.({ phase: title, done: steps.length, total: demoStepCount, unit: 'steps' })
  }
  const elapsed = () => Math.round(performance.now() - stepStarted)
  const results = at('results.db')

  step('baseline experiment')
  const baseline = await runExperiment({
    db: results,
    experimentVersion: 'e0.1.0',
    lr: 0.01,
    items: 40,
    hasEvaluationBug: true,
  })
  steps.push({
    number: 1,
    title: 'a baseline experiment (e0.1.0)',
    explanation: [
      `Tracked 40 predictions of run ${baseline.trackId} (lr=0.01) into results.db, xetrack's layout: table predictions (track_id, timestamp, experiment_version, model, lr, …, accuracy, latency) and table metrics.`,
      `Accuracy ${pct(baseline.accuracy)}. Its evaluation has a bug (every 5th label flipped), fixed in step 4.`,
    ],
    reports: {},
    durationMs: elapsed(),
  })

  step('parallel sweep')
  const lrs = [0.03, 0.003, 0.0003, 0.1]
  const sweep = await runSweep(
    lrs.map((lr) => ({
      db: at('sweep.db'),
      experimentVersion: 'e0.2.0',
      lr,
      items: 20,
      modelDir: at('runs'),
    })),
  )
  const sweepMerge = await mergeResults({ ours: results, theirs: at('sweep.db') })
  steps.push({
    number: 2,
    title: 'a 4-way parallel sweep (e0.2.0), merged into the baseline',
    explanation: [
      `4 processes, one per lr (${lrs.join(', ')}), tracked 20 predictions each into the same sweep.db at once.`,
      `Merge accumulates: every sweep row whose key (track_id, timestamp) results.db lacks is appended; nothing is overwritten. ${sweep.map((r) => `${r.trackId}: ${pct(r.accuracy)}`).join(', ')}.`,
    ],
    reports: { mergeSweep: sweepMerge },
    durationMs: elapsed(),
  })

  step('extra column')
  const extra = await runExperiment({
    db: at('extra.db'),
    experimentVersion: 'e0.3.0',
    lr: 0.003,
    items: 30,
    extraParams: { batch_size: 32 },
  })
  const extraMerge = await mergeResults({ ours: results, theirs: at('extra.db') })
  steps.push({
    number: 3,
    title: 'an experiment with a new param (batch_size), merged',
    explanation: [
      `Run ${extra.trackId} (e0.3.0) logged a param the others do not have: batch_size=32, a new column in the middle of its table.`,
      'Merge matches columns by name and adds the new one; older rows get NULL there.',
    ],
    reports: { mergeExtraColumn: extraMerge },
    durationMs: elapsed(),
  })

  step('corrected re-run')
  const corrected = await runExperiment({
    db: at('corrected.db'),
    experimentVersion: 'e0.1.0',
    lr: 0.01,
    items: 40,
    modelDir: at('runs'),
  })
  const rebase = await rebaseResults({
    ours: results,
    theirs: at('corrected.db'),
    key: ['experiment_version'],
  })
  steps.push({
    number: 4,
    title: 'a corrected re-run of e0.1.0, rebased',
    explanation: [
      `The evaluation bug is fixed and e0.1.0 re-run as ${corrected.trackId}: accuracy ${pct(baseline.accuracy)} → ${pct(corrected.accuracy)}.`,
      'Rebase replaces: every row whose key (experiment_version = e0.1.0) the re-run has is deleted, then the re-run rows are inserted. The wrong numbers are gone; the other experiments stay.',
    ],
    reports: { rebaseCorrected: rebase },
    durationMs: elapsed(),
  })

  step('dataset')
  await writeDatasets(at('data'))
  const dataMerge = await mergeData({
    ours: at('data', 'train.parquet'),
    theirs: at('data', 'new-samples.parquet'),
    output: at('data', 'train-merged.parquet'),
    key: ['sample_id'],
  })
  const dataRebase = await rebaseData({
    ours: at('data', 'train-merged.parquet'),
    theirs: at('data', 'reprocessed.parquet'),
    output: at('data', 'train-v2.parquet'),
    key: ['sample_id'],
  })
  steps.push({
    number: 5,
    title: 'a Parquet dataset: merge new samples, rebase a preprocessing fix',
    explanation: [
      'train.parquet has 100 samples. 30 new ones arrive, 10 of which it already has: merge (dedup key sample_id) keeps every old row and adds the 20 new ones.',
      'Samples 0–49 are reprocessed with a fixed tokenizer: rebase (key sample_id) puts the reprocessed rows in place of the old ones.',
    ],
    reports: { mergeNewSamples: dataMerge, rebaseReprocessed: dataRebase },
    durationMs: elapsed(),
  })

  step('models')
  const best = [...sweep].sort((a, b) => b.accuracy - a.accuracy)[0] as ExperimentResult
  const models = at('models')
  const candidates = [best, corrected]
  const registered: Record<string, DemoStepReport> = {}
  for (const run of candidates) {
    registered[`candidate ${run.trackId}`] = await mergeModel({
      models,
      exp: run.modelFile ?? '',
      runId: run.trackId,
      metrics: { accuracy: run.accuracy, lr: run.lr },
    })
  }
  const promotion = await promoteModel({ models, best: 'accuracy' })
  steps.push({
    number: 6,
    title: 'two model candidates, the best promoted',
    explanation: [
      `The best sweep model (${best.trackId}, ${pct(best.accuracy)}) and the corrected baseline's (${corrected.trackId}, ${pct(corrected.accuracy)}) are kept as candidates in models/candidates: merge for models.`,
      `Promote (rebase for models) copies the one with the best accuracy to models/production atomically; an earlier production model would stay in models/store for \`duckmerge model rollback\`.`,
    ],
    reports: { ...registered, promote: promotion },
    durationMs: elapsed(),
  })
  options.onProgress?.({ phase: 'done', done: demoStepCount, total: demoStepCount, unit: 'steps' })

  const tableRows = (report: MergeReport, table: string) =>
    report.tables?.find((t) => t.table === table)?.rowsAfter ?? 0
  return {
    dir,
    steps,
    summary: {
      resultsDb: results,
      predictionsRows: tableRows(rebase, 'predictions'),
      metricsRows: tableRows(rebase, 'metrics'),
      datasetRows: dataRebase.rowsAfter,
      productionModel: promotion.production.candidateId ?? promotion.production.fileName,
    },
    durationMs: Math.round(performance.now() - started),
  }
}

async function prepareDir(dir: string | undefined): Promise<string> {
  if (dir === undefined) return fs.mkdtemp(join(tmpdir(), 'duckmerge-demo-'))
  await fs.mkdir(dir, { recursive: true })
  const entries = await fs.readdir(dir)
  if (entries.length > 0)
    throw new DuckmergeError(
      'USAGE',
      `Demo folder ${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}).`,
      {
        path: dir,
        hint: 'Choose {dir} as a new or empty folder, or leave {dir} out to use a temporary one.',
      },
    )
  return dir
}

/** train.parquet (ids 0–99), new-samples.parquet (ids 90–119), reprocessed.parquet (ids 0–49). */
async function writeDatasets(folder: string): Promise<void> {
  await withDuckDb({}, async (db) => {
    const write = (select: string, file: string) =>
      db.run(sql`copy (${raw(select)}) to ${literal(join(folder, file))} (format parquet)`)
    const row = (prep: string) =>
      `select i as sample_id, 'sample ' || i as text, (i * 37) % 11 as n_tokens, '${prep}' as tokenizer`
    await write(`${row('v1')} from range(0, 100) t(i)`, 'train.parquet')
    await write(`${row('v1')} from range(90, 120) t(i)`, 'new-samples.parquet')
    await write(`${row('v2-fixed')} from range(0, 50) t(i)`, 'reprocessed.parquet')
  })
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`
}
