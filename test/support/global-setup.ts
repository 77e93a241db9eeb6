/**
 * Builds the CLI once before the suite into a private folder, so CLI tests run the same compiled
 * code `npx duckmerge` runs, and parallel test runs never share a half-written build.
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    cliPath: string
  }
}

export default function setup(project: TestProject): () => void {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const out = join(root, '.test-build', `${process.pid}`)
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--lenient', '--out', out], {
    stdio: 'inherit',
  })
  project.provide('cliPath', join(out, 'cli', 'main.js'))
  return () => rmSync(out, { recursive: true, force: true })
}
