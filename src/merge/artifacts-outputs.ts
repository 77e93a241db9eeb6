/**
 * All-or-nothing outputs for a combined run: each output is first written to a temporary path
 * beside its target; only when every step succeeded are they renamed into place, and if one
 * rename fails the ones already placed are put back.
 *
 *   for each output: target → aside (if it exists), temp → target
 *   on failure: placed targets removed, asides renamed back │ on success: asides removed
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { DuckmergeError, messageOf } from '../errors.js'

export interface PendingOutput {
  /** Where the step wrote its result. */
  readonly temp: string
  /** Where it must end up. */
  readonly target: string
  /** Unregisters the temp from removal at a forced exit (engine/interrupt.ts removeOnExit). */
  readonly forget?: () => void
}

/**
 * A hidden name beside `target` that keeps its extension (`.results.tmp-….db`), so anything
 * that looks at extensions treats the temporary file as it will treat the target.
 */
export function tempOutputPath(target: string, tag = 'tmp'): string {
  const abs = resolve(target)
  const ext = extname(abs)
  const stem = basename(abs, ext)
  return join(
    dirname(abs),
    `.${stem}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}${ext}`,
  )
}

/**
 * Renames every temp onto its target, or none: a failure puts back what was already replaced.
 *
 * @example
 * await commitOutputs([{ temp: '.results.tmp-1-ab.db', target: 'results.db' }])
 */
export async function commitOutputs(outputs: readonly PendingOutput[]): Promise<void> {
  const placed: { target: string; aside: string | undefined }[] = []
  try {
    for (const { temp, target } of outputs) {
      const existing = await fs.stat(target).catch(() => undefined)
      const aside = existing ? tempOutputPath(target, 'old') : undefined
      if (aside) await fs.rename(target, aside)
      try {
        await fs.rename(temp, target)
      } catch (error) {
        if (aside) await fs.rename(aside, target)
        throw new DuckmergeError(
          'OUTPUT_UNWRITABLE',
          `Cannot move the new ${target} into place: ${messageOf(error)}`,
          {
            path: target,
          },
          { cause: error },
        )
      }
      placed.push({ target, aside })
    }
  } catch (error) {
    for (const { target, aside } of placed.reverse()) {
      await fs.rm(target, { recursive: true, force: true })
      if (aside) await fs.rename(aside, target)
    }
    throw error
  }
  for (const { aside } of placed) if (aside) await fs.rm(aside, { recursive: true, force: true })
}

/** Removes temporary outputs after a failed run. */
export async function discardOutputs(outputs: readonly PendingOutput[]): Promise<void> {
  for (const { temp } of outputs) await fs.rm(temp, { recursive: true, force: true })
}
