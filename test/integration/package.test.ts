/**
 * The package as users get it after `npm ci`: `npx duckmerge` runs, and a script in the
 * repository root can `import … from 'duckmerge'` and 'duckmerge/delta' (self-reference through
 * package.json exports, served from dist/ that `prepare` builds).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

function node(args: readonly string[]) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 })
}

describe('package', () => {
  beforeAll(() => {
    // dist/ is what `npm ci` builds: build it now, so a stale dist/ from an older checkout cannot
    // pass for the current source.
    const build = node(['scripts/build.mjs'])
    expect(build.status, `scripts/build.mjs failed:\n${build.stdout}${build.stderr}`).toBe(0)
    expect(existsSync(`${root}dist/index.js`)).toBe(true)
  }, 180_000)

  test("a script in the repository root imports 'duckmerge' and 'duckmerge/delta'", () => {
    const script = `
      const main = await import('duckmerge')
      const delta = await import('duckmerge/delta')
      console.log(JSON.stringify({ main: Object.keys(main).sort(), delta: Object.keys(delta).sort() }))`
    const r = node(['--input-type=module', '-e', script])
    expect(r.stderr).toBe('')
    const names = JSON.parse(r.stdout) as { main: string[]; delta: string[] }
    expect(names.main).toEqual(
      expect.arrayContaining([
        'DuckmergeError',
        'mergeResults',
        'rebaseResults',
        'mergeData',
        'rebaseData',
        'mergeModel',
        'promoteModel',
        'rollbackModel',
        'mergeArtifacts',
        'Tracker',
        'EventStore',
        'listExperiments',
        'diffExperiments',
      ]),
    )
    expect(names.delta).toEqual(
      expect.arrayContaining([
        'loadSnapshot',
        'registerSnapshot',
        'createTable',
        'appendTable',
        'merge',
        'backfill',
      ]),
    )
  })

  test('the bin entry runs through npx', () => {
    const r = spawnSync('npx', ['--no-install', 'duckmerge', '--help'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('duckmerge results merge')
  })
})
