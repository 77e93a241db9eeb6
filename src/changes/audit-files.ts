/**
 * The audit files of a change request: `audit/change_requests/<cr_id>/` holds the latest merge
 * attempt (merge_result.json, diff.json, conflicts.json, validation.json); when a new attempt
 * starts, the previous one moves to `history/<n>/` (n = 1, 2, …). Each file is written to a
 * temp name and renamed, so a reader never sees half a file.
 */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { DuckmergeError } from '../errors.js'
import { auditDir, type DataRoot } from './data-root.js'

export const AUDIT_FILES = ['merge_result', 'diff', 'conflicts', 'validation'] as const
export type AuditFileName = (typeof AUDIT_FILES)[number]

/** Every audit file carries this, so readers can tell layouts apart later. */
export const AUDIT_SCHEMA_VERSION = 1

export type AuditFiles = Partial<Record<AuditFileName, Record<string, unknown>>>

/** Moves the files of the previous attempt, if any, to `history/<n>/`. */
export async function archiveAttempt(root: DataRoot, crId: string): Promise<number | undefined> {
  const dir = auditDir(root, crId)
  const present = await presentFiles(dir)
  if (present.length === 0) return undefined
  const n = (await historyNumbers(dir)).reduce((a, b) => Math.max(a, b), 0) + 1
  const target = join(dir, 'history', String(n))
  await fs.mkdir(target, { recursive: true })
  for (const name of present)
    await fs.rename(join(dir, `${name}.json`), join(target, `${name}.json`))
  return n
}

/**
 * Writes the given audit files of the current attempt (each atomically; others untouched).
 *
 * @example
 * await writeAuditFiles(root, cr.id, { merge_result: { status: 'merged', … } })
 */
export async function writeAuditFiles(
  root: DataRoot,
  crId: string,
  files: AuditFiles,
): Promise<void> {
  const dir = auditDir(root, crId)
  await fs.mkdir(dir, { recursive: true })
  for (const name of AUDIT_FILES) {
    const body = files[name]
    if (body === undefined) continue
    const path = join(dir, `${name}.json`)
    const temp = `${path}.${randomUUID()}.tmp`
    const text = `${JSON.stringify({ schema_version: AUDIT_SCHEMA_VERSION, cr_id: crId, ...body }, jsonSafe, 2)}\n`
    await fs.writeFile(temp, text)
    await fs.rename(temp, path)
  }
}

export interface AuditListing {
  readonly dir: string
  /** Files of the latest attempt. */
  readonly files: readonly AuditFileName[]
  /** Earlier attempts, oldest first. */
  readonly history: readonly number[]
}

/** Which audit files a change request has. */
export async function listAuditFiles(root: DataRoot, crId: string): Promise<AuditListing> {
  const dir = auditDir(root, crId)
  return { dir, files: await presentFiles(dir), history: await historyNumbers(dir) }
}

/**
 * One audit file's content: the latest attempt's, or attempt `history` of the earlier ones.
 * NOT_FOUND when it was never written.
 */
export async function readAuditFile(
  root: DataRoot,
  crId: string,
  name: AuditFileName,
  history?: number,
): Promise<Record<string, unknown>> {
  const dir = auditDir(root, crId)
  const path =
    history === undefined
      ? join(dir, `${name}.json`)
      : join(dir, 'history', String(history), `${name}.json`)
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as Record<string, unknown>
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    throw new DuckmergeError('NOT_FOUND', `Change request ${crId} has no audit file ${path}.`, {
      cr_id: crId,
      file: name,
      ...(history === undefined ? {} : { history }),
    })
  }
}

async function presentFiles(dir: string): Promise<AuditFileName[]> {
  const names = new Set(await fs.readdir(dir).catch(() => [] as string[]))
  return AUDIT_FILES.filter((n) => names.has(`${n}.json`))
}

async function historyNumbers(dir: string): Promise<number[]> {
  const entries = await fs.readdir(join(dir, 'history')).catch(() => [] as string[])
  return entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .sort((a, b) => a - b)
}

/** BIGINT values (from DuckDB) become strings: JSON has no exact 64-bit integers. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}
