/** Builds dist/ once before the suite, so CLI tests run the same code `npx duckmerge` runs. */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url))
  execFileSync(process.execPath, [script, '--lenient'], { stdio: 'inherit' })
}
