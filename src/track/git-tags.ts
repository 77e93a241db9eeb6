/** Experiment tags in git: listing them with date and message, creating one, diffing two. */
import { DuckmergeError } from '../errors.js'
import { firstLine, git, gitFailure, gitOk } from './git.js'

export interface GitTag {
  readonly name: string
  /** The tagger date for annotated tags, the commit date for lightweight ones (ISO 8601). */
  readonly date: string
  /** The whole tag message (annotated tags); the commit message for lightweight ones. */
  readonly message: string
  /** The first line of `message`. */
  readonly subject: string
  /** The commit the tag points at. */
  readonly commit: string
  readonly annotated: boolean
}

const FIELD = '\u001f'
const RECORD = '\u001e'

/**
 * Every tag of `repo` whose name matches the glob `pattern` (default: all), with its date and
 * message, read in one `git for-each-ref` call.
 *
 * @example
 * const tags = await listTags(repo, 'e*')  // [{ name: 'e0.1.0', subject: 'model=… | acc=0.82', … }]
 */
export async function listTags(repo: string, pattern?: string): Promise<GitTag[]> {
  const format = [
    '%(refname:strip=2)',
    '%(objecttype)',
    '%(creatordate:iso-strict)',
    '%(*objectname)',
    '%(objectname)',
    '%(contents)',
  ].join('%1f')
  const args = ['for-each-ref', `--format=${format}%1e`, 'refs/tags']
  if (pattern !== undefined) args[args.length - 1] = `refs/tags/${pattern}`
  const stdout = await gitOk(repo, args, (stderr) =>
    gitFailure(`Cannot list tags of ${repo}`, stderr),
  )
  const tags: GitTag[] = []
  for (const record of stdout.split(RECORD)) {
    const fields = record.replace(/^\n/, '').split(FIELD)
    if (fields.length < 6) continue
    const [name = '', type = '', date = '', peeled = '', object = '', contents = ''] = fields
    const annotated = type === 'tag'
    const message = contents.trim()
    tags.push({
      name,
      date,
      message,
      subject: firstLine(message).trim(),
      commit: annotated ? peeled : object,
      annotated,
    })
  }
  return tags
}

/** True when `refs/tags/<name>` exists in `repo`. */
export async function tagExists(repo: string, name: string): Promise<boolean> {
  const result = await git(repo, ['rev-parse', '--verify', '--quiet', `refs/tags/${name}`])
  return result.code === 0
}

/** Throws NOT_FOUND naming the tag, the repo and the nearest existing tags unless it exists. */
export async function assertTagExists(repo: string, name: string): Promise<void> {
  if (await tagExists(repo, name)) return
  const names = (await listTags(repo)).map((t) => t.name)
  const shown = names.slice(-10).join(', ')
  throw new DuckmergeError(
    'NOT_FOUND',
    `Tag "${name}" not found in git repository ${repo} (${names.length === 0 ? 'it has no tags' : `tags: ${shown}`}). Create it with duckmerge exp tag ${name}, or pass an existing tag.`,
    { repo, tag: name, tags: names },
  )
}

/**
 * Creates the annotated tag `name` on HEAD with `message` (passed on stdin, so any text is safe).
 * Throws when the tag exists already: an experiment's tag is never moved.
 */
export async function createAnnotatedTag(
  repo: string,
  name: string,
  message: string,
): Promise<void> {
  assertNotOption(name)
  if (await tagExists(repo, name))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `Tag "${name}" already exists in ${repo}; experiment tags are never moved. Pick the next version (duckmerge exp tag --suggest).`,
      { repo, tag: name },
    )
  const valid = await git(repo, ['check-ref-format', `refs/tags/${name}`])
  if (valid.code !== 0)
    throw new DuckmergeError(
      'USAGE',
      `"${name}" is not a valid git tag name. Use a name like e0.2.0.`,
      { tag: name },
    )
  await gitOk(
    repo,
    ['tag', '--annotate', '--file=-', '--cleanup=verbatim', name],
    (stderr) => gitFailure(`Cannot create tag ${name} in ${repo}`, stderr),
    message.endsWith('\n') ? message : `${message}\n`,
  )
}

export interface DiffStatFile {
  readonly path: string
  /** Lines added; null for binary files. */
  readonly added: number | null
  readonly deleted: number | null
}

export interface DiffStat {
  readonly from: string
  readonly to: string
  readonly files: readonly DiffStatFile[]
  /** git's own one-line summary, e.g. ' 2 files changed, 5 insertions(+), 1 deletion(-)'. */
  readonly summary: string
}

/**
 * What changed in the tree between two revisions (`git diff --numstat` and `--shortstat`).
 *
 * @example
 * const stat = await diffStat(repo, 'e0.1.0', 'e0.2.0')  // { files: [{ path: 'train.py', added: 3, deleted: 1 }], … }
 */
export async function diffStat(repo: string, from: string, to: string): Promise<DiffStat> {
  assertNotOption(from)
  assertNotOption(to)
  const onError = (stderr: string) => gitFailure(`Cannot diff ${from}..${to} in ${repo}`, stderr)
  const numstat = await gitOk(repo, ['diff', '--numstat', '-z', from, to, '--'], onError)
  const shortstat = await gitOk(repo, ['diff', '--shortstat', from, to, '--'], onError)
  return { from, to, files: parseNumstatZ(numstat), summary: shortstat.trim() }
}

/** `added\tdeleted\tpath\0` records; renames (`a\tb\t\0old\0new\0`) keep the new path. */
function parseNumstatZ(text: string): DiffStatFile[] {
  const parts = text.split('\0')
  const files: DiffStatFile[] = []
  for (let i = 0; i < parts.length; i++) {
    const head = parts[i] ?? ''
    if (head === '') continue
    const [added = '-', deleted = '-', path = ''] = head.split('\t')
    let name = path
    if (path === '') {
      name = parts[i + 2] ?? ''
      i += 2
    }
    files.push({
      path: name,
      added: added === '-' ? null : Number(added),
      deleted: deleted === '-' ? null : Number(deleted),
    })
  }
  return files
}

/** A name that git would read as an option (`-d`, `--output=…`) is never passed on. */
function assertNotOption(name: string): void {
  if (name.startsWith('-'))
    throw new DuckmergeError(
      'USAGE',
      `"${name}" is not a usable tag or revision name: it starts with "-". Use a name like e0.2.0.`,
      { name },
    )
}
