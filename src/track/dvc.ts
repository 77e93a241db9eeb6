/**
 * The little of DVC the explorer needs: read a `.dvc` file (a fixed YAML shape, parsed without a
 * YAML dependency) and find an output's object in the local DVC cache.
 */
import { promises as fs } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { DuckmergeError } from '../errors.js'

export interface DvcOut {
  readonly path: string
  readonly md5: string
  readonly size?: number
  /** 'md5' in DVC 3 files (cache under files/md5/); absent in DVC 2 files. */
  readonly hash?: string
}

/**
 * Parses the `outs:` list of a `.dvc` file:
 *
 * ```yaml
 * outs:
 * - md5: 3b5d5c3712955042212316173ccf37be
 *   size: 12
 *   hash: md5
 *   path: model.pt
 * ```
 *
 * Other top-level keys (`deps:`, `meta:`…) and unknown out fields are ignored.
 *
 * @example
 * parseDvcFile('outs:\n- md5: 3b5d…\n  path: model.pt\n')  // [{ md5: '3b5d…', path: 'model.pt' }]
 */
export function parseDvcFile(text: string, file = '.dvc file'): DvcOut[] {
  const items: Record<string, string>[] = []
  let inOuts = false
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/\s+#.*$/, '')
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const indented = /^\s/.test(line)
    if (!indented && !line.startsWith('-')) {
      inOuts = /^outs\s*:\s*$/.test(line)
      continue
    }
    if (!inOuts) continue
    const item = /^\s*-\s+(.*)$/.exec(line)
    if (item) items.push({})
    const current = items.at(-1)
    const field = /^([A-Za-z_][\w-]*)\s*:\s*(.*)$/.exec((item ? item[1] : line.trim()) ?? '')
    if (current && field?.[1]) current[field[1]] = unquote(field[2] ?? '')
  }
  return items.map((fields) => {
    const { md5, path } = fields
    if (!md5 || !path)
      throw new DuckmergeError(
        'INPUT_UNREADABLE',
        `${file}: an entry of outs has no ${md5 ? 'path' : 'md5'} (fields: ${Object.keys(fields).join(', ') || 'none'}). Expected "- md5: …" and "path: …".`,
        { file },
      )
    const size = fields.size === undefined ? undefined : Number(fields.size)
    return {
      path,
      md5,
      ...(size !== undefined && Number.isFinite(size) ? { size } : {}),
      ...(fields.hash ? { hash: fields.hash } : {}),
    }
  })
}

function unquote(value: string): string {
  const v = value.trim()
  if (
    v.length >= 2 &&
    ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"')))
  )
    return v.slice(1, -1)
  return v
}

/**
 * The cache folder of the DVC project at `root`: `.dvc/cache`, or `[cache] dir` of
 * `.dvc/config.local` / `.dvc/config` (relative to `.dvc/`, as DVC resolves it).
 */
export async function dvcCacheDir(root: string): Promise<string> {
  const dvcDir = join(root, '.dvc')
  for (const name of ['config.local', 'config']) {
    const text = await fs.readFile(join(dvcDir, name), 'utf8').catch(() => undefined)
    const dir = text === undefined ? undefined : iniValue(text, 'cache', 'dir')
    if (dir) return isAbsolute(dir) ? dir : resolve(dvcDir, dir)
  }
  return join(dvcDir, 'cache')
}

function iniValue(text: string, section: string, key: string): string | undefined {
  let current = ''
  let value: string | undefined
  for (const line of text.split(/\r?\n/)) {
    const head = /^\s*\[\s*'?([^'\]]+?)'?\s*\]\s*$/.exec(line)
    if (head) {
      current = head[1] ?? ''
      continue
    }
    const kv = /^\s*([\w.-]+)\s*=\s*(.*?)\s*$/.exec(line)
    if (current === section && kv?.[1] === key) value = kv[2]
  }
  return value
}

/**
 * Where `out` sits in the cache: DVC 3 keeps objects under `files/md5/ab/cdef…`, DVC 2 under
 * `ab/cdef…`. The first existing one is returned, the layout its hash field suggests first.
 */
export async function dvcCachedObject(
  cacheDir: string,
  out: DvcOut,
): Promise<{ path: string; layout: 'dvc3' | 'dvc2' } | undefined> {
  if (out.md5.endsWith('.dir'))
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `${out.path} is a DVC-tracked folder (md5 ${out.md5}); duckmerge exp get retrieves single files. Use dvc checkout for folders.`,
      { path: out.path, md5: out.md5 },
    )
  if (!/^[0-9a-f]{32}$/.test(out.md5))
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `The md5 of ${out.path} in its .dvc file is not a 32-digit hex hash: "${out.md5}".`,
      { path: out.path, md5: out.md5 },
    )
  const head = out.md5.slice(0, 2)
  const rest = out.md5.slice(2)
  const candidates = [
    { path: join(cacheDir, 'files', 'md5', head, rest), layout: 'dvc3' as const },
    { path: join(cacheDir, head, rest), layout: 'dvc2' as const },
  ]
  if (out.hash === undefined) candidates.reverse()
  for (const c of candidates) {
    const st = await fs.stat(c.path).catch(() => undefined)
    if (st?.isFile()) return c
  }
  return undefined
}
