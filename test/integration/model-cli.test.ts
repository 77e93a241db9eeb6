import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli, startCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'

describe('duckmerge model (CLI)', () => {
  test('concurrent `model merge` processes lose no registry entry', async () => {
    const dir = tempDir()
    const n = 6
    for (let i = 0; i < n; i++) writeFileSync(join(dir, `m${i}.bin`), `weights ${i}`.repeat(1000))
    const children = Array.from({ length: n }, (_, i) =>
      startCli(
        [
          'model',
          'merge',
          '--exp',
          `m${i}.bin`,
          '--run-id',
          `run${i}`,
          '--metrics',
          `{"acc": ${i / 10}}`,
        ],
        { cwd: dir },
      ),
    )
    const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]))
    expect(codes).toEqual(Array(n).fill(0))
    const registry = JSON.parse(readFileSync(join(dir, 'models', 'registry.json'), 'utf8'))
    const ids = registry.candidates.map((c: { id: string }) => c.id).sort()
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => `run${i}_m${i}.bin`))
    expect(existsSync(join(dir, 'models', 'registry.lock'))).toBe(false)
    expect(Object.keys(hashTree(join(dir, 'models', 'candidates')))).toHaveLength(n)
  })

  test('merge, promote --best, list --json, rollback', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.bin'), 'A')
    writeFileSync(join(dir, 'b.bin'), 'B')
    writeFileSync(join(dir, 'metrics.json'), '{"acc": 0.95}')
    const cli = (args: string[]) => runCli([...args, '--models', 'reg'], { cwd: dir })
    expect(
      cli(['model', 'merge', '--exp', 'a.bin', '--run-id', 'r1', '--metrics', '{"acc":0.9}']).code,
    ).toBe(0)
    const merged = cli([
      'model',
      'merge',
      '--exp',
      'b.bin',
      '--run-id',
      'r2',
      '--metrics',
      'metrics.json',
    ])
    expect(merged.stdout).toContain('registered candidate r2_b.bin')

    const promoted = cli(['model', 'promote', '--best', 'acc', '--json'])
    expect(promoted.code).toBe(0)
    expect(promoted.json()).toMatchObject({
      strategy: 'promote',
      changed: true,
      production: { candidateId: 'r2_b.bin' },
    })
    expect(cli(['model', 'promote', '--candidate', 'r1_a.bin']).stdout).toMatch(
      /promoted r1_a\.bin .*\n\s+replaced r2_b\.bin/,
    )

    const listing = cli(['model', 'list', '--json']).json<{
      production: { candidateId: string }
      history: unknown[]
    }>()
    expect(listing.production.candidateId).toBe('r1_a.bin')
    expect(listing.history).toHaveLength(2)
    const text = cli(['model', 'list']).stdout
    expect(text).toContain('production: r1_a.bin')
    expect(text).toContain('model rollback would restore r2_b.bin')

    expect(cli(['model', 'rollback']).stdout).toContain('rolled back to r2_b.bin')
    // The production path is the same whichever candidate is in it.
    expect(readFileSync(join(dir, 'reg', 'production', 'model.bin'), 'utf8')).toBe('B')
    expect(readdirSync(join(dir, 'reg', 'production'))).toEqual(['model.bin'])

    const prune = cli(['model', 'prune', '--keep', '0', '--metric', 'acc', '--dry-run', '--json'])
    expect(prune.json()).toMatchObject({
      dryRun: true,
      removed: ['r1_a.bin'],
      protected: ['r2_b.bin'],
    })
  })

  test('promote --name chooses the production file name; the registry keeps the candidate', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.pt'), 'A')
    const cli = (args: string[]) => runCli([...args, '--models', 'reg', '--json'], { cwd: dir })
    expect(cli(['model', 'merge', '--exp', 'a.pt', '--run-id', 'r1']).code).toBe(0)
    const promoted = cli(['model', 'promote', '--candidate', 'r1_a.pt', '--name', 'serve.pt'])
    expect(promoted.code).toBe(0)
    expect(promoted.json()).toMatchObject({
      path: join('reg', 'production', 'serve.pt'),
      production: { candidateId: 'r1_a.pt', fileName: 'serve.pt' },
    })
    expect(readdirSync(join(dir, 'reg', 'production'))).toEqual(['serve.pt'])
    const bad = cli(['model', 'promote', '--candidate', 'r1_a.pt', '--name', '../x.pt'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('must be a plain file name')
  })

  test('merge into a models folder that cannot be made (a file in its path) is OUTPUT_UNWRITABLE', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.bin'), 'A')
    writeFileSync(join(dir, 'file'), 'not a folder')
    const before = hashTree(dir)
    const r = runCli(
      ['model', 'merge', '--exp', 'a.bin', '--run-id', 'r1', '--models', 'file/models'],
      { cwd: dir },
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('[OUTPUT_UNWRITABLE]: Cannot write the models folder file/models')
    expect(r.stderr).toContain('Choose --models as a folder you can write.')
    expect(hashTree(dir)).toEqual(before)
  })

  test('merge and promote --dry-run say what they would do and change nothing', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.bin'), 'A')
    writeFileSync(join(dir, 'b.bin'), 'B')
    const cli = (args: string[]) => runCli(args, { cwd: dir })
    const dryMerge = cli(['model', 'merge', '--exp', 'a.bin', '--run-id', 'r1', '--dry-run'])
    expect(dryMerge.code).toBe(0)
    expect(dryMerge.stdout).toMatch(
      /^would register candidate r1_a\.bin .*\ndry run: nothing written/,
    )
    expect(existsSync(join(dir, 'models'))).toBe(false)

    cli(['model', 'merge', '--exp', 'a.bin', '--run-id', 'r1', '--metrics', '{"acc": 1}'])
    cli(['model', 'merge', '--exp', 'b.bin', '--run-id', 'r2', '--metrics', '{"acc": 2}'])
    cli(['model', 'promote', '--candidate', 'r1_a.bin'])
    const before = hashTree(dir)
    const dry = cli(['model', 'promote', '--best', 'acc', '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(
      /^would promote r2_b\.bin .*\n\s+would replace r1_a\.bin .*\ndry run: nothing written/,
    )
    expect(hashTree(dir)).toEqual(before)
    const json = cli(['model', 'promote', '--best', 'acc', '--dry-run', '--json'])
    expect(json.json()).toMatchObject({
      dryRun: true,
      changed: true,
      production: { candidateId: 'r2_b.bin' },
      replaced: { candidateId: 'r1_a.bin' },
    })
    expect(hashTree(dir)).toEqual(before)
  })

  test('errors exit non-zero with a clear message and change nothing', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.bin'), 'A')
    expect(runCli(['model', 'merge', '--exp', 'a.bin', '--run-id', 'r1'], { cwd: dir }).code).toBe(
      0,
    )
    const before = hashTree(dir)

    const missing = runCli(['model', 'merge', '--exp', 'nope.bin', '--run-id', 'r2'], { cwd: dir })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('error [INPUT_NOT_FOUND]: model file not found: nope.bin')

    const unknown = runCli(['model', 'promote', '--candidate', 'zzz', '--json'], { cwd: dir })
    expect(unknown.code).toBe(1)
    expect(unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND' } })

    const two = runCli(['model', 'promote', '--candidate', 'r1_a.bin', '--best', 'acc'], {
      cwd: dir,
    })
    expect(two.code).toBe(2)
    expect(two.stderr).toContain('exactly one of --exp FILE, --candidate ID or --best METRIC')

    const badMetrics = runCli(
      ['model', 'merge', '--exp', 'a.bin', '--run-id', 'r3', '--metrics', '{"acc": [1]}'],
      { cwd: dir },
    )
    expect(badMetrics.code).toBe(2)
    expect(badMetrics.stderr).toContain('--metrics must be a JSON object of numbers')

    writeFileSync(join(dir, 'models', 'registry.json'), 'not json')
    const corrupt = runCli(['model', 'list'], { cwd: dir })
    expect(corrupt.code).toBe(1)
    expect(corrupt.stderr).toMatch(
      /\[INPUT_UNREADABLE\]: Model registry models\/registry\.json is corrupt/,
    )

    writeFileSync(
      join(dir, 'models', 'registry.json'),
      readFileSync(join(dir, 'models', 'registry.json')),
    )
    const after = hashTree(dir)
    delete after['models/registry.json']
    const expected = { ...before }
    delete expected['models/registry.json']
    expect(after).toEqual(expected)
  })
})
