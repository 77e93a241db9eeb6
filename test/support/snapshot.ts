/** Byte-level snapshots of files and folders, to prove a failed command changed nothing. */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

/** sha256 of every file under `path` (or of the file itself), keyed by relative path. */
export function hashTree(path: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (p: string) => {
    const st = statSync(p)
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) walk(join(p, name))
    } else {
      out[relative(path, p) || '.'] = createHash('sha256').update(readFileSync(p)).digest('hex')
    }
  }
  walk(path)
  return out
}

/**
 * A folder's exact state: every file's hash and every folder (empty ones included), or null when
 * it does not exist. Equal states mean byte-identical trees.
 */
export function folderState(
  path: string,
): { files: Record<string, string>; dirs: string[] } | null {
  if (!existsSync(path)) return null
  const dirs: string[] = []
  const walk = (p: string) => {
    if (!statSync(p).isDirectory()) return
    dirs.push(relative(path, p))
    for (const name of readdirSync(p)) walk(join(p, name))
  }
  walk(path)
  return { files: hashTree(path), dirs: dirs.sort() }
}
