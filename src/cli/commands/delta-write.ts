/** CLI commands: duckmerge delta … (writing: create, append, overwrite, delete, vacuum, checkpoint) */
import { resolve } from 'node:path'
import { appendTable } from '../../formats/delta/operations/append.js'
import { checkpoint } from '../../formats/delta/operations/checkpoint.js'
import { createTable } from '../../formats/delta/operations/create.js'
import { deleteWhere } from '../../formats/delta/operations/delete.js'
import { overwriteTable } from '../../formats/delta/operations/overwrite.js'
import { vacuum } from '../../formats/delta/operations/vacuum.js'
import type { WriteOptions, WriteResult } from '../../formats/delta/operations/write-context.js'
import type { Compression } from '../../formats/delta/write-files.js'
import {
  type Command,
  type CommandContext,
  flag,
  intOption,
  listOption,
  multiOption,
  numberOption,
  type OptionSpecs,
  requiredString,
  stringOption,
  usageError,
} from '../command.js'

const writeFlags: OptionSpecs = {
  'app-id': { type: 'string' },
  'txn-version': { type: 'string' },
  'checkpoint-interval': { type: 'string' },
  compression: { type: 'string' },
  'user-metadata': { type: 'string' },
}
/** Said on the first Ctrl-C by the commands that write data files. */
const onInterrupt = 'stopping: the table stays at its version unless the commit was already made'
const writeUsage =
  '[--app-id ID --txn-version N] [--checkpoint-interval N] [--compression zstd|snappy|gzip|uncompressed] [--user-metadata TEXT] [--json]'

const create: Command = {
  path: ['delta', 'create'],
  onInterrupt,
  summary: 'Create a Delta table from a Parquet, CSV or JSON file (version 0)',
  usage: `PATH --from FILE [--partition-by COLS] [--property KEY=VALUE]... ${writeUsage}`,
  positionals: ['PATH'],
  options: {
    ...writeFlags,
    from: { type: 'string' },
    'partition-by': { type: 'string', multiple: true },
    property: { type: 'string', multiple: true },
  },
  async run(context) {
    const partitionBy = listOption(context.values, 'partition-by')
    const result = await createTable({
      ...writeOptions(context),
      source: { file: fromFile(context) },
      ...(partitionBy ? { partitionBy } : {}),
      properties: properties(context),
    })
    return written(context, 'created', result)
  },
}

const append: Command = {
  path: ['delta', 'append'],
  onInterrupt,
  summary: 'Append the rows of a file to a Delta table in one commit',
  usage: `PATH --from FILE [--merge-schema] ${writeUsage}`,
  positionals: ['PATH'],
  options: { ...writeFlags, from: { type: 'string' }, 'merge-schema': { type: 'boolean' } },
  async run(context) {
    const result = await appendTable({
      ...writeOptions(context),
      source: { file: fromFile(context) },
      mergeSchema: flag(context.values, 'merge-schema'),
    })
    return written(context, 'appended to', result)
  },
}

const overwrite: Command = {
  path: ['delta', 'overwrite'],
  onInterrupt,
  summary: 'Replace a Delta table (or the rows --where selects) with the rows of a file',
  usage: `PATH --from FILE [--where SQL] [--merge-schema] [--overwrite-schema] ${writeUsage}`,
  positionals: ['PATH'],
  options: {
    ...writeFlags,
    from: { type: 'string' },
    where: { type: 'string' },
    'merge-schema': { type: 'boolean' },
    'overwrite-schema': { type: 'boolean' },
  },
  async run(context) {
    const where = stringOption(context.values, 'where')
    const result = await overwriteTable({
      ...writeOptions(context),
      source: { file: fromFile(context) },
      ...(where !== undefined ? { where } : {}),
      mergeSchema: flag(context.values, 'merge-schema'),
      overwriteSchema: flag(context.values, 'overwrite-schema'),
    })
    return written(context, 'overwrote', result)
  },
}

const del: Command = {
  path: ['delta', 'delete'],
  onInterrupt,
  summary: 'Delete the rows matching --where SQL, rewriting only the files that hold them',
  usage: `PATH --where SQL ${writeUsage}`,
  positionals: ['PATH'],
  options: { ...writeFlags, where: { type: 'string' } },
  async run(context) {
    const result = await deleteWhere({
      ...writeOptions(context),
      where: requiredString(context.values, 'where'),
    })
    return written(context, 'deleted from', result)
  },
}

const vacuumCommand: Command = {
  path: ['delta', 'vacuum'],
  summary: 'Delete data files the table no longer references, older than the retention',
  usage: 'PATH [--retention-hours H] [--dry-run] [--force] [--json]',
  positionals: ['PATH'],
  options: {
    'retention-hours': { type: 'string' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
  },
  async run(context) {
    const retentionHours = numberOption(context.values, 'retention-hours')
    const result = await vacuum({
      path: tablePath(context),
      ...(retentionHours !== undefined ? { retentionHours } : {}),
      dryRun: flag(context.values, 'dry-run'),
      force: flag(context.values, 'force'),
    })
    const verb = result.dryRun ? 'would delete' : 'deleted'
    const list = result.files.map((f) => `  ${f}`).join('\n')
    return {
      report: result,
      text: `vacuum ${tablePath(context)} (version ${result.version}): ${verb} ${result.files.length} file(s)${list ? `\n${list}` : ''}`,
    }
  },
}

const checkpointCommand: Command = {
  path: ['delta', 'checkpoint'],
  summary: 'Write a Parquet checkpoint of the latest version',
  usage: 'PATH [--json]',
  positionals: ['PATH'],
  options: {},
  async run(context) {
    const result = await checkpoint(tablePath(context))
    const report = {
      version: result.version,
      operation: 'CHECKPOINT',
      metrics: {
        numActions: result.size,
        numOfAddFiles: result.numOfAddFiles,
        sizeInBytes: result.sizeInBytes,
      },
      path: result.path,
    }
    return {
      report,
      text: `checkpoint of ${tablePath(context)} at version ${result.version}: ${result.size} actions, ${result.numOfAddFiles} files (${result.path})`,
    }
  },
}

export const deltaWriteCommands: readonly Command[] = [
  create,
  append,
  overwrite,
  del,
  vacuumCommand,
  checkpointCommand,
]

function tablePath(context: CommandContext): string {
  const path = context.positionals[0]
  if (!path) throw usageError('missing the table PATH')
  return resolve(context.cwd, path)
}

function fromFile(context: CommandContext): string {
  return resolve(context.cwd, requiredString(context.values, 'from'))
}

const compressions: readonly Compression[] = ['zstd', 'snappy', 'gzip', 'uncompressed']

function writeOptions(context: CommandContext): WriteOptions {
  const { values } = context
  const appId = stringOption(values, 'app-id')
  const txnVersion = intOption(values, 'txn-version')
  if ((appId === undefined) !== (txnVersion === undefined))
    throw usageError('--app-id and --txn-version go together (an idempotent write names both)')
  const interval = intOption(values, 'checkpoint-interval', 0)
  const compression = stringOption(values, 'compression')
  const userMetadata = stringOption(values, 'user-metadata')
  if (compression !== undefined && !compressions.includes(compression as Compression))
    throw usageError(
      `--compression must be one of ${compressions.join(', ')}, got "${compression}"`,
    )
  return {
    path: tablePath(context),
    ...(appId !== undefined && txnVersion !== undefined
      ? { txn: { appId, version: txnVersion } }
      : {}),
    ...(interval !== undefined ? { checkpointInterval: interval } : {}),
    ...(compression !== undefined ? { compression: compression as Compression } : {}),
    ...(context.progress ? { onProgress: context.progress } : {}),
    // Spark's commitInfo.userMetadata, shown by `delta history`.
    ...(userMetadata !== undefined ? { commitInfo: { userMetadata } } : {}),
    signal: context.signal,
  }
}

function properties(context: CommandContext): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of multiOption(context.values, 'property')) {
    const eq = entry.indexOf('=')
    if (eq <= 0) throw usageError(`--property takes KEY=VALUE, got "${entry}"`)
    out[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return out
}

function written(context: CommandContext, verb: string, result: WriteResult) {
  const path = tablePath(context)
  const m = result.metrics
  const text = result.skipped
    ? `nothing committed to ${path}: ${Object.keys(m).length === 0 ? 'this txn was already applied' : 'no row matched'} (version ${result.version})`
    : `${verb} ${path}: version ${result.version} (${result.operation}; ${Object.entries(m)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ', ',
        )})${result.checkpointError ? `\nwarning: the checkpoint after this commit failed: ${result.checkpointError}` : ''}`
  return { report: result, text }
}
