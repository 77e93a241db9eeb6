/**
 * Three-way merge of `.dvc` pointers: the data each pointer names is merged from the local DVC
 * cache, stored there under its new md5, and the merged pointer names it.
 *
 *   parse base/ours/theirs pointers → per output: same md5, or one side unchanged → take it
 *     → both changed: cache objects by md5 (DVC 3 files/md5/ab/… or DVC 2 ab/…)
 *       → any missing: report it (nothing written) │ merge3 → conflicts: report │ md5 → cache
 *     → pointer = ours with each merged output's md5/size
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { writeAtomically } from '../engine/files.js'
import { DuckmergeError } from '../errors.js'
import { type Merge3Report, merge3 } from '../merge/merge3.js'
import type { Conflict, MergeRule, Resolution, Side } from '../merge/three-way-types.js'
import {
  type DvcOut,
  dvcCacheDir,
  dvcCachedObject,
  parseDvcFile,
  setDvcOut,
  storeDvcObject,
} from './dvc.js'

/** A version the merge needs that the local DVC cache does not hold. */
export interface MissingDvcObject {
  readonly side: 'base' | Side
  /** The output's path, relative to the repository root. */
  readonly path: string
  readonly md5: string
}

export interface DvcOutMerge {
  /** The output's path, relative to the repository root. */
  readonly path: string
  readonly action: 'kept ours' | 'took theirs' | 'merged' | 'conflicted' | 'missing'
  /** The md5 the merged pointer names (ours' when nothing was written). */
  readonly md5: string
  readonly size?: number
  /** The data merge, when both sides changed the output. */
  readonly merge?: Merge3Report
}

export interface DvcPointerReport {
  readonly format: 'dvc'
  /** The `.dvc` file, relative to the repository root. */
  readonly pointer: string
  readonly cacheDir: string
  /** False when a conflict or a missing version stopped it (the pointer was not written). */
  readonly written: boolean
  readonly hasConflicts: boolean
  /** Unsettled data conflicts plus missing versions. */
  readonly conflictCount: number
  readonly conflicts: readonly Conflict[]
  readonly missing: readonly MissingDvcObject[]
  readonly outs: readonly DvcOutMerge[]
}

export interface DvcPointerMergeOptions {
  /** The repository root: the DVC project whose cache holds the versions. */
  readonly root: string
  /** The `.dvc` file, relative to `root`. */
  readonly pointer: string
  /** The three versions of the pointer file (base may be empty: no common ancestor). */
  readonly base: string
  readonly ours: string
  readonly theirs: string
  /** Where the merged pointer goes. */
  readonly output: string
  /** Key columns of an output's data (path relative to root; `file`: ours' version), if any. */
  readonly keyFor?: (path: string, file: string) => Promise<readonly string[] | undefined>
  readonly rule?: MergeRule
  readonly take?: Side
  readonly resolutions?: readonly Resolution[]
}

/**
 * Merges theirs' pointer into ours' from base. Conflicts and versions missing from the cache are
 * returned, not thrown; then nothing but content-addressed cache objects was written.
 *
 * @example
 * const r = await mergeDvcPointers({ root, pointer: 'results.db.dvc', base, ours, theirs, output: ours })
 * r.outs[0]  // { path: 'results.db', action: 'merged', md5: '9f…', size: 40960, merge: {…} }
 */
export async function mergeDvcPointers(options: DvcPointerMergeOptions): Promise<DvcPointerReport> {
  const read = async (side: 'base' | Side) =>
    readFile(options[side], 'utf8').then((text) => ({
      text,
      outs: parseDvcFile(text, `${options.pointer} (${side})`),
    }))
  const [base, ours, theirs] = await Promise.all([read('base'), read('ours'), read('theirs')])
  const names = (outs: readonly DvcOut[]) => outs.map((o) => o.path).sort()
  if (names(ours.outs).join('\0') !== names(theirs.outs).join('\0'))
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `${options.pointer}: the branches track different outputs (ours: ${names(ours.outs).join(', ')}; theirs: ${names(theirs.outs).join(', ')}); only changes to the same outputs merge.`,
      { path: options.pointer },
    )
  const cacheDir = await dvcCacheDir(options.root)
  const folder = posix.dirname(options.pointer)
  const outs: DvcOutMerge[] = []
  const missing: MissingDvcObject[] = []
  const conflicts: Conflict[] = []
  let conflictCount = 0
  for (const o of ours.outs) {
    const t = theirs.outs.find((x) => x.path === o.path) as DvcOut
    const b = base.outs.find((x) => x.path === o.path)
    const path = posix.join(folder, o.path)
    if (o.md5 === t.md5 || b?.md5 === t.md5) {
      outs.push({ path, action: 'kept ours', md5: o.md5, ...size(o) })
      continue
    }
    if (b?.md5 === o.md5) {
      outs.push({ path, action: 'took theirs', md5: t.md5, ...size(t) })
      continue
    }
    if (!b)
      throw new DuckmergeError(
        'UNSUPPORTED_FEATURE',
        `${path}: both branches added it with different content (ours md5 ${o.md5}, theirs ${t.md5}) and there is no common version to merge from.`,
        { path, hint: 'Keep one side with git checkout --ours or --theirs.' },
      )
    const found = {
      base: await dvcCachedObject(cacheDir, b),
      ours: await dvcCachedObject(cacheDir, o),
      theirs: await dvcCachedObject(cacheDir, t),
    }
    const absent = (['base', 'ours', 'theirs'] as const).filter((s) => !found[s])
    if (absent.length > 0) {
      const md5s = { base: b.md5, ours: o.md5, theirs: t.md5 }
      missing.push(...absent.map((side) => ({ side, path, md5: md5s[side] })))
      outs.push({ path, action: 'missing', md5: o.md5, ...size(o) })
      continue
    }
    const key = await options.keyFor?.(path, found.ours?.path as string)
    const merged = await mergeCachedVersions(cacheDir, {
      base: found.base?.path as string,
      ours: found.ours?.path as string,
      theirs: found.theirs?.path as string,
      layout: o.hash === undefined ? 'dvc2' : 'dvc3',
      ...(key ? { key } : {}),
      ...settle(options),
    })
    if (merged.report.hasConflicts) {
      conflicts.push(...merged.report.conflicts)
      conflictCount += merged.report.conflictCount
      outs.push({ path, action: 'conflicted', md5: o.md5, ...size(o), merge: merged.report })
    } else {
      const stored = merged.stored as { md5: string; size: number }
      outs.push({
        path,
        action: 'merged',
        md5: stored.md5,
        size: stored.size,
        merge: merged.report,
      })
    }
  }
  const hasConflicts = conflictCount > 0 || missing.length > 0
  if (!hasConflicts) {
    let text = ours.text
    for (const out of outs)
      if (out.action !== 'kept ours')
        text = setDvcOut(text, posix.relative(folder, out.path), {
          md5: out.md5,
          size: out.size ?? 0,
        })
    await writeAtomically(options.output, (temp) => writeFile(temp, text))
  }
  return {
    format: 'dvc',
    pointer: options.pointer,
    cacheDir,
    written: !hasConflicts,
    hasConflicts,
    conflictCount: conflictCount + missing.length,
    conflicts,
    missing,
    outs,
  }
}

const size = (out: DvcOut) => (out.size === undefined ? {} : { size: out.size })

function settle(options: DvcPointerMergeOptions) {
  return {
    ...(options.rule ? { rule: options.rule } : {}),
    ...(options.take ? { take: options.take } : {}),
    ...(options.resolutions ? { resolutions: options.resolutions } : {}),
  }
}

/**
 * merge3 of three cache objects into a scratch folder inside the cache (so storing the result
 * is a rename), then the result stored under its md5.
 */
async function mergeCachedVersions(
  cacheDir: string,
  input: {
    readonly base: string
    readonly ours: string
    readonly theirs: string
    readonly layout: 'dvc3' | 'dvc2'
    readonly key?: readonly string[]
    readonly rule?: MergeRule
    readonly take?: Side
    readonly resolutions?: readonly Resolution[]
  },
): Promise<{ report: Merge3Report; stored?: { md5: string; size: number } }> {
  await mkdir(cacheDir, { recursive: true })
  const scratch = await mkdtemp(join(cacheDir, '.duckmerge-'))
  try {
    const output = join(scratch, 'merged')
    const { layout, ...merge } = input
    const report = await merge3({ ...merge, output })
    if (report.hasConflicts) return { report }
    const stored = await storeDvcObject(cacheDir, output, layout)
    return { report, stored }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
