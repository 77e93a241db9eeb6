/**
 * The little of DVC that duckmerge needs: read and rewrite a `.dvc` file (a fixed YAML shape,
 * parsed without a YAML dependency), find an output's object in the local DVC cache and store a
 * new one there.
 */
import { createHash } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
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

/** Where an object with `md5` sits in the cache in each layout. */
export function dvcObjectPath(cacheDir: string, md5: string, layout: 'dvc3' | 'dvc2'): string {
  const parts = [md5.slice(0, 2), md5.slice(2)]
  return layout === 'dvc3' ? join(cacheDir, 'files', 'md5', ...parts) : join(cacheDir, ...parts)
}

/** The md5 (hex) and size of a file, streamed. */
export async function md5File(path: string): Promise<{ md5: string; size: number }> {
  const hash = createHash('md5')
  let size = 0
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk)
    size += chunk.length
  }
  return { md5: hash.digest('hex'), size }
}

/**
 * Moves `file` into the cache under its md5 (read-only, as DVC leaves cache objects) and returns
 * where it went. An object already there is kept: the cache is content-addressed. `file` must be
 * on the cache's file system (a rename, not a copy).
 */
export async function storeDvcObject(
  cacheDir: string,
  file: string,
  layout: 'dvc3' | 'dvc2',
): Promise<{ md5: string; size: number; path: string }> {
  const { md5, size } = await md5File(file)
  const path = dvcObjectPath(cacheDir, md5, layout)
  if ((await fs.stat(path).catch(() => undefined))?.isFile()) {
    await fs.rm(file, { force: true })
    return { md5, size, path }
  }
  await fs.mkdir(dirname(path), { recursive: true })
  await fs.chmod(file, 0o444)
  await fs.rename(file, path)
  return { md5, size, path }
}

/**
 * `text` (a `.dvc` file) with the output `path` now pointing at `md5`/`size`; every other line
 * is kept as it was. A missing `size:` line is added after `md5:`.
 *
 * @example
 * setDvcOut('outs:\n- md5: aa…\n  size: 3\n  path: r.db\n', 'r.db', { md5: 'bb…', size: 9 })
 * // 'outs:\n- md5: bb…\n  size: 9\n  path: r.db\n'
 */
export function setDvcOut(
  text: string,
  path: string,
  object: { readonly md5: string; readonly size: number },
): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n'
  const lines = text.split(/\r?\n/)
  // Items of outs: [first line, end) ranges; the one whose path matches is rewritten.
  const items: { start: number; end: number }[] = []
  let inOuts = false
  lines.forEach((line, i) => {
    const bare = line.replace(/\s+#.*$/, '')
    if (bare.trim() === '' || bare.trimStart().startsWith('#')) return
    if (!/^\s/.test(bare) && !bare.startsWith('-')) {
      inOuts = /^outs\s*:\s*$/.test(bare)
      const last = items.at(-1)
      if (last && last.end > i) last.end = i
      return
    }
    if (!inOuts) return
    if (/^\s*-\s+/.test(bare)) {
      const last = items.at(-1)
      if (last && last.end > i) last.end = i
      items.push({ start: i, end: lines.length })
    }
  })
  const field = (line: string) => /^(\s*-?\s*)([A-Za-z_][\w-]*)(\s*:\s*)(.*?)(\s+#.*)?$/.exec(line)
  for (const { start, end } of items) {
    const range = lines.slice(start, end)
    const named = range.some((l) => {
      const f = field(l)
      return f?.[2] === 'path' && unquote(f[4] ?? '') === path
    })
    if (!named) continue
    let md5Line = -1
    let sizeLine = -1
    range.forEach((l, j) => {
      const f = field(l)
      if (f?.[2] === 'md5') md5Line = start + j
      if (f?.[2] === 'size') sizeLine = start + j
    })
    const replace = (i: number, value: string) => {
      const f = field(lines[i] ?? '')
      if (f) lines[i] = `${f[1]}${f[2]}${f[3]}${value}${f[5] ?? ''}`
    }
    replace(md5Line, object.md5)
    if (sizeLine >= 0) replace(sizeLine, String(object.size))
    else {
      const md5Field = field(lines[md5Line] ?? '')?.[1] ?? ''
      const indent = md5Field.includes('-') ? ' '.repeat(md5Field.length) : md5Field
      lines.splice(md5Line + 1, 0, `${indent}size: ${object.size}`)
    }
    return lines.join(eol)
  }
  throw new DuckmergeError('NOT_FOUND', `The .dvc file has no output named ${path}.`, { path })
}
