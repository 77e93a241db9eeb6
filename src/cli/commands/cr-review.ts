/** CLI commands reviewing a change request: duckmerge cr diff, duckmerge cr conflicts. */
import { conflictsOfChangeRequest } from '../../changes/conflicts-change-request.js'
import {
  type ChangeRequestDiff,
  type DiffKind,
  diffChangeRequest,
} from '../../changes/diff-change-request.js'
import { type Command, flag, intOption, listOption, stringOption, usageError } from '../command.js'
import { formatTable } from '../output.js'
import { rootFlags, rootUsage, withRoot } from './dataset.js'

const KINDS: readonly DiffKind[] = ['added', 'deleted', 'modified']

const diff: Command = {
  path: ['cr', 'diff'],
  summary: 'What a change request changes (against its base) or would change now (against main)',
  usage: `CR [--against base|main] [--summary] [--limit N] [--cursor C] [--kinds added,deleted,modified] [--columns A,B] ${rootUsage}`,
  help: `--against base (default) diffs the base version with the base plus the change; --against main diffs the head with what merging would make of it.
Rows are ordered by key, --limit (1-1000, default 100) at a time; pass the printed next cursor as --cursor for the next page (the summary comes with the first page only). A cursor from before the change request or the head moved is refused (INVALID_CURSOR).`,
  positionals: ['CR'],
  options: {
    ...rootFlags,
    against: { type: 'string' },
    summary: { type: 'boolean' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    kinds: { type: 'string', multiple: true },
    columns: { type: 'string', multiple: true },
  },
  hintFlags: { summaryOnly: 'summary' },
  async run(context) {
    const against = stringOption(context.values, 'against') ?? 'base'
    if (against !== 'base' && against !== 'main')
      throw usageError(`--against must be base or main, got "${against}"`)
    const kinds = listOption(context.values, 'kinds')
    const bad = (kinds ?? []).filter((k) => !KINDS.includes(k as DiffKind))
    if (bad.length > 0)
      throw usageError(`--kinds takes ${KINDS.join(', ')}, got "${bad.join(', ')}"`)
    const limit = intOption(context.values, 'limit', 1)
    const cursor = stringOption(context.values, 'cursor')
    const columns = listOption(context.values, 'columns')
    const result = await withRoot(context, (root) =>
      diffChangeRequest(root, String(context.positionals[0]), {
        against,
        summaryOnly: flag(context.values, 'summary'),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
        ...(kinds ? { kinds: kinds as DiffKind[] } : {}),
        ...(columns ? { columns } : {}),
      }),
    )
    return { report: result, text: diffText(result) }
  },
}

function diffText(d: ChangeRequestDiff): string {
  const lines: string[] = []
  const s = d.summary
  if (s) {
    lines.push(
      `${d.cr_id} against ${d.against} (${d.dataset}@${d.from_version}): ${s.rows_added} added, ${s.rows_deleted} deleted, ${s.rows_modified} modified, ${s.rows_unmodified} unmodified rows; ${s.cells_modified} cells modified; ${s.old_row_count} → ${s.new_row_count} rows`,
    )
    const changed = Object.entries(s.columns).filter(([, c]) => c.modified > 0)
    if (changed.length > 0)
      lines.push(
        `  modified per column: ${changed.map(([n, c]) => `${n} ${c.modified}`).join(', ')}`,
      )
    for (const c of s.schema_changes) lines.push(`  column ${c.column} ${c.change} (${c.type})`)
  }
  if (d.rows.length > 0)
    lines.push(
      formatTable(
        d.rows.map((r) => ({
          key: Object.values(r.key).map(String).join(','),
          kind: r.kind,
          changed: r.changed
            .map((c) =>
              r.kind === 'modified'
                ? `${c}: ${JSON.stringify(r.before?.[c])} → ${JSON.stringify(r.after?.[c])}`
                : c,
            )
            .join('; '),
        })),
      ),
    )
  if (d.page.next_cursor) lines.push(`next page: --cursor ${d.page.next_cursor}`)
  return lines.join('\n')
}

const conflicts: Command = {
  path: ['cr', 'conflicts'],
  summary: 'The conflicts merging a change request now would meet, with base, ours and theirs',
  usage: `CR [--rule cell|row] [--limit N] ${rootUsage}`,
  help: `Cell rule (default: the dataset's): a cell conflicts when base, ours (the head) and theirs (the change) all differ. Row rule: any key both changed differently. Kinds: cell, row, delete-update (the head deleted a row the change updates), update-delete (the change deletes a row the head updated), insert-insert, column-type. Identical changes and delete/delete are not conflicts. --limit (default 1000) caps the items listed, not the counts.`,
  positionals: ['CR'],
  options: { ...rootFlags, rule: { type: 'string' }, limit: { type: 'string' } },
  async run(context) {
    const rule = stringOption(context.values, 'rule')
    if (rule !== undefined && rule !== 'cell' && rule !== 'row')
      throw usageError(`--rule must be cell or row, got "${rule}"`)
    const limit = intOption(context.values, 'limit')
    const result = await withRoot(context, (root) =>
      conflictsOfChangeRequest(root, String(context.positionals[0]), {
        ...(rule !== undefined ? { rule } : {}),
        ...(limit !== undefined ? { limit } : {}),
      }),
    )
    const s = result.summary
    const kinds = Object.entries(s.by_kind).filter(([, n]) => n > 0)
    const head = `${result.cr_id} onto ${result.dataset}@${result.main_version} (base ${result.base_version}, ${result.rule} rule): ${s.rows} row(s), ${s.cells} cell(s) in conflict${kinds.length ? ` (${kinds.map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`
    const rows = result.items.flatMap((i) =>
      i.cells.length === 0
        ? [
            {
              key: keyText(i.key),
              kind: i.kind,
              column: '',
              base: '',
              ours: rowText(i.ours),
              theirs: rowText(i.theirs),
            },
          ]
        : i.cells.map((c) => ({
            key: keyText(i.key),
            kind: i.kind,
            column: c.column,
            base: JSON.stringify(c.base),
            ours: JSON.stringify(c.ours),
            theirs: JSON.stringify(c.theirs),
          })),
    )
    return {
      report: result,
      text: rows.length > 0 ? `${head}\n${formatTable(rows)}` : head,
    }
  },
}

function keyText(key: Readonly<Record<string, unknown>> | null): string {
  return key === null ? '' : Object.values(key).map(String).join(',')
}

function rowText(row: unknown): string {
  return row === null ? '(deleted)' : ''
}

export const crReviewCommands: readonly Command[] = [diff, conflicts]
