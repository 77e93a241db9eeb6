/**
 * The report every merge and rebase returns. Field names are a contract: scripts read them from
 * `--json` output.
 */

export type Strategy = 'merge' | 'rebase'

/** Figures for one table (or one dataset). */
export interface TableReport {
  readonly table: string
  readonly rowsBefore: number
  readonly rowsInserted: number
  /** Ours rows superseded by theirs rows with the same key (rebase only; 0 for merge). */
  readonly rowsReplaced: number
  /** Theirs rows not inserted because their key is already present (merge only). */
  readonly rowsSkipped: number
  readonly rowsAfter: number
  readonly columnsAdded: readonly string[]
  /** True when the table did not exist in ours and was created. */
  readonly created?: boolean
}

/** Totals over all tables, plus the per-table figures where several were processed. */
export interface MergeReport {
  readonly strategy: Strategy
  readonly dryRun: boolean
  readonly ours: string
  readonly theirs: string
  /** Where the result was written (ours itself when merging in place). */
  readonly output: string
  readonly rowsBefore: number
  readonly rowsInserted: number
  readonly rowsReplaced: number
  readonly rowsSkipped: number
  readonly rowsAfter: number
  /** Union of the columns added, as `table.column` when several tables were processed. */
  readonly columnsAdded: readonly string[]
  readonly durationMs: number
  readonly tables?: readonly TableReport[]
  /** Datasets: the result's columns and types (a dry run shows what the write would give). */
  readonly schema?: readonly { readonly name: string; readonly type: string }[]
  /**
   * Datasets: columns both sides have whose type differs, `from` ours' type `to` the result's
   * (merge widens; rebase takes theirs', the newer side's).
   */
  readonly typesChanged?: readonly {
    readonly column: string
    readonly from: string
    readonly to: string
  }[]
}

/** Sums per-table figures into a report's totals. */
export function totals(
  tables: readonly TableReport[],
): Pick<
  MergeReport,
  'rowsBefore' | 'rowsInserted' | 'rowsReplaced' | 'rowsSkipped' | 'rowsAfter' | 'columnsAdded'
> {
  const several = tables.length > 1
  return {
    rowsBefore: sum(tables, (t) => t.rowsBefore),
    rowsInserted: sum(tables, (t) => t.rowsInserted),
    rowsReplaced: sum(tables, (t) => t.rowsReplaced),
    rowsSkipped: sum(tables, (t) => t.rowsSkipped),
    rowsAfter: sum(tables, (t) => t.rowsAfter),
    columnsAdded: tables.flatMap((t) =>
      t.columnsAdded.map((c) => (several ? `${t.table}.${c}` : c)),
    ),
  }
}

function sum(tables: readonly TableReport[], pick: (t: TableReport) => number): number {
  return tables.reduce((acc, t) => acc + pick(t), 0)
}

/** The short human summary the CLI prints without --json. */
export function formatMergeReport(report: MergeReport): string {
  const lines = [
    `${report.strategy}${report.dryRun ? ' (dry run, nothing written)' : ''}: ${report.theirs} → ${report.output}`,
    `  rows: ${report.rowsBefore} before, +${report.rowsInserted} inserted, ${report.rowsReplaced} replaced, ${report.rowsSkipped} skipped, ${report.rowsAfter} after`,
  ]
  if (report.columnsAdded.length > 0)
    lines.push(`  columns added: ${report.columnsAdded.join(', ')}`)
  if (report.typesChanged && report.typesChanged.length > 0)
    lines.push(
      `  types changed: ${report.typesChanged.map((t) => `${t.column} ${t.from} → ${t.to}`).join(', ')}`,
    )
  if (report.dryRun && report.schema)
    lines.push(`  schema: ${report.schema.map((c) => `${c.name} ${c.type}`).join(', ')}`)
  if (report.tables && report.tables.length > 1) {
    for (const t of report.tables)
      lines.push(
        `  ${t.table}${t.created ? ' (new)' : ''}: ${t.rowsBefore} → ${t.rowsAfter} (+${t.rowsInserted}, ${t.rowsReplaced} replaced, ${t.rowsSkipped} skipped)`,
      )
  }
  lines.push(`  took ${report.durationMs} ms`)
  return lines.join('\n')
}
