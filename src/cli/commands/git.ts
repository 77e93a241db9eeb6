/** CLI commands: duckmerge git install | uninstall | merge-driver | resolve. */
import { resolve } from 'node:path'
import { DuckmergeError } from '../../errors.js'
import { readResolutions } from '../../merge/merge3.js'
import {
  DEFAULT_GLOBS,
  type GitMergeReport,
  installGitDriver,
  KEY_ATTRIBUTE,
  resolveGitConflict,
  runGitDriver,
  uninstallGitDriver,
} from '../../track/git-merge.js'
import { type Command, listOption, multiOption, stringOption, usageError } from '../command.js'
import { conflictError, describeConflict } from './merge3.js'

/** Single-quoted for the shell git runs the driver through. */
const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

const install: Command = {
  path: ['git', 'install'],
  summary: `Register duckmerge as this repository's git merge driver for data files (default globs: ${DEFAULT_GLOBS.join(' ')}); idempotent`,
  usage: "[--path-glob '*.db']... [--key COLS] [--json]",
  help: `.dvc pointers merge the data they name, from the local DVC cache. Parquet files need key columns: --key writes them as the ${KEY_ATTRIBUTE} attribute of the --path-glob patterns (e.g. --path-glob 'runs/*.parquet' --key run_id → "runs/*.parquet merge=duckmerge ${KEY_ATTRIBUTE}=run_id"); running it again with another key replaces the line.`,
  options: {
    'path-glob': { type: 'string', multiple: true },
    key: { type: 'string', multiple: true },
  },
  async run({ values, cwd }) {
    const globs = multiOption(values, 'path-glob')
    const key = listOption(values, 'key')
    if (key && globs.length === 0)
      throw usageError('--key needs --path-glob: the patterns of the files it is the key of')
    const command = [process.execPath, resolve(process.argv[1] ?? '')].map(shellQuote).join(' ')
    const report = await installGitDriver({
      repo: cwd,
      command,
      ...(globs.length > 0 ? { globs } : {}),
      ...(key ? { key } : {}),
    })
    return {
      report,
      text: `duckmerge merge driver registered in ${report.root}${report.added.length > 0 ? ` (.gitattributes: ${report.added.join(', ')})` : ' (already installed)'}`,
    }
  },
}

const uninstall: Command = {
  path: ['git', 'uninstall'],
  summary: 'Remove the duckmerge merge driver from git config and .gitattributes',
  usage: '[--json]',
  options: {},
  async run({ cwd }) {
    const report = await uninstallGitDriver(cwd)
    return {
      report,
      text: `duckmerge merge driver removed (${report.removed} .gitattributes line(s))`,
    }
  },
}

const driver: Command = {
  path: ['git', 'merge-driver'],
  summary: 'What git runs for a path with merge=duckmerge (%O %A %B %P); not for direct use',
  usage: 'BASE OURS THEIRS PATH',
  positionals: ['BASE', 'OURS', 'THEIRS', 'PATH'],
  options: {},
  async run({ positionals, cwd }) {
    const [base, ours, theirs, path] = positionals as [string, string, string, string]
    const report = await runGitDriver({ cwd, base, ours, theirs, path })
    if (!report.hasConflicts) return { report, text: `duckmerge: merged ${path}` }
    process.stderr.write(
      `duckmerge: ${path}: ${conflictSummary(path, report)}; report in .duckmerge/conflicts/${path}.json\n`,
    )
    return { report, text: '', exitCode: 1 }
  },
}

const resolveCommand: Command = {
  path: ['git', 'resolve'],
  summary:
    'Finish a data file git left conflicted: merge it again with --take or --resolutions, then stage it',
  usage: 'PATH [--take ours|theirs | --resolutions FILE] [--key COLS] [--json]',
  help: 'Without --take or --resolutions it merges again as it is (e.g. after dvc fetch brought the versions a .dvc pointer merge missed). --key overrides the duckmerge-key attribute.',
  positionals: ['PATH'],
  options: {
    take: { type: 'string' },
    resolutions: { type: 'string' },
    key: { type: 'string', multiple: true },
  },
  async run({ values, positionals, cwd }) {
    const take = stringOption(values, 'take')
    if (take !== undefined && take !== 'ours' && take !== 'theirs')
      throw usageError(`--take must be ours or theirs, not "${take}"`)
    const file = stringOption(values, 'resolutions')
    const key = listOption(values, 'key')
    const report = await resolveGitConflict({
      repo: cwd,
      path: positionals[0] as string,
      ...(take ? { take } : {}),
      ...(file ? { resolutions: await readResolutions(file) } : {}),
      ...(key ? { key } : {}),
    })
    if (report.hasConflicts)
      throw report.format === 'dvc'
        ? new DuckmergeError(
            'MERGE_CONFLICT',
            `${report.pointer}: ${conflictSummary(report.pointer, report)}; nothing was written.`,
            { ...report },
          )
        : conflictError(report)
    return { report, text: `resolved and staged ${positionals[0]}` }
  },
}

/** One line: how many conflicts, the first, and what settles them. */
function conflictSummary(path: string, report: GitMergeReport): string {
  if (report.format === 'dvc' && report.missing.length > 0)
    return `${report.missing.length} version(s) missing from the DVC cache ${report.cacheDir} (${report.missing.map((m) => `${m.path} ${m.side} md5 ${m.md5}`).join('; ')}); run dvc fetch for them (e.g. dvc fetch --all-branches), then duckmerge git resolve ${path}`
  const first = report.conflicts[0]
  return `${report.conflictCount} conflict(s)${first ? `, first ${describeConflict(first)}` : ''}; settle with: duckmerge git resolve ${path} --take ours|theirs`
}

export const gitCommands: readonly Command[] = [install, uninstall, driver, resolveCommand]
