// Builds dist/ with tsc. Runs on `npm ci` (prepare) so `npx duckmerge` works right after install.
//   --out DIR   build there instead of dist/ (the test setup builds a private copy per run, so
//               parallel test runs never see a half-written dist/)
//   --lenient   emit even when there are type errors: the typecheck step reports those, and one
//               unfinished file should not stop every CLI test
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const lenient = args.includes('--lenient')
const outIndex = args.indexOf('--out')
const out = outIndex >= 0 ? resolve(args[outIndex + 1] ?? '') : join(root, 'dist')

rmSync(out, { recursive: true, force: true })
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const result = spawnSync(
  process.execPath,
  [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out],
  { stdio: lenient ? 'pipe' : 'inherit', cwd: root },
)
const main = join(out, 'cli', 'main.js')
if (existsSync(main)) chmodSync(main, 0o755)
// The web app (src/ui, Preact) is bundled by Vite into <out>/ui/static, which `serve` serves at /.
// Vite is a dev dependency: an install without it builds the library and CLI only.
const vite = await import('vite').catch(() => null)
if (vite) {
  await vite.build({
    root: join(root, 'src', 'ui'),
    base: './',
    logLevel: 'warn',
    build: { outDir: join(out, 'ui', 'static'), emptyOutDir: true, reportCompressedSize: false },
  })
} else console.warn('vite is not installed: the web UI is not built')
if (result.status !== 0 && !(lenient && existsSync(main))) process.exit(result.status ?? 1)
