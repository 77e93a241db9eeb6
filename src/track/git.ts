/** Running git for the explorer: argument arrays through execFile/spawn, never a shell string. */
import { execFile, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { resolve } from 'node:path'
import { DuckmergeError } from '../errors.js'

export interface GitResult {
  readonly stdout: string
  readonly stderr: string
  readonly code: number
}

/** git from PATH: the user's own git, with their configuration. */
function gitBinary(): string {
  return 'git'
}

function gitMissing(cause: unknown): DuckmergeError {
  return new DuckmergeError(
    'UNSUPPORTED_FEATURE',
    'git is not installed or not on PATH; duckmerge exp needs it for tags, worktrees and artifacts. Install git.',
    { binary: gitBinary() },
    { cause },
  )
}

/**
 * Runs `git -C repo ...args` and returns its output; a non-zero exit is a return value, not an
 * exception (callers decide what it means). Throws UNSUPPORTED_FEATURE when git is missing.
 *
 * @example
 * const { stdout } = await git('/work/repo', ['tag', '--list', 'e*'])
 */
export function git(repo: string, args: readonly string[], input?: string): Promise<GitResult> {
  return new Promise((done, fail) => {
    const child = execFile(
      gitBinary(),
      ['-C', repo, ...args],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: gitEnv() },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          fail(gitMissing(error))
          return
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        done({ stdout, stderr, code })
      },
    )
    if (input !== undefined) child.stdin?.end(input)
  })
}

/** Like `git`, but a non-zero exit throws `onError(stderr)`. Returns stdout. */
export async function gitOk(
  repo: string,
  args: readonly string[],
  onError: (stderr: string) => DuckmergeError,
  input?: string,
): Promise<string> {
  const result = await git(repo, args, input)
  if (result.code !== 0) throw onError(result.stderr.trim())
  return result.stdout
}

/**
 * The top-level folder of the git work tree containing `dir`; throws INPUT_NOT_FOUND naming the
 * folder when it is not inside a git repository.
 *
 * @example
 * const root = await repoRoot('.')  // '/home/me/project'
 */
export async function repoRoot(dir: string): Promise<string> {
  const abs = resolve(dir)
  const result = await git(abs, ['rev-parse', '--show-toplevel'])
  if (result.code !== 0)
    throw new DuckmergeError('INPUT_NOT_FOUND', `Not a git repository: ${abs}.`, {
      repo: abs,
      git: result.stderr.trim(),
      hint: "Choose {repo} as the folder of your project's git repository.",
    })
  return result.stdout.trim()
}

/** True when `dir` is inside a git work tree (false also when git is missing). */
export async function isGitRepo(dir: string): Promise<boolean> {
  try {
    return (await git(resolve(dir), ['rev-parse', '--is-inside-work-tree'])).code === 0
  } catch {
    return false
  }
}

/**
 * Streams the blob `rev:path` into `file` (binary-safe: bytes are piped, never decoded).
 * The caller checks that the object exists first.
 */
export function gitBlobToFile(
  repo: string,
  rev: string,
  path: string,
  file: string,
): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(gitBinary(), ['-C', repo, 'cat-file', 'blob', `${rev}:${path}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: gitEnv(),
    })
    const out = createWriteStream(file)
    let stderr = ''
    let failed = false
    const failOnce = (error: unknown) => {
      if (failed) return
      failed = true
      child.kill()
      out.destroy()
      fail(error)
    }
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8')
    })
    child.on('error', (error) =>
      failOnce((error as NodeJS.ErrnoException).code === 'ENOENT' ? gitMissing(error) : error),
    )
    out.on('error', failOnce)
    child.stdout.pipe(out)
    let exitCode: number | null = null
    let closed = false
    const finish = () => {
      if (failed || exitCode === null || !closed) return
      if (exitCode !== 0)
        failOnce(
          new DuckmergeError(
            'INPUT_UNREADABLE',
            `Cannot read ${rev}:${path} from git: ${stderr.trim() || `git exited with ${exitCode}`}`,
            { rev, path },
          ),
        )
      else done()
    }
    child.on('close', (code) => {
      exitCode = code ?? 1
      finish()
    })
    out.on('close', () => {
      closed = true
      finish()
    })
  })
}

/** git's own environment, minus variables that would redirect it to another repository. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' }
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete env[name]
  return env
}

/** Wraps any lower git failure into one of ours, keeping the cause. */
export function gitFailure(what: string, stderr: string): DuckmergeError {
  return new DuckmergeError('INPUT_UNREADABLE', `${what}: ${firstLine(stderr)}`, { git: stderr })
}

export function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '') ?? text
}

/**
 * The value of attribute `name` for `path` per the repository's `.gitattributes`; undefined when
 * it is unspecified, set without a value, or unset.
 *
 * @example
 * await gitAttribute(root, 'runs.parquet', 'duckmerge-key')  // 'run_id'
 */
export async function gitAttribute(
  root: string,
  path: string,
  name: string,
): Promise<string | undefined> {
  const out = await gitOk(root, ['check-attr', '-z', name, '--', path], (e) =>
    gitFailure(`Cannot read the ${name} attribute of ${path}`, e),
  )
  // -z: path NUL attribute NUL value NUL
  const value = out.split('\0')[2]
  return value === undefined || ['unspecified', 'set', 'unset'].includes(value) ? undefined : value
}
