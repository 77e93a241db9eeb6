/** CLI command: duckmerge migrate SRC.db DEST.duckdb (SQLite → DuckDB, with a report). */
import { resolve } from 'node:path'
import {
  type MigrationReport,
  migrateSqliteToDuckDb,
  type NestRows,
} from '../../formats/sqlite/migrate.js'
import { type Command, flag, intOption, listOption, multiOption, usageError } from '../command.js'
import { formatTable } from '../output.js'

const migrate: Command = {
  path: ['migrate'],
  summary:
    'Migrate a SQLite database to a new DuckDB file: types checked per value, keys, indexes, sequences, views; a report with row counts and checksums of both sides',
  usage:
    'SRC.db DEST.duckdb [--table T]... [--nest-rows TABLE:KEY_COLS:NAME_COL:VALUE_COL]... [--struct PREFIX]... [--force] [--dry-run] [--json]',
  positionals: ['SRC', 'DEST'],
  options: {
    table: { type: 'string', multiple: true },
    'nest-rows': { type: 'string', multiple: true },
    struct: { type: 'string', multiple: true },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'busy-timeout-ms': { type: 'string' },
  },
  hintFlags: { tables: 'table', nestRows: 'nest-rows', structs: 'struct' },
  async run(context) {
    const [src, dest] = context.positionals
    const { values } = context
    const tables = listOption(values, 'table')
    const busy = intOption(values, 'busy-timeout-ms')
    const report = await migrateSqliteToDuckDb({
      source: resolve(context.cwd, src ?? ''),
      target: resolve(context.cwd, dest ?? ''),
      ...(tables ? { tables } : {}),
      nestRows: multiOption(values, 'nest-rows').map(parseNest),
      structs: multiOption(values, 'struct'),
      dryRun: flag(values, 'dry-run'),
      force: flag(values, 'force'),
      ...(busy !== undefined ? { busyTimeoutMs: busy } : {}),
      ...(context.progress ? { onProgress: context.progress } : {}),
    })
    return { report, text: formatMigration(report) }
  },
}

export const migrateCommands: readonly Command[] = [migrate]

/** `words:message_id,turn:word:count` → { table, key, name, value }. */
export function parseNest(text: string): NestRows {
  const parts = text.split(':')
  const [table, key, name, value] = parts
  if (parts.length !== 4 || !table || !key || !name || !value)
    throw usageError(
      `--nest-rows takes TABLE:KEY_COLS:NAME_COL:VALUE_COL (key columns comma-separated), got "${text}"`,
    )
  return { table, key: key.split(',').map((k) => k.trim()), name, value }
}

function formatMigration(report: MigrationReport): string {
  const lines = [
    `${report.dryRun ? 'Plan (dry run, nothing written)' : 'Migrated'}: ${report.source} → ${report.target}`,
    '',
    formatTable(
      report.tables.map((t) => ({
        table: t.name,
        'rows read': t.rowsRead,
        'rows written': t.rowsWritten,
        'checksum sqlite': t.checksum.source,
        'checksum duckdb': 'target' in t.checksum ? t.checksum.target : '',
        match: 'matches' in t.checksum ? (t.checksum.matches ? 'yes' : 'NO') : '',
      })),
    ),
  ]
  const columns = report.tables.flatMap((t) =>
    t.columns.map((c) => ({
      column: `${t.name}.${c.name}`,
      declared: c.declaredType,
      duckdb: c.type,
      why: c.reason ?? '',
    })),
  )
  lines.push('', 'Columns:', formatTable(columns))
  const extras: string[] = []
  for (const t of report.tables) {
    if (t.sequence)
      extras.push(
        `${t.name}.${t.sequence.column}: sequence ${t.sequence.name} starts at ${t.sequence.start}`,
      )
    if (t.primaryKeySkipped)
      extras.push(`${t.name}: primary key not recreated: ${t.primaryKeySkipped}`)
    for (const i of t.indexes)
      extras.push(
        `${t.name}: ${i.unique ? 'unique index' : 'index'} ${i.name} (${i.columns.join(', ')})${i.skipped ? ` skipped: ${i.skipped}` : ''}`,
      )
    if (t.nested)
      extras.push(
        `${t.name}: rows nested into MAP column ${t.nested.column}${t.nested.rows !== undefined ? ` (${t.nested.rows} rows)` : ''}; undo: ${t.nested.unnest}`,
      )
    for (const s of t.structs)
      extras.push(
        `${t.name}: STRUCT ${s.column} from ${s.fields.map((f) => f.from).join(', ')}; undo: select ${s.unnest}`,
      )
  }
  for (const v of report.views)
    extras.push(
      `view ${v.name}: ${v.status}${'reason' in v && v.reason ? ` (${v.reason})` : ''}${'rows' in v && v.rows ? ` rows ${v.rows.source} in SQLite, ${v.rows.target} in DuckDB` : ''}`,
    )
  for (const s of report.skipped) extras.push(`skipped ${s.kind} ${s.name}: ${s.reason}`)
  if (extras.length > 0) lines.push('', ...extras)
  lines.push(
    '',
    `${report.rowsRead} rows read, ${report.rowsWritten} written in ${(report.elapsedMs / 1000).toFixed(1)} s`,
  )
  return lines.join('\n')
}
