/**
 * The demo's make-believe experiment: a fixed synthetic dataset and a "model" whose accuracy
 * depends on its learning rate, tracked into a results database in xetrack's layout (table
 * `predictions`, one row per prediction; table `metrics`, one row per run).
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { Tracker } from '../track/tracker.js'

export interface ExperimentConfig {
  /** The results database to write (created when missing). */
  readonly db: string
  readonly experimentVersion: string
  readonly lr: number
  /** How many items of the dataset to predict. */
  readonly items: number
  /** Extra params (e.g. batch_size), added as columns after lr. */
  readonly extraParams?: Readonly<Record<string, number | string>>
  /** Reproduce the baseline's evaluation bug (every 5th label flipped, +5 ms latency). */
  readonly hasEvaluationBug?: boolean
  /** Where to save the trained "model" file; none when omitted. */
  readonly modelDir?: string
}

export interface ExperimentResult {
  readonly trackId: string
  readonly lr: number
  readonly accuracy: number
  readonly predictions: number
  /** The saved model file, when `modelDir` was given. */
  readonly modelFile?: string
}

interface Item {
  readonly input_id: number
  readonly label: number
}

/** The same 40 labelled items every time. */
export function dataset(): Item[] {
  const random = seeded(42)
  return Array.from({ length: 40 }, (_, i) => ({ input_id: i, label: random() < 0.5 ? 0 : 1 }))
}

/**
 * Runs one experiment: tracks a prediction per item, logs a metrics row, saves the model.
 *
 * @example
 * await runExperiment({ db: 'results.db', experimentVersion: 'e0.1.0', lr: 0.01, items: 40 })
 */
export async function runExperiment(config: ExperimentConfig): Promise<ExperimentResult> {
  const params = {
    experiment_version: config.experimentVersion,
    model: 'tiny-mlp',
    lr: config.lr,
    ...config.extraParams,
  }
  const tracker = new Tracker({ db: config.db, table: 'predictions', params })
  const quality = qualityOf(config.lr)
  const bug = config.hasEvaluationBug ?? false
  // A named function: xetrack's layout records its name in function_name.
  const predict = (item: Item) => {
    const isRight = seeded(item.input_id * 7919 + Math.round(config.lr * 1e6))() < quality
    const prediction = isRight ? item.label : 1 - item.label
    const scoredLabel = bug && item.input_id % 5 === 4 ? 1 - item.label : item.label
    return {
      input_id: item.input_id,
      prediction,
      label: scoredLabel,
      accuracy: prediction === scoredLabel ? 1 : 0,
      latency: 2 + (item.input_id % 3) + (bug && item.input_id % 5 === 4 ? 5 : 0),
    }
  }
  Object.defineProperty(predict, 'name', { value: 'predict' })
  const rows = dataset()
    .slice(0, config.items)
    .map((item) => tracker.track(predict, [item]))
  await tracker.close()

  const accuracy = rows.reduce((n, r) => n + r.accuracy, 0) / rows.length
  const latencyMean = rows.reduce((n, r) => n + r.latency, 0) / rows.length
  const metrics = new Tracker({ db: config.db, table: 'metrics', params, trackId: tracker.trackId })
  metrics.log({ n: rows.length, accuracy, latency_mean: latencyMean })
  await metrics.close()

  let modelFile: string | undefined
  if (config.modelDir) {
    modelFile = join(config.modelDir, tracker.trackId, 'model.json')
    await fs.mkdir(join(config.modelDir, tracker.trackId), { recursive: true })
    await fs.writeFile(
      modelFile,
      `${JSON.stringify({ ...params, weights: [quality, 1 - quality] })}\n`,
    )
  }
  return {
    trackId: tracker.trackId,
    lr: config.lr,
    accuracy,
    predictions: rows.length,
    ...(modelFile !== undefined && { modelFile }),
  }
}

/** The learning rate that trains best is 0.003; the further off, the worse (down to 60%). */
function qualityOf(lr: number): number {
  return 1 - Math.min(0.4, Math.abs(Math.log10(lr / 0.003)) * 0.15)
}

/** mulberry32: a small seeded generator, so every demo run produces the same data. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
