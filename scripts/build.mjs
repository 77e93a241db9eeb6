// Builds dist/ with tsc. Runs on `npm ci` (prepare) so `npx duckmerge` works right after install.
// `--lenient` (used by the test setup) still emits when there are type errors: the typecheck step
// reports those, and one unfinished file should not stop every CLI test.
import { spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lenient = process.argv.includes('--lenient')
rmSync(join(root, 'dist'), { recursive: true, force: true })
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  stdio: lenient ? 'pipe' : 'inherit',
  cwd: root,
})
const main = join(root, 'dist', 'cli', 'main.js')
if (existsSync(main)) chmodSync(main, 0o755)
// Static web assets are not TypeScript: copy them as they are.
const ui = join(root, 'src', 'ui', 'static')
if (existsSync(ui)) cpSync(ui, join(root, 'dist', 'ui', 'static'), { recursive: true })
if (result.status !== 0 && !(lenient && existsSync(main))) process.exit(result.status ?? 1)
