/** The metadata store's tables as kysely sees them (times are epoch ms, JSON is TEXT). */
import type { Generated } from 'kysely'

export interface DatasetTable {
  id: Generated<number>
  name: string
  /** JSON array of key column names. */
  key_columns: string
  /** The Delta head this row mirrors; -1 while the table is being created. */
  current_version: number
  row_count: number
  /** JSON: [{name, type, nullable}] in DuckDB types. */
  schema_json: string
  /** JSON: { conflict_rule } and later settings. */
  settings_json: string
  created_by: string | null
  created_at: number
  updated_at: number
}

export interface ValidationRuleTable {
  id: Generated<number>
  dataset_id: number
  /** Order in the rules file, so `rules --list` gives them back as set. */
  position: number
  name: string
  type: string
  severity: string
  /** The whole rule as given (validated). */
  rule_json: string
  updated_at: number
}

export interface ChangeRequestTable {
  /** cr_ + 16 lowercase letters/digits. */
  id: string
  dataset_id: number
  /** Per-dataset sequence number (1, 2, …). */
  number: number
  title: string
  author: string | null
  base_version: number
  mode: string
  revision: number
  status: string
  /** JSON: counts and new columns of the staged patch. */
  staged_json: string
  /** JSON: { code, phase, message } when status is failed. */
  failure_json: string | null
  /** JSON: the merge result reported when merged (replayed on a re-merge). */
  result_json: string | null
  merged_version: number | null
  merged_by: string | null
  merged_at: number | null
  closed_at: number | null
  created_at: number
  updated_at: number
}

export interface AuditEventTable {
  id: Generated<number>
  at: number
  actor: string | null
  action: string
  dataset_id: number | null
  cr_id: string | null
  delta_version: number | null
  details_json: string
}

export interface StoreSchema {
  datasets: DatasetTable
  validation_rules: ValidationRuleTable
  change_requests: ChangeRequestTable
  audit_events: AuditEventTable
}
