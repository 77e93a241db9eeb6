/**
 * Checks on a dataset merge's output before any work: it must not be (or contain, or lie inside,
 * or be matched by) an input, its kind must fit --partition-by, and its folder must be writable.
 */
import { constants, promises as fs } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { DuckmergeError } from '../errors.js'
import { isInside, matchesGlob, type ParquetSource } from '../formats/parquet/source.js'

/**
 * Throws OUTPUT_IS_INPUT when writing `output` could overwrite or later be read as an input, and
 * OUTPUT_UNWRITABLE when its folder cannot be written or an existing `output` is the wrong kind
 * (a folder without partitioning, a file with it). We refuse rather than replace an input: the
 * inputs of a merge are never modified.
 *
 * @example
 * await assertOutputUsable('data/merged.parquet', [ours, theirs], false)
 * // ours is the directory data/: OUTPUT_IS_INPUT, the output would lie inside it
 */
export async function assertOutputUsable(
  output: string,
  sources: readonly ParquetSource[],
  isPartitioned: boolean,
): Promise<void> {
  const target = await realTarget(output)
  for (const source of sources) {
    const root = await realOrSame(source.root)
    const files = await Promise.all(source.files.map(realOrSame))
    const reason = files.includes(target)
      ? `it is the input file ${source.path}`
      : (source.kind === 'directory' || source.kind === 'delta') && isInside(target, root)
        ? `it lies inside the input directory ${source.path}`
        : source.kind === 'glob' && matchesGlob(resolve(source.path), resolve(output))
          ? `the input glob ${source.path} matches it`
          : files.some((f) => isInside(f, target))
            ? `it holds files of the input ${source.path} that replacing it would delete`
            : undefined
    if (reason)
      throw new DuckmergeError(
        'OUTPUT_IS_INPUT',
        `Output ${output} is also an input: ${reason}. Write to a new path outside the inputs, then move it into place.`,
        { output, side: source.side, input: source.path },
      )
  }
  const existing = await fs.stat(output).catch(() => undefined)
  if (existing?.isDirectory() && !isPartitioned)
    throw new DuckmergeError('OUTPUT_UNWRITABLE', `Output ${output} is a directory.`, {
      output,
      hint: 'Name a .parquet file, or give {partitionBy} to write a partitioned directory.',
    })
  if (existing && !existing.isDirectory() && isPartitioned)
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Output ${output} is a file, but a partitioned dataset is a directory.`,
      { output, hint: 'Name a directory as {output}, or leave out {partitionBy}.' },
    )
  const folder = dirname(resolve(output))
  try {
    await fs.access(folder, constants.W_OK)
    if (!(await fs.stat(folder)).isDirectory()) throw new Error('not a directory')
  } catch {
    throw new DuckmergeError(
      'OUTPUT_UNWRITABLE',
      `Cannot write ${output}: folder ${folder} does not exist or is not writable. Create it or choose another output path.`,
      { output },
    )
  }
}

/** The output's absolute path with its folder's symlinks resolved (the output may not exist). */
async function realTarget(output: string): Promise<string> {
  const abs = resolve(output)
  const real = await fs.realpath(abs).catch(() => undefined)
  if (real) return real
  return resolve(await realOrSame(dirname(abs)), basename(abs))
}

async function realOrSame(path: string): Promise<string> {
  return fs.realpath(path).catch(() => path)
}
