/** CLI commands: duckmerge dataset … (create, list, show, rows, rules) over a data root. */
import { createReadStream, promises as fs, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type DataRoot, openDataRoot, tmpDir } from '../../changes/data-root.js'
import { exportRows, type RowsFormat, readRows } from '../../changes/dataset-rows.js'
import { createDataset, type Dataset, getDataset, listDatasets } from '../../changes/datasets.js'
import { listRules, parseRules, setRules } from '../../changes/rules.js'
import { DuckmergeError, messageOf } from '../../errors.js'
import {
  type Command,
  type CommandContext,
  intOption,
  listOption,
  type OptionSpecs,
  requiredString,
  stringOption,
  usageError,
} from '../command.js'
import { formatTable } from '../output.js'

/** Flags every command over a data root takes. */
export const rootFlags: OptionSpecs = { root: { type: 'string' }, store: { type: 'string' } }
export const rootUsage = '[--root DIR] [--store URL] [--json]'

/** Opens the data root the flags (else DELTA_DATA_ROOT / DUCKMERGE_STORE_URL) name, for `fn`. */
export async function withRoot<T>(
  context: CommandContext,
  fn: (root: DataRoot) => Promise<T>,
): Promise<T> {
  const rootFlag = stringOption(context.values, 'root')
  const store = stringOption(context.values, 'store')
  const root = await openDataRoot({
    cwd: context.cwd,
    ...(rootFlag !== undefined ? { root: rootFlag } : {}),
    ...(store !== undefined ? { store } : {}),
  })
  try {
    return await fn(root)
  } finally {
    await root.close()
  }
}

/** The JSON shape of a dataset (snake_case, as the service will serve it). */
export function datasetReport(d: Dataset) {
  return {
    id: d.id,
    name: d.name,
    key_columns: d.keyColumns,
    current_version: d.currentVersion,
    row_count: d.rowCount,
    schema: d.schema,
    conflict_rule: d.conflictRule,
    created_by: d.createdBy,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  }
}

function datasetText(d: Dataset): string {
  const columns = d.schema.map((c) => `  ${c.name} ${c.type}${c.key ? ' (key)' : ''}`).join('\n')
  return `dataset ${d.name} (id ${d.id}): version ${d.currentVersion}, ${d.rowCount} rows, key ${d.keyColumns.join(', ')}\n${columns}`
}

const create: Command = {
  path: ['dataset', 'create'],
  summary:
    'Create a dataset (a Delta table under the data root) from a Parquet, CSV, JSONL file or Delta table',
  usage: `NAME --from FILE --key COLS [--author NAME] ${rootUsage}`,
  positionals: ['NAME'],
  options: {
    ...rootFlags,
    from: { type: 'string' },
    key: { type: 'string', multiple: true },
    author: { type: 'string' },
  },
  async run(context) {
    const key = listOption(context.values, 'key')
    if (!key) throw usageError('missing required --key')
    const author = stringOption(context.values, 'author')
    const dataset = await withRoot(context, (root) =>
      createDataset(root, {
        name: String(context.positionals[0]),
        from: requiredString(context.values, 'from'),
        key,
        ...(author !== undefined ? { createdBy: author } : {}),
      }),
    )
    return { report: datasetReport(dataset), text: `created ${datasetText(dataset)}` }
  },
}

const list: Command = {
  path: ['dataset', 'list'],
  summary: 'List the datasets of the data root',
  usage: rootUsage,
  options: rootFlags,
  async run(context) {
    const datasets = await withRoot(context, listDatasets)
    const text =
      datasets.length === 0
        ? 'no datasets'
        : formatTable(
            datasets.map((d) => ({
              name: d.name,
              id: d.id,
              version: d.currentVersion,
              rows: d.rowCount,
              key: d.keyColumns.join(','),
            })),
          )
    return { report: { datasets: datasets.map(datasetReport) }, text }
  },
}

const show: Command = {
  path: ['dataset', 'show'],
  summary: 'Show a dataset: version, row count, key and schema (synced with its Delta head)',
  usage: `NAME ${rootUsage}`,
  positionals: ['NAME'],
  options: rootFlags,
  async run(context) {
    const dataset = await withRoot(context, (root) =>
      getDataset(root, String(context.positionals[0])),
    )
    return { report: datasetReport(dataset), text: datasetText(dataset) }
  },
}

const rows: Command = {
  path: ['dataset', 'rows'],
  summary: 'Print the rows of a dataset (every row unless limited), ordered by key',
  usage: `NAME [--version N] [--limit N] [--format jsonl|csv] ${rootUsage}`,
  positionals: ['NAME'],
  options: {
    ...rootFlags,
    version: { type: 'string' },
    limit: { type: 'string' },
    format: { type: 'string' },
  },
  async run(context) {
    const format = stringOption(context.values, 'format') ?? 'jsonl'
    if (format !== 'jsonl' && format !== 'csv')
      throw usageError(`--format must be jsonl or csv, got "${format}"`)
    const version = intOption(context.values, 'version')
    const limit = intOption(context.values, 'limit')
    const options = {
      ...(version !== undefined ? { version } : {}),
      ...(limit !== undefined ? { limit } : {}),
    }
    return withRoot(context, async (root) => {
      const dataset = await getDataset(root, String(context.positionals[0]))
      if (context.json) {
        const page = await readRows(dataset, {
          ...options,
          limit: limit ?? Number.MAX_SAFE_INTEGER,
        })
        return {
          report: { dataset: dataset.name, version: page.version, rows: page.rows },
          text: '',
        }
      }
      // DuckDB writes the file; it is streamed to stdout without passing rows through JS objects.
      await fs.mkdir(tmpDir(root), { recursive: true })
      const file = join(tmpDir(root), `rows-${process.pid}-${Date.now()}.${format}`)
      try {
        await exportRows(dataset, file, format as RowsFormat, options)
        const size = (await fs.stat(file)).size
        // main() prints the final newline after the returned text.
        if (size > 1) await pipeToStdout(file, size - 1)
      } finally {
        await fs.rm(file, { force: true })
      }
      return { report: null, text: '' }
    })
  },
}

async function pipeToStdout(file: string, end: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file, { start: 0, end: end - 1 })
    stream.on('error', reject)
    stream.on('end', resolve)
    stream.pipe(process.stdout, { end: false })
  })
}

const rules: Command = {
  path: ['dataset', 'rules'],
  summary: 'Set (from a JSON file) or list the validation rules merges must pass',
  usage: `NAME (--set rules.json | --list) ${rootUsage}`,
  positionals: ['NAME'],
  options: {
    ...rootFlags,
    set: { type: 'string' },
    list: { type: 'boolean' },
    author: { type: 'string' },
  },
  async run(context) {
    const file = stringOption(context.values, 'set')
    return withRoot(context, async (root) => {
      const dataset = await getDataset(root, String(context.positionals[0]))
      if (file !== undefined) {
        let document: unknown
        try {
          document = JSON.parse(readFileSync(file, 'utf8'))
        } catch (error) {
          throw new DuckmergeError(
            (error as { code?: string }).code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE',
            `Cannot read rules file ${file}: ${messageOf(error)}`,
            { file },
          )
        }
        const parsed = await parseRules(dataset, document, file)
        const author = stringOption(context.values, 'author')
        await setRules(root, dataset, parsed, author)
      }
      const current = await listRules(root, dataset)
      const text =
        current.length === 0
          ? `dataset ${dataset.name} has no rules`
          : formatTable(current.map((r) => ({ name: r.name, type: r.type, severity: r.severity })))
      return { report: { dataset: dataset.name, rules: current }, text }
    })
  },
}

export const datasetCommands: readonly Command[] = [create, list, show, rows, rules]
