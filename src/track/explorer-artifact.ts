/**
 * `exp get`: a file as it was at an experiment's tag, read from git objects or, for a
 * DVC-tracked file, from the DVC cache — never from or into the user's working tree or index.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, promises as fs } from 'node:fs'
import { isAbsolute, posix, relative, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { writeAtomically } from '../engine/files.js'
import { DuckmergeError } from '../errors.js'
import { dvcCacheDir, dvcCachedObject, parseDvcFile } from './dvc.js'
import { git, gitBlobToFile, gitFailure, gitOk, repoRoot } from './git.js'
import { assertTagExists } from './git-tags.js'

export interface GetArtifactOptions {
  /** The experiment's tag, e.g. 'e0.2.0'. */
  readonly version: string
  /** The file's path relative to the repository root (or absolute, inside the repository). */
  readonly artifact: string
  /** Where to write it (replaced atomically: a temporary file, renamed when complete). */
  readonly output: string
  /** Default: the current folder. */
  readonly repo?: string
  /** Aborting stops before the output is renamed into place (INTERRUPTED; temp removed). */
  readonly signal?: AbortSignal
}

export interface ArtifactResult {
  readonly version: string
  readonly artifact: string
  readonly output: string
  /** 'git' when the file itself was committed, 'dvc' when its .dvc file was. */
  readonly source: 'git' | 'dvc'
  readonly bytes: number
  /** The commit the tag points at. */
  readonly commit: string
  /** The md5 recorded in the .dvc file (dvc only). */
  readonly md5?: string
}

/**
 * Writes the artifact as of `version` to `output`. A committed `PATH.dvc` at that tag wins: the
 * file then comes from the DVC cache, its md5 checked (DVC 3 layout).
 *
 * @example
 * await getArtifact({ version: 'e0.1.0', artifact: 'models/model.pt', output: '/tmp/model-e0.1.0.pt' })
 * // { source: 'dvc', bytes: 1048576, md5: '3b5d…', … }
 */
export async function getArtifact(options: GetArtifactOptions): Promise<ArtifactResult> {
  const repo = await repoRoot(options.repo ?? '.')
  await assertTagExists(repo, options.version)
  const rev = `refs/tags/${options.version}`
  const commit = (
    await gitOk(repo, ['rev-parse', `${rev}^{commit}`], (e) =>
      gitFailure(`Cannot resolve tag ${options.version}`, e),
    )
  ).trim()
  const path = repoPath(repo, options.artifact)
  const dvcFile = `${path}.dvc`
  const base = { version: options.version, artifact: path, output: options.output, commit }

  if ((await objectType(repo, rev, dvcFile)) === 'blob') {
    const text = await gitOk(repo, ['cat-file', 'blob', `${rev}:${dvcFile}`], (e) =>
      gitFailure(`Cannot read ${dvcFile} at ${options.version}`, e),
    )
    const outs = parseDvcFile(text, `${dvcFile} at ${options.version}`)
    const name = posix.basename(path)
    const out = outs.find((o) => o.path === name) ?? (outs.length === 1 ? outs[0] : undefined)
    if (!out)
      throw new DuckmergeError(
        'NOT_FOUND',
        `${dvcFile} at ${options.version} has no output named ${name} (outs: ${outs.map((o) => o.path).join(', ') || 'none'}).`,
        { file: dvcFile, version: options.version },
      )
    const cacheDir = await dvcCacheDir(repo)
    const cached = await dvcCachedObject(cacheDir, out)
    if (!cached)
      throw new DuckmergeError(
        'NOT_FOUND',
        `${path} at ${options.version} is tracked by DVC (md5 ${out.md5}) but not in the local cache ${cacheDir}. Run dvc fetch ${dvcFile} (or dvc pull) first.`,
        { path, md5: out.md5, cacheDir },
      )
    const bytes = await writeAtomically(
      options.output,
      async (temp) => {
        const hash = createHash('md5')
        await pipeline(
          createReadStream(cached.path),
          async function* (chunks: AsyncIterable<Buffer>) {
            for await (const chunk of chunks) {
              hash.update(chunk)
              yield chunk
            }
          },
          createWriteStream(temp),
        )
        const md5 = hash.digest('hex')
        // DVC 2 hashed text files after dos2unix, so only the DVC 3 layout is checked byte-exactly.
        if (cached.layout === 'dvc3' && md5 !== out.md5)
          throw new DuckmergeError(
            'INPUT_UNREADABLE',
            `The DVC cache object ${cached.path} for ${path} is corrupt: md5 ${md5}, expected ${out.md5}. Run dvc fetch again.`,
            { path: cached.path, expected: out.md5, actual: md5 },
          )
        return (await fs.stat(temp)).size
      },
      options.signal,
    )
    return { ...base, source: 'dvc', bytes, md5: out.md5 }
  }

  const type = await objectType(repo, rev, path)
  if (type !== 'blob')
    throw new DuckmergeError(
      'NOT_FOUND',
      type === 'tree'
        ? `${path} is a folder at ${options.version}; duckmerge exp get retrieves one file. Pass a file path.`
        : `${path} does not exist at ${options.version} in ${repo} (neither the file nor ${dvcFile} was committed there). Check the path, relative to the repository root.`,
      { path, version: options.version, repo },
    )
  const bytes = await writeAtomically(
    options.output,
    async (temp) => {
      await gitBlobToFile(repo, rev, path, temp)
      return (await fs.stat(temp)).size
    },
    options.signal,
  )
  return { ...base, source: 'git', bytes }
}

/** `rev:path`'s object type ('blob', 'tree'…), or undefined when it does not exist. */
async function objectType(repo: string, rev: string, path: string): Promise<string | undefined> {
  const result = await git(repo, ['cat-file', '-t', `${rev}:${path}`])
  return result.code === 0 ? result.stdout.trim() : undefined
}

/** The artifact as a path inside the repository, with forward slashes, never escaping it. */
function repoPath(repo: string, artifact: string): string {
  const rel = isAbsolute(artifact) ? relative(repo, resolve(artifact)) : artifact
  const normalized = posix.normalize(rel.replaceAll('\\', '/')).replace(/^\.\//, '')
  if (
    normalized === '' ||
    normalized === '.' ||
    normalized.startsWith('../') ||
    normalized === '..'
  )
    throw new DuckmergeError(
      'USAGE',
      `Artifact path "${artifact}" is not a file inside the repository ${repo}. Pass a path relative to its root, e.g. models/model.pt.`,
      { artifact, repo },
    )
  return normalized
}
