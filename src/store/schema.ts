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

export interface UserTable {
  id: Generated<number>
  name: string
  /** 1 for admins (manage users and tokens), else 0. */
  is_admin: number
  created_at: number
  disabled_at: number | null
}

export interface ApiTokenTable {
  /** The public part of the token (`dm_<id>_<secret>`), 12 base64url characters. */
  id: string
  user_id: number
  label: string | null
  /** hex: 16 random bytes. */
  salt: string
  /** hex: scrypt(secret, salt), 32 bytes. The secret itself is never stored. */
  hash: string
  /** 'user', or 'service' (may only call the seed's POST /delta/merge-cr). */
  scope: string
  created_at: number
  last_used_at: number | null
  revoked_at: number | null
}

export interface ProjectTable {
  id: Generated<number>
  name: string
  created_by: number
  created_at: number
}

export interface ProjectMemberTable {
  project_id: number
  user_id: number
  /** owner | contributor | viewer */
  role: string
  added_at: number
}

/** Which project a dataset belongs to (datasets made by the CLI belong to none). */
export interface ProjectDatasetTable {
  dataset_id: number
  project_id: number
}

export interface OperationTable {
  /** op_ + 16 lowercase letters/digits. */
  id: string
  /** 'merge' */
  kind: string
  cr_id: string | null
  dataset_id: number | null
  requested_by: number
  /** JSON: the request body (merge options). */
  request_json: string
  idempotency_key: string | null
  /** queued | running | succeeded | failed */
  status: string
  phase: string | null
  /** JSON: the 200 body. */
  result_json: string | null
  /** JSON: { status, body } of the failure response. */
  error_json: string | null
  /** host:pid of the server that ran it. */
  instance: string | null
  created_at: number
  finished_at: number | null
}

export interface StoreSchema {
  datasets: DatasetTable
  validation_rules: ValidationRuleTable
  change_requests: ChangeRequestTable
  audit_events: AuditEventTable
  users: UserTable
  api_tokens: ApiTokenTable
  projects: ProjectTable
  project_members: ProjectMemberTable
  project_datasets: ProjectDatasetTable
  operations: OperationTable
}
