import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  diffExperiments,
  getArtifact,
  listExperiments,
  suggestVersion,
  tagExperiment,
} from '../../src/index.js'
import { runCli } from '../support/cli.js'
import { hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { commitFiles, git, makeRepo, mergedFixtureDb } from './exp-fixtures.js'

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex')

/** Everything a user could notice changing: working tree files, index, HEAD, status. */
function userState(repo: string) {
  return {
    files: hashTree(repo),
    status: git(repo, 'status', '--porcelain', '--ignored'),
    head: git(repo, 'rev-parse', 'HEAD'),
  }
}

describe.skipIf(!hasFixtures)(needsFixtures('exp tag'), () => {
  function repoWithResults() {
    const repo = makeRepo({ '.gitignore': 'results/\n', 'train.py': 'lr = 0.01\n' })
    const db = mergedFixtureDb(join(repo, 'results', 'experiments.db'))
    return { repo, db }
  }

  test('an annotated tag whose message holds constant params, metric means and the note', async () => {
    const { repo, db } = repoWithResults()
    const result = await tagExperiment({
      db,
      repo,
      version: 'e0.1.0',
      metrics: ['accuracy'],
      message: 'initial baseline',
    })
    expect(result.message).toBe('model=tiny-mlp | lr=0.01 | accuracy=0.75 | initial baseline')
    expect(result.created).toBe(true)
    expect(git(repo, 'cat-file', '-t', 'e0.1.0')).toBe('tag')
    expect(git(repo, 'tag', '-l', '--format=%(contents:subject)', 'e0.1.0')).toBe(result.message)
    expect(git(repo, 'rev-parse', 'e0.1.0^{commit}')).toBe(result.commit)
    // The sweep's lr differs between runs, so it is not in the message.
    const sweep = await tagExperiment({ db, repo, version: 'e0.2.0', metrics: ['accuracy'] })
    expect(sweep.message).toBe('model=tiny-mlp | accuracy=0.8667')
  })

  test('CLI: tag, then --suggest proposes the next version; list shows the tag', () => {
    const { repo } = repoWithResults()
    const tagged = runCli(
      ['exp', 'tag', 'e0.1.0', '--metric', 'accuracy', '--message', 'initial baseline'],
      { cwd: repo },
    )
    expect(tagged.code).toBe(0)
    expect(tagged.stdout).toMatch(
      /^tagged [0-9a-f]{10} as e0\.1\.0: model=tiny-mlp \| lr=0\.01 \| accuracy=0\.75 \| initial baseline$/m,
    )
    const suggest = runCli(['exp', 'tag', '--suggest', '--json'], { cwd: repo })
    expect(suggest.json()).toEqual({ version: 'e0.2.0', previous: 'e0.1.0', bump: 'minor' })
    const list = runCli(['exp', 'list', '--json'], { cwd: repo })
    const first = list.json<{ experiments: { tag?: { subject: string; date: string } }[] }>()
      .experiments[0]
    expect(first?.tag?.subject).toBe('model=tiny-mlp | lr=0.01 | accuracy=0.75 | initial baseline')
    expect(first?.tag?.date).toMatch(/^\d{4}-\d\d-\d\dT/)
  })

  test('--dry-run builds the message and creates nothing', async () => {
    const { repo, db } = repoWithResults()
    const result = await tagExperiment({
      db,
      repo,
      version: 'e0.3.0',
      dryRun: true,
      metrics: ['accuracy'],
    })
    expect(result.message).toBe('model=tiny-mlp | lr=0.01 | batch_size=32 | accuracy=0.9667')
    expect(result.created).toBe(false)
    expect(git(repo, 'tag', '-l')).toBe('')
  })

  test('failures: existing tag, unknown version, not a repository, no commit yet; nothing created', async () => {
    const { repo, db } = repoWithResults()
    await tagExperiment({ db, repo, version: 'e0.1.0' })
    const before = git(repo, 'tag', '-l', '--format=%(refname) %(objectname)')
    const again = await tagExperiment({ db, repo, version: 'e0.1.0' }).catch((e) => e)
    expect(again.code).toBe('VALIDATION_FAILED')
    expect(again.message).toContain('Tag "e0.1.0" already exists')
    const unknown = await tagExperiment({ db, repo, version: 'e0.9.0' }).catch((e) => e)
    expect(unknown.code).toBe('NOT_FOUND')
    expect(unknown.message).toContain('Version "e0.9.0" has no rows')
    expect(git(repo, 'tag', '-l', '--format=%(refname) %(objectname)')).toBe(before)
    const plain = tempDir()
    const notRepo = runCli(['exp', 'tag', 'e0.1.0', '--db', db, '--repo', plain])
    expect(notRepo.code).toBe(1)
    expect(notRepo.stderr).toContain(`[INPUT_NOT_FOUND]: Not a git repository: ${plain}.`)
    const empty = join(tempDir(), 'empty')
    mkdirSync(empty)
    git(empty, 'init', '-q')
    const noCommit = await tagExperiment({ db, repo: empty, version: 'e0.1.0' }).catch((e) => e)
    expect(noCommit.code).toBe('VALIDATION_FAILED')
    expect(noCommit.message).toContain('has no commit yet')
  })

  test('git missing from PATH: a clear error, exit 1', () => {
    const { repo } = repoWithResults()
    const r = runCli(['exp', 'tag', '--suggest'], { cwd: repo, env: { PATH: '/nonexistent' } })
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe(
      'duckmerge: error [UNSUPPORTED_FEATURE]: git is not installed or not on PATH; duckmerge exp needs it for tags, worktrees and artifacts. Install git.',
    )
  })
})

describe('suggestVersion', () => {
  test('bumps the highest e<major>.<minor>.<patch> tag, ignoring other tags', async () => {
    const repo = makeRepo()
    expect(await suggestVersion({ repo })).toEqual({
      version: 'e0.1.0',
      previous: null,
      bump: 'minor',
    })
    for (const t of ['e0.1.0', 'e0.2.0', 'e0.10.0', 'v9.0.0', 'e1.0', 'e0.9.9']) git(repo, 'tag', t)
    expect((await suggestVersion({ repo })).version).toBe('e0.11.0')
    expect((await suggestVersion({ repo, bump: 'patch' })).version).toBe('e0.10.1')
    expect((await suggestVersion({ repo, bump: 'major' })).version).toBe('e1.0.0')
    expect((await suggestVersion({ repo, prefix: 'v' })).version).toBe('v9.1.0')
  })

  test('CLI: a bad --bump is a usage error (exit 2)', () => {
    const r = runCli(['exp', 'tag', '--suggest', '--bump', 'huge'], { cwd: makeRepo() })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--bump must be one of major, minor, patch, got "huge"')
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('exp diff with a git repository'), () => {
  test('adds git diff --stat between the tags; names tags that are missing', async () => {
    const repo = makeRepo({ 'train.py': 'lr = 0.01\nepochs = 3\n' })
    git(repo, 'tag', '-a', 'e0.1.0', '-m', 'baseline')
    commitFiles(repo, { 'train.py': 'lr = 0.003\nepochs = 3\nsweep = True\n' }, 'sweep')
    git(repo, 'tag', '-a', 'e0.2.0', '-m', 'sweep')
    const db = mergedFixtureDb(join(tempDir(), 'm.db'))
    const d = await diffExperiments({ db, repo, base: 'e0.1.0', exp: 'e0.2.0' })
    expect(d.git).toEqual({
      from: 'e0.1.0',
      to: 'e0.2.0',
      files: [{ path: 'train.py', added: 2, deleted: 1 }],
      summary: '1 file changed, 2 insertions(+), 1 deletion(-)',
    })
    const missing = await diffExperiments({ db, repo, base: 'e0.1.0', exp: 'e0.3.0' })
    expect(missing.git).toEqual({ missingTags: ['e0.3.0'] })
    const cli = runCli(['exp', 'diff', 'e0.1.0', 'e0.2.0', '--db', db], { cwd: repo })
    expect(cli.stdout).toContain('code: git diff --stat e0.1.0 e0.2.0: 1 file changed')
    expect(cli.stdout).toContain('  train.py  +2 -1')
  })

  test('list --repo on a folder that is not a repository fails; without --repo tags are just absent', async () => {
    const db = mergedFixtureDb(join(tempDir(), 'm.db'))
    const error = await listExperiments({ db, repo: tempDir() }).catch((e) => e)
    expect(error.code).toBe('INPUT_NOT_FOUND')
    const r = runCli(['exp', 'list', '--db', db, '--json'], { cwd: tempDir() })
    expect(r.code).toBe(0)
    expect(r.json<{ experiments: { tag?: unknown }[] }>().experiments.every((e) => !e.tag)).toBe(
      true,
    )
  })
})

describe('exp get', () => {
  /** All 256 byte values and a NUL-heavy tail: a decoding mistake would change them. */
  const binaryV1 = Buffer.concat([
    Buffer.from([...Array(256).keys()]),
    Buffer.alloc(64),
    randomBytes(3000),
  ])
  const binaryV2 = Buffer.concat([randomBytes(5000), Buffer.from('\r\n\0end')])

  function dvcFile(content: Buffer, legacy = false): string {
    return legacy
      ? `outs:\n- md5: ${md5(content)}\n  size: ${content.length}\n  path: model.pt\n`
      : `outs:\n- md5: ${md5(content)}\n  size: ${content.length}\n  hash: md5\n  path: model.pt\n`
  }

  function putInCache(repo: string, content: Buffer, legacy = false) {
    const h = md5(content)
    const dir = legacy
      ? join(repo, '.dvc', 'cache', h.slice(0, 2))
      : join(repo, '.dvc', 'cache', 'files', 'md5', h.slice(0, 2))
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, h.slice(2)), content)
  }

  /** Two tagged versions of a git-tracked binary and a DVC-tracked model (hand-made DVC layout). */
  function project(legacy = false) {
    const repo = makeRepo({
      '.gitignore': '/models/model.pt\n/.dvc/cache\n',
      '.dvc/config': '',
      'data/weights.bin': binaryV1,
      'models/model.pt.dvc': dvcFile(binaryV1, legacy),
    })
    putInCache(repo, binaryV1, legacy)
    git(repo, 'tag', '-a', 'e0.1.0', '-m', 'model=tiny-mlp | accuracy=0.75')
    commitFiles(
      repo,
      { 'data/weights.bin': binaryV2, 'models/model.pt.dvc': dvcFile(binaryV2, legacy) },
      'bigger model',
    )
    putInCache(repo, binaryV2, legacy)
    git(repo, 'tag', '-a', 'e0.2.0', '-m', 'model=bigger')
    writeFileSync(join(repo, 'models', 'model.pt'), binaryV2)
    return repo
  }

  test('a git-tracked binary as of an older tag, byte for byte, working tree and index untouched', async () => {
    const repo = project()
    writeFileSync(join(repo, 'data', 'weights.bin'), 'uncommitted edit')
    const before = userState(repo)
    const output = join(tempDir(), 'weights-e0.1.0.bin')
    const result = await getArtifact({
      repo,
      version: 'e0.1.0',
      artifact: 'data/weights.bin',
      output,
    })
    expect(result).toMatchObject({
      source: 'git',
      bytes: binaryV1.length,
      artifact: 'data/weights.bin',
    })
    expect(readFileSync(output).equals(binaryV1)).toBe(true)
    expect(userState(repo)).toEqual(before)
  })

  test('a DVC 3 tracked file comes from .dvc/cache/files/md5, checked against its md5', async () => {
    const repo = project()
    const before = userState(repo)
    const output = join(tempDir(), 'model.pt')
    const r = runCli(
      [
        'exp',
        'get',
        '--version',
        'e0.1.0',
        '--artifact',
        'models/model.pt',
        '--output',
        output,
        '--json',
      ],
      { cwd: repo },
    )
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({ source: 'dvc', md5: md5(binaryV1), bytes: binaryV1.length })
    expect(readFileSync(output).equals(binaryV1)).toBe(true)
    expect(userState(repo)).toEqual(before)
  })

  test('a DVC 2 tracked file comes from .dvc/cache/xx/…', async () => {
    const repo = project(true)
    const output = join(tempDir(), 'model.pt')
    const result = await getArtifact({
      repo,
      version: 'e0.2.0',
      artifact: 'models/model.pt',
      output,
    })
    expect(result.source).toBe('dvc')
    expect(readFileSync(output).equals(binaryV2)).toBe(true)
  })

  test('a cache dir set in .dvc/config is followed', async () => {
    const repo = project()
    const shared = join(tempDir(), 'shared-cache')
    mkdirSync(join(shared, 'files', 'md5', md5(binaryV1).slice(0, 2)), { recursive: true })
    writeFileSync(
      join(shared, 'files', 'md5', md5(binaryV1).slice(0, 2), md5(binaryV1).slice(2)),
      binaryV1,
    )
    writeFileSync(join(repo, '.dvc', 'config.local'), `[cache]\n    dir = ${shared}\n`)
    const output = join(tempDir(), 'model.pt')
    await getArtifact({ repo, version: 'e0.1.0', artifact: 'models/model.pt', output })
    expect(readFileSync(output).equals(binaryV1)).toBe(true)
  })

  test('failures: missing tag, missing path, folder, not in cache, corrupt cache, not a repo; no output left', async () => {
    const repo = project()
    const dir = tempDir()
    const output = join(dir, 'out.bin')
    const get = (version: string, artifact: string, r = repo) =>
      getArtifact({ repo: r, version, artifact, output }).catch((e) => e)

    const tag = await get('e9.0.0', 'data/weights.bin')
    expect(tag.code).toBe('NOT_FOUND')
    expect(tag.message).toBe(
      `Tag "e9.0.0" not found in git repository ${repo} (tags: e0.1.0, e0.2.0). Create it with duckmerge exp tag e9.0.0, or pass an existing tag.`,
    )
    const path = await get('e0.1.0', 'data/nothing.bin')
    expect(path.code).toBe('NOT_FOUND')
    expect(path.message).toContain('data/nothing.bin does not exist at e0.1.0')
    const folder = await get('e0.1.0', 'data')
    expect(folder.message).toContain('data is a folder at e0.1.0')
    const outside = await get('e0.1.0', '../etc/passwd')
    expect(outside.code).toBe('USAGE')

    const h = md5(binaryV1)
    const cached = join(repo, '.dvc', 'cache', 'files', 'md5', h.slice(0, 2), h.slice(2))
    writeFileSync(cached, Buffer.concat([binaryV1, Buffer.from('x')]))
    const corrupt = await get('e0.1.0', 'models/model.pt')
    expect(corrupt.code).toBe('INPUT_UNREADABLE')
    expect(corrupt.message).toContain(`is corrupt: md5 `)
    rmSync(cached)
    const notCached = await get('e0.1.0', 'models/model.pt')
    expect(notCached.code).toBe('NOT_FOUND')
    expect(notCached.message).toContain(`tracked by DVC (md5 ${h}) but not in the local cache`)
    expect(notCached.message).toContain('Run dvc fetch models/model.pt.dvc')
    expect(existsSync(output)).toBe(false)
    expect(hashTree(dir)).toEqual({})

    const cli = runCli(
      ['exp', 'get', '--version', 'e0.1.0', '--artifact', 'x', '--output', output],
      {
        cwd: tempDir(),
      },
    )
    expect(cli.code).toBe(1)
    expect(cli.stderr).toContain('[INPUT_NOT_FOUND]: Not a git repository')
    const usage = runCli(['exp', 'get', '--version', 'e0.1.0', '--output', output], { cwd: repo })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('missing required --artifact')
  })

  test('an existing output is replaced only when the new file is complete', async () => {
    const repo = project()
    const output = join(tempDir(), 'model.pt')
    writeFileSync(output, 'previous')
    const failed = await getArtifact({ repo, version: 'e0.1.0', artifact: 'nope', output }).catch(
      (e) => e,
    )
    expect(failed.code).toBe('NOT_FOUND')
    expect(readFileSync(output, 'utf8')).toBe('previous')
    await getArtifact({ repo, version: 'e0.2.0', artifact: 'data/weights.bin', output })
    expect(readFileSync(output).equals(binaryV2)).toBe(true)
  })
})
