/**
 * Runs the benchmarks (`npm run bench [-- name...]`): every bench/*.bench.ts, each in its own
 * process so one's memory does not count against another's.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const filters = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((name) => f.includes(name)))
  .sort()

let failed = 0
for (const file of files) {
  process.stdout.write(`\n== ${file}\n`)
  const tsx = join(here, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs')
  const result = spawnSync(process.execPath, [tsx, join(here, file)], { stdio: 'inherit' })
  if (result.status !== 0) failed++
}
process.exitCode = failed > 0 ? 1 : 0
