/** CLI commands: duckmerge git install | uninstall | merge-driver | resolve. */
import { resolve } from 'node:path'
import { readResolutions } from '../../merge/merge3.js'
import {
  DEFAULT_GLOBS,
  installGitDriver,
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
  usage: "[--path-glob '*.db']... [--json]",
  options: { 'path-glob': { type: 'string', multiple: true } },
  async run({ values, cwd }) {
    const globs = multiOption(values, 'path-glob')
    const command = [process.execPath, resolve(process.argv[1] ?? '')].map(shellQuote).join(' ')
    const report = await installGitDriver({
      repo: cwd,
      command,
      ...(globs.length > 0 ? { globs } : {}),
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
    const first = report.conflicts[0]
    process.stderr.write(
      `duckmerge: ${path}: ${report.conflictCount} conflict(s)${first ? `, first ${describeConflict(first)}` : ''}; report in .duckmerge/conflicts/${path}.json; settle with: duckmerge git resolve ${path} --take ours|theirs\n`,
    )
    return { report, text: '', exitCode: 1 }
  },
}

const resolveCommand: Command = {
  path: ['git', 'resolve'],
  summary:
    'Finish a data file git left conflicted: merge it again with --take or --resolutions, then stage it',
  usage: 'PATH (--take ours|theirs | --resolutions FILE) [--key COLS] [--json]',
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
    if (take === undefined && file === undefined)
      throw usageError('pass --take ours|theirs or --resolutions FILE')
    const key = listOption(values, 'key')
    const report = await resolveGitConflict({
      repo: cwd,
      path: positionals[0] as string,
      ...(take ? { take } : {}),
      ...(file ? { resolutions: await readResolutions(file) } : {}),
      ...(key ? { key } : {}),
    })
    if (report.hasConflicts) throw conflictError(report)
    return { report, text: `resolved and staged ${positionals[0]}` }
  },
}

export const gitCommands: readonly Command[] = [install, uninstall, driver, resolveCommand]
