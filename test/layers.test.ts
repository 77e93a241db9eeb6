/**
 * Guards the shape of src/ (STYLE.md, Layout): imports point one way,
 * cli/service/ui/demo → changes/track → merge → formats → engine (store/ beside engine);
 * errors.ts and progress.ts (types only) are open to all; index.ts, the library API, sees all.
 * Skipping a layer is fine, importing a layer above is not.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const src = fileURLToPath(new URL('../src/', import.meta.url))

/** Rank of each top-level folder or file under src/: a module may import its rank or lower. */
const RANKS: Readonly<Record<string, number>> = {
  'index.ts': 5,
  cli: 4,
  service: 4,
  ui: 4,
  demo: 4,
  changes: 3,
  track: 3,
  merge: 2,
  formats: 1,
  engine: 0,
  store: 0,
  'errors.ts': -1,
  'progress.ts': -1,
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : []
  })
}

/** The specifiers of static imports, re-exports and dynamic imports of literal paths. */
function importsOf(text: string): string[] {
  const found: string[] = []
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm
  for (const match of text.matchAll(pattern)) if (match[1]) found.push(match[1])
  return found
}

function layerOf(file: string): string {
  const top = (relative(src, file).split(/[\\/]/)[0] ?? '').replace(/\.js$/, '.ts')
  if (!(top in RANKS)) throw new Error(`${top} under src/ has no layer: add it to RANKS`)
  return top
}

test('importsOf reads every import form', () => {
  const text = [
    "import { a } from '../merge/a.js'",
    "import type { B } from './b.js'",
    "export { c } from '../formats/c.js'",
    "import '../engine/side-effect.js'",
    "const d = await import('../track/d.js')",
    "import {\n  e,\n} from 'node:fs'",
  ].join('\n')
  expect(importsOf(text)).toEqual([
    '../merge/a.js',
    './b.js',
    '../formats/c.js',
    '../engine/side-effect.js',
    '../track/d.js',
    'node:fs',
  ])
})

test('no module imports a layer above its own', () => {
  const violations: string[] = []
  for (const file of sourceFiles(src)) {
    const from = layerOf(file)
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue
      const to = layerOf(resolve(dirname(file), specifier))
      if ((RANKS[to] ?? 0) > (RANKS[from] ?? 0))
        violations.push(`${relative(src, file)} (${from}) imports ${specifier} (${to})`)
    }
  }
  expect(violations).toEqual([])
})
