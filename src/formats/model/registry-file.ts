/**
 * The model registry, `DIR/registry.json`: candidates, the production model and the history of
 * promotions. Read and validated as a whole; written to a temporary file and renamed, so a reader
 * never sees half of it.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { tempPathBeside } from '../../engine/files.js'
import { DuckmergeError, messageOf } from '../../errors.js'

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256')
const metricValue = z.union([z.number(), z.string(), z.boolean(), z.null()])

const modelRef = z.object({
  fileName: z.string().min(1),
  sha256,
  size: z.number().int().nonnegative(),
  /** The candidate it came from; null for a file promoted directly or found in production/. */
  candidateId: z.string().nullable(),
})

const candidate = z.object({
  id: z.string().min(1),
  runId: z.string().min(1),
  fileName: z.string().min(1),
  sha256,
  size: z.number().int().nonnegative(),
  source: z.string(),
  metrics: z.record(z.string(), metricValue),
  registeredAt: z.string(),
})

/** See content-store.ts FileStamp: what production/<fileName> looked like when it was placed. */
const fileStamp = z.object({
  size: z.number().int().nonnegative(),
  mtimeNs: z.string().regex(/^\d+$/),
  ctimeNs: z.string().regex(/^\d+$/),
  ino: z.string().regex(/^\d+$/),
})

const production = modelRef.extend({
  source: z.string(),
  promotedAt: z.string(),
  /**
   * The production file's stamp right after duckmerge placed it; while the file still has it,
   * its sha256 is known without reading it. Missing in older registries (the file is hashed).
   */
  stamp: fileStamp.optional(),
})

const historyEntry = z.object({
  action: z.enum(['promote', 'rollback']),
  at: z.string(),
  model: modelRef,
  replaced: modelRef.nullable(),
})

const registrySchema = z.object({
  version: z.literal(1),
  production: production.nullable(),
  candidates: z.array(candidate),
  history: z.array(historyEntry),
})

export type MetricValue = z.infer<typeof metricValue>
export type ModelRef = z.infer<typeof modelRef>
export type Candidate = z.infer<typeof candidate>
export type Production = z.infer<typeof production>
export type HistoryEntry = z.infer<typeof historyEntry>
export type Registry = z.infer<typeof registrySchema>

export const metricsSchema = z.record(z.string(), metricValue)

export function registryPath(modelsDir: string): string {
  return join(modelsDir, 'registry.json')
}

export function lockPath(modelsDir: string): string {
  return join(modelsDir, 'registry.lock')
}

export function emptyRegistry(): Registry {
  return { version: 1, production: null, candidates: [], history: [] }
}

/**
 * Reads and validates `DIR/registry.json`; a missing file is an empty registry.
 *
 * @example
 * const registry = await readRegistry('models')
 * registry.candidates.map((c) => c.id)
 */
export async function readRegistry(modelsDir: string): Promise<Registry> {
  const path = registryPath(modelsDir)
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyRegistry()
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `Cannot read model registry ${path}: ${messageOf(error)}`,
      {
        path,
      },
      { cause: error },
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw corrupt(path, messageOf(error), error)
  }
  const parsed = registrySchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? issue.path.join('.') : '(top level)'
    throw corrupt(path, `${where}: ${issue?.message ?? 'invalid'}`, parsed.error)
  }
  return parsed.data
}

/** Writes the registry: temp file, fsync, rename. Call only while holding the registry lock. */
export async function writeRegistry(modelsDir: string, registry: Registry): Promise<void> {
  const path = registryPath(modelsDir)
  const temp = tempPathBeside(path)
  try {
    const handle = await fs.open(temp, 'wx')
    try {
      await handle.writeFile(`${JSON.stringify(registry, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(temp, path)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write model registry ${path}: ${messageOf(error)}`,
      {
        path,
      },
      { cause: error },
    )
  }
}

function corrupt(path: string, detail: string, cause: unknown): DuckmergeError {
  return new DuckmergeError(
    'INPUT_UNREADABLE',
    `Model registry ${path} is corrupt (${detail}). Restore it from version control (git/DVC), or move it aside to start an empty registry.`,
    { path },
    { cause },
  )
}
