/**
 * Where a worker thread's script is: the compiled `.js` beside the caller in dist/, or, when
 * running from the TypeScript sources (tests, tsx), an eval'd loader that registers tsx first.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * The `Worker` source for the module `name` (without extension) beside `base`.
 *
 * @example
 * const script = workerScript(import.meta.url, 'write-worker')
 * new Worker(script.source, { eval: script.isEval, workerData })
 */
export function workerScript(
  base: string,
  name: string,
): { readonly source: URL | string; readonly isEval: boolean } {
  const js = new URL(`./${name}.js`, base)
  if (existsSync(fileURLToPath(js))) return { source: js, isEval: false }
  const tsx = dirname(createRequire(base).resolve('tsx/package.json'))
  const api = JSON.stringify(pathToFileURL(join(tsx, 'dist', 'esm', 'api', 'index.mjs')).href)
  const ts = JSON.stringify(new URL(`./${name}.ts`, base).href)
  return {
    source: `import(${api}).then((tsx) => { tsx.register(); return import(${ts}) })`,
    isEval: true,
  }
}
