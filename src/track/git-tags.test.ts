import { describe, expect, test } from 'vitest'
import { commitFiles, git, makeRepo } from '../../test/integration/exp-fixtures.js'
import { tempDir } from '../../test/support/temp.js'
import { repoRoot } from './git.js'
import { createAnnotatedTag, diffStat, listTags, tagExists } from './git-tags.js'

describe('git tags', () => {
  test('listTags: annotated and lightweight tags with dates, whole messages and commits', async () => {
    const repo = makeRepo()
    const head = git(repo, 'rev-parse', 'HEAD')
    await createAnnotatedTag(repo, 'e0.1.0', 'model=mlp | acc=0.8\n\nlong notes\nover lines')
    git(repo, 'tag', 'light')
    const tags = await listTags(repo)
    expect(tags).toHaveLength(2)
    expect(tags.find((t) => t.name === 'e0.1.0')).toMatchObject({
      annotated: true,
      commit: head,
      subject: 'model=mlp | acc=0.8',
      message: 'model=mlp | acc=0.8\n\nlong notes\nover lines',
    })
    expect(tags.find((t) => t.name === 'light')).toMatchObject({ annotated: false, commit: head })
    expect(tags.every((t) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(t.date))).toBe(true)
    expect((await listTags(repo, 'e*')).map((t) => t.name)).toEqual(['e0.1.0'])
  })

  test('a message with shell and git metacharacters is stored verbatim', async () => {
    const repo = makeRepo()
    const message = `lr=1e-3 | note="$(rm -rf /)" ; \`x\` # not a comment\n-d --delete`
    await createAnnotatedTag(repo, 'e0.2.0', message)
    expect((await listTags(repo))[0]?.message).toBe(message)
  })

  test('names git would read as options, invalid names and existing tags are refused', async () => {
    const repo = makeRepo()
    git(repo, 'tag', 'keep')
    await expect(createAnnotatedTag(repo, '-d', 'x')).rejects.toMatchObject({ code: 'USAGE' })
    await expect(createAnnotatedTag(repo, 'bad..name', 'x')).rejects.toMatchObject({
      code: 'USAGE',
      message: '"bad..name" is not a valid git tag name. Use a name like e0.2.0.',
    })
    await expect(createAnnotatedTag(repo, 'keep', 'x')).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    })
    await expect(diffStat(repo, '--output=/tmp/x', 'keep')).rejects.toMatchObject({ code: 'USAGE' })
    expect(await tagExists(repo, 'keep')).toBe(true)
    expect(await tagExists(repo, '-d')).toBe(false)
    expect((await listTags(repo)).map((t) => t.name)).toEqual(['keep'])
  })

  test('diffStat counts lines per file; binary files have null counts', async () => {
    const repo = makeRepo({ 'a.txt': 'one\n', 'blob.bin': Buffer.from([0, 1, 2]) })
    git(repo, 'tag', 'from')
    git(repo, 'rm', '-q', 'a.txt')
    commitFiles(repo, { 'b.txt': 'x\ny\n', 'blob.bin': Buffer.from([3, 0, 4]) }, 'change')
    const stat = await diffStat(repo, 'from', 'HEAD')
    expect(stat.files).toEqual([
      { path: 'a.txt', added: 0, deleted: 1 },
      { path: 'b.txt', added: 2, deleted: 0 },
      { path: 'blob.bin', added: null, deleted: null },
    ])
    expect(stat.summary).toBe('3 files changed, 2 insertions(+), 1 deletion(-)')
  })

  test('repoRoot finds the top from a subfolder and refuses a plain folder', async () => {
    const repo = makeRepo({ 'src/x.py': '' })
    expect(await repoRoot(`${repo}/src`)).toBe(repo)
    const plain = tempDir()
    await expect(repoRoot(plain)).rejects.toMatchObject({
      code: 'INPUT_NOT_FOUND',
      message: `Not a git repository: ${plain}.`,
      details: expect.objectContaining({
        hint: "Choose {repo} as the folder of your project's git repository.",
      }),
    })
  })
})
