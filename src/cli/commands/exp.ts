/** CLI commands: duckmerge exp … (tag, list, diff, get, worktree, merge-back, plot). */
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { writeAtomically } from '../../engine/files.js'
import { formatMergeReport } from '../../merge/report.js'
import { getArtifact } from '../../track/explorer-artifact.js'
import { diffExperiments, type ParamValue } from '../../track/explorer-diff.js'
import {
  formatNumber,
  formatParams,
  formatValue,
  listExperiments,
} from '../../track/explorer-list.js'
import type { ResultsSourceOptions } from '../../track/explorer-source.js'
import {
  createExperimentWorktree,
  DEFAULT_RESULTS_DB,
  mergeBackExperiment,
} from '../../track/explorer-worktree.js'
import { isGitRepo } from '../../track/git.js'
import { type Band, plotMetric, type XScale } from '../../track/plot.js'
import { type Bump, suggestVersion } from '../../track/versioning.js'
import { tagExperiment } from '../../track/versioning-tag.js'
import {
  type Command,
  type CommandContext,
  flag,
  intOption,
  multiOption,
  type OptionSpecs,
  requiredString,
  stringOption,
  usageError,
  type Values,
} from '../command.js'
import { mergeReportJson } from '../merge-report-json.js'
import { formatTable } from '../output.js'
import { conflictError, formatMerge3 } from './merge3.js'

const sourceOptions: OptionSpecs = {
  db: { type: 'string' },
  table: { type: 'string' },
  'version-column': { type: 'string' },
  'run-column': { type: 'string' },
}

function source(context: CommandContext): ResultsSourceOptions {
  const v = context.values
  const table = stringOption(v, 'table')
  const versionColumn = stringOption(v, 'version-column')
  const runColumn = stringOption(v, 'run-column')
  return {
    db: resolve(context.cwd, stringOption(v, 'db') ?? DEFAULT_RESULTS_DB),
    ...(table !== undefined ? { table } : {}),
    ...(versionColumn !== undefined ? { versionColumn } : {}),
    ...(runColumn !== undefined ? { runColumn } : {}),
  }
}

/** `--metric a --metric b` or `--metric a,b`; undefined when not given. */
function names(values: Values, name: string): string[] | undefined {
  const list = multiOption(values, name)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '')
  return list.length > 0 ? list : undefined
}

/** An explicit --repo must be a repository; without it the current folder is used if it is one. */
async function optionalRepo(context: CommandContext): Promise<string | undefined> {
  const repo = stringOption(context.values, 'repo')
  if (repo !== undefined) return resolve(context.cwd, repo)
  return (await isGitRepo(context.cwd)) ? context.cwd : undefined
}

function oneOf<T extends string>(
  values: Values,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = stringOption(values, name)
  if (v === undefined) return undefined
  if (!(allowed as readonly string[]).includes(v))
    throw usageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`)
  return v as T
}

const tag: Command = {
  path: ['exp', 'tag'],
  summary: 'Tag HEAD as an experiment version, with its params and metric means in the message',
  usage:
    'VERSION [--db DB] [--metric M]... [--message TEXT] [--repo DIR] [--dry-run] | --suggest [--bump major|minor|patch]',
  positionals: ['[VERSION]'],
  options: {
    ...sourceOptions,
    metric: { type: 'string', multiple: true },
    message: { type: 'string' },
    repo: { type: 'string' },
    'dry-run': { type: 'boolean' },
    suggest: { type: 'boolean' },
    bump: { type: 'string' },
    prefix: { type: 'string' },
  },
  async run(context) {
    const v = context.values
    const repo = resolve(context.cwd, stringOption(v, 'repo') ?? '.')
    const version = context.positionals[0]
    if (flag(v, 'suggest')) {
      if (version !== undefined) throw usageError('exp tag takes VERSION or --suggest, not both')
      const bump = oneOf<Bump>(v, 'bump', ['major', 'minor', 'patch'])
      const prefix = stringOption(v, 'prefix')
      const s = await suggestVersion({
        repo,
        ...(bump ? { bump } : {}),
        ...(prefix !== undefined ? { prefix } : {}),
      })
      return {
        report: s,
        text: s.previous
          ? `${s.version}  (${s.bump} bump of ${s.previous})`
          : `${s.version}  (no experiment tags yet)`,
      }
    }
    if (version === undefined)
      throw usageError('exp tag needs a VERSION (e.g. e0.2.0), or --suggest to propose one')
    const metrics = names(v, 'metric')
    const message = stringOption(v, 'message')
    const result = await tagExperiment({
      ...source(context),
      version,
      repo,
      ...(metrics ? { metrics } : {}),
      ...(message !== undefined ? { message } : {}),
      ...(flag(v, 'dry-run') ? { dryRun: true } : {}),
    })
    const verb = result.created ? 'tagged' : 'would tag (dry run)'
    return {
      report: result,
      text: `${verb} ${result.commit.slice(0, 10)} as ${result.tag}: ${result.message}`,
    }
  },
}

const list: Command = {
  path: ['exp', 'list'],
  summary: 'List experiments by version: rows, runs, params, metric means; rank with --sort',
  usage:
    '[--db DB] [--sort METRIC] [--desc] [--where SQL] [--limit N] [--metric M]... [--param P]... [--table T] [--version-column C] [--repo DIR]',
  options: {
    ...sourceOptions,
    sort: { type: 'string' },
    desc: { type: 'boolean' },
    where: { type: 'string' },
    limit: { type: 'string' },
    metric: { type: 'string', multiple: true },
    param: { type: 'string', multiple: true },
    repo: { type: 'string' },
  },
  async run(context) {
    const v = context.values
    const sort = stringOption(v, 'sort')
    const where = stringOption(v, 'where')
    const limit = intOption(v, 'limit', 1)
    const metrics = names(v, 'metric')
    const params = names(v, 'param')
    const repo = await optionalRepo(context)
    const result = await listExperiments({
      ...source(context),
      ...(sort !== undefined ? { sort } : {}),
      ...(flag(v, 'desc') ? { descending: true } : {}),
      ...(where !== undefined ? { where } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(metrics ? { metrics } : {}),
      ...(params ? { params } : {}),
      ...(repo ? { repo } : {}),
    })
    const rows = result.experiments.map((e) => {
      const row: Record<string, unknown> = {
        rank: e.rank,
        version: e.version,
        rows: e.rows,
        runs: e.runs.length,
      }
      for (const m of result.metrics) row[m] = e.metrics[m]?.mean ?? null
      row.params = formatParams(e)
      if (e.tag) row.tag = `${e.tag.date.slice(0, 10)} ${e.tag.subject}`
      return row
    })
    const also = result.otherTables.length > 0 ? `; also in ${result.otherTables.join(', ')}` : ''
    const ranked = result.sort
      ? `, ranked by mean ${result.sort.metric}${result.sort.descending ? ' (highest first)' : ''}`
      : ''
    const header = `${result.experiments.length} experiment(s) in ${result.db} (table ${result.table} by ${result.versionColumn}${also})${ranked}; metric columns show means`
    const columns = ['rank', 'version', 'rows', 'runs', ...result.metrics, 'params']
    if (rows.some((r) => r.tag !== undefined)) columns.push('tag')
    return { report: result, text: `${header}\n${formatTable(rows, columns)}` }
  },
}

const diff: Command = {
  path: ['exp', 'diff'],
  summary: 'Compare two experiments: params, per-metric count/mean/std and delta, runs, code',
  usage: 'BASE EXP [--db DB] [--metric M]... [--where SQL] [--repo DIR]',
  positionals: ['BASE', 'EXP'],
  options: {
    ...sourceOptions,
    metric: { type: 'string', multiple: true },
    param: { type: 'string', multiple: true },
    where: { type: 'string' },
    repo: { type: 'string' },
  },
  async run(context) {
    const v = context.values
    const [base = '', exp = ''] = context.positionals
    const metrics = names(v, 'metric')
    const params = names(v, 'param')
    const where = stringOption(v, 'where')
    const repo = await optionalRepo(context)
    const d = await diffExperiments({
      ...source(context),
      base,
      exp,
      ...(metrics ? { metrics } : {}),
      ...(params ? { params } : {}),
      ...(where !== undefined ? { where } : {}),
      ...(repo ? { repo } : {}),
    })
    const lines = [
      `${d.base} → ${d.exp} (table ${d.table} of ${d.db}): ${d.rows.base} → ${d.rows.exp} rows`,
    ]
    lines.push(d.params.length > 0 ? 'params that differ:' : 'params: no difference')
    for (const p of d.params) lines.push(`  ${p.param}: ${showParam(p.base)} → ${showParam(p.exp)}`)
    const same = Object.entries(d.sameParams).map(([k, value]) => `${k}=${showParam(value)}`)
    if (same.length > 0) lines.push(`  same: ${same.join(' ')}`)
    lines.push(
      'metrics (over all rows of each version):',
      formatTable(
        d.metrics.map((m) => ({
          metric: m.metric,
          [`n ${d.base}`]: m.base.count,
          [`mean ${d.base}`]: m.base.mean,
          [`std ${d.base}`]: m.base.std,
          [`n ${d.exp}`]: m.exp.count,
          [`mean ${d.exp}`]: m.exp.mean,
          [`std ${d.exp}`]: m.exp.std,
          delta: m.delta,
          change:
            m.relative === null
              ? ''
              : `${m.relative >= 0 ? '+' : ''}${formatNumber(m.relative * 100)}%`,
        })),
      ),
      `runs only in ${d.base}: ${d.runs.onlyInBase.join(', ') || 'none'}`,
      `runs only in ${d.exp}: ${d.runs.onlyInExp.join(', ') || 'none'}`,
    )
    if (d.runs.inBoth.length > 0) lines.push(`runs in both: ${d.runs.inBoth.join(', ')}`)
    if (d.git && 'missingTags' in d.git)
      lines.push(`code: no git tag ${d.git.missingTags.join(', ')}, so no code diff`)
    else if (d.git) {
      lines.push(`code: git diff --stat ${d.base} ${d.exp}: ${d.git.summary || 'no changes'}`)
      for (const f of d.git.files)
        lines.push(`  ${f.path}  ${f.added === null ? 'binary' : `+${f.added} -${f.deleted}`}`)
    }
    return { report: d, text: lines.join('\n') }
  },
}

function showParam(value: ParamValue): string {
  if (Array.isArray(value)) return `[${value.map((x) => formatValue(x)).join(', ')}]`
  return value === null ? '(none)' : formatValue(value as Exclude<ParamValue, readonly unknown[]>)
}

const get: Command = {
  path: ['exp', 'get'],
  summary: 'Write a file as of an experiment tag (from git objects or the DVC cache)',
  usage: '--version TAG --artifact PATH --output FILE [--repo DIR]',
  options: {
    version: { type: 'string' },
    artifact: { type: 'string' },
    output: { type: 'string' },
    repo: { type: 'string' },
  },
  async run(context) {
    const v = context.values
    const result = await getArtifact({
      version: requiredString(v, 'version'),
      artifact: requiredString(v, 'artifact'),
      output: resolve(context.cwd, requiredString(v, 'output')),
      repo: resolve(context.cwd, stringOption(v, 'repo') ?? '.'),
      signal: context.signal,
    })
    return {
      report: result,
      text: `wrote ${result.output} (${result.bytes} bytes): ${result.artifact} at ${result.version} from ${result.source === 'dvc' ? `the DVC cache, md5 ${result.md5}` : 'git'}`,
    }
  },
}

const worktree: Command = {
  path: ['exp', 'worktree'],
  summary:
    "Create git worktree ../exp-NAME on branch exp/NAME with a copy of the results DB (in a DVC project its DVC cache is the main repository's)",
  usage: 'NAME [--repo DIR] [--db DB]',
  positionals: ['NAME'],
  options: { repo: { type: 'string' }, db: { type: 'string' } },
  async run(context) {
    const v = context.values
    const db = stringOption(v, 'db')
    const result = await createExperimentWorktree({
      name: context.positionals[0] ?? '',
      repo: resolve(context.cwd, stringOption(v, 'repo') ?? '.'),
      ...(db !== undefined ? { db: resolve(context.cwd, db) } : {}),
    })
    const setup = result.dbFromGit
      ? `${result.db} (checked out from git)`
      : result.copiedFrom
        ? `${result.db} (copy of ${result.copiedFrom})`
        : `${result.db} (new: the main repository has no results database yet)`
    const cache = result.dvcCache
      ? `\n  DVC cache: ${result.dvcCache} (shared with the main repository)`
      : ''
    return {
      report: result,
      text: `created worktree ${result.path} on branch ${result.branch}\n  results: ${setup}${cache}\n  run the experiment there, then: duckmerge exp merge-back ${result.name}`,
    }
  },
}

const mergeBack: Command = {
  path: ['exp', 'merge-back'],
  summary: "Merge an experiment worktree's results DB into the main one",
  usage: 'NAME [--db DB] [--repo DIR] [--dry-run] [--remove]',
  help: "Three-way (as merge3) from the results DB as committed at the worktree's fork point (git merge-base; the file itself or its .dvc pointer), so the experiment's changes and deletions carry over; conflicts stop it with nothing written. Without a committed version it merges two-way: rows already in the main DB are skipped. --remove then deletes the worktree (refused while it has uncommitted changes other than its results) and its branch exp/NAME when git counts it merged.",
  positionals: ['NAME'],
  options: {
    repo: { type: 'string' },
    db: { type: 'string' },
    'dry-run': { type: 'boolean' },
    remove: { type: 'boolean' },
  },
  async run(context) {
    const v = context.values
    const db = stringOption(v, 'db')
    const result = await mergeBackExperiment({
      name: context.positionals[0] ?? '',
      repo: resolve(context.cwd, stringOption(v, 'repo') ?? '.'),
      ...(db !== undefined ? { db: resolve(context.cwd, db) } : {}),
      ...(flag(v, 'dry-run') ? { dryRun: true } : {}),
      ...(flag(v, 'remove') ? { remove: true } : {}),
      ...(context.progress ? { onProgress: context.progress } : {}),
      signal: context.signal,
    })
    if (result.mode === 'three-way' && result.report.hasConflicts)
      throw conflictError(result.report)
    const merged =
      result.mode === 'three-way'
        ? `three-way from ${result.forkPoint?.slice(0, 12)} (${result.baseFrom}):\n${formatMerge3(result.report)}`
        : formatMergeReport(result.report)
    const removed = result.removed
      ? `\n${result.removed.worktree ? `removed worktree ${result.worktree}` : 'worktree kept'}${result.removed.branch ? ` and branch exp/${result.name}` : ''}${result.removed.reasons.map((r) => `\n  ${r}`).join('')}`
      : ''
    return {
      report:
        result.mode === 'two-way' ? { ...result, report: mergeReportJson(result.report) } : result,
      text: `experiment ${result.name} (${result.worktree})\n${merged}${removed}`,
    }
  },
}

const plot: Command = {
  path: ['exp', 'plot'],
  summary: 'Chart a metric against a param (SVG): mean per point with a std or min–max band',
  usage:
    '--metric M --by PARAM --output chart.svg [--db DB] [--series COL|none] [--band std|minmax|none] [--x-scale auto|linear|log] [--where SQL] [--version V]...',
  options: {
    ...sourceOptions,
    metric: { type: 'string' },
    by: { type: 'string' },
    output: { type: 'string' },
    series: { type: 'string' },
    band: { type: 'string' },
    'x-scale': { type: 'string' },
    where: { type: 'string' },
    version: { type: 'string', multiple: true },
    title: { type: 'string' },
  },
  async run(context) {
    const v = context.values
    const output = resolve(context.cwd, requiredString(v, 'output'))
    if (!output.toLowerCase().endsWith('.svg'))
      throw usageError(`--output must be an .svg file, got "${requiredString(v, 'output')}"`)
    const series = stringOption(v, 'series')
    const band = oneOf<Band>(v, 'band', ['std', 'minmax', 'none'])
    const xScale = oneOf<XScale>(v, 'x-scale', ['auto', 'linear', 'log'])
    const where = stringOption(v, 'where')
    const title = stringOption(v, 'title')
    const versions = names(v, 'version')
    const result = await plotMetric({
      ...source(context),
      metric: requiredString(v, 'metric'),
      by: requiredString(v, 'by'),
      ...(series !== undefined ? { series: series === 'none' ? null : series } : {}),
      ...(band ? { band } : {}),
      ...(xScale ? { xScale } : {}),
      ...(where !== undefined ? { where } : {}),
      ...(title !== undefined ? { title } : {}),
      ...(versions ? { versions } : {}),
    })
    await writeAtomically(output, (temp) => writeFile(temp, result.svg), context.signal)
    const { svg: _svg, ...report } = result
    return {
      report: { ...report, output },
      text: `wrote ${output}: ${result.metric} by ${result.by} (${result.xAxis} axis), ${result.points.length} point(s) in ${result.series.length} series`,
    }
  },
}

export const expCommands: readonly Command[] = [tag, list, diff, get, worktree, mergeBack, plot]
