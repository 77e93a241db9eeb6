/** Audit events: one append-only store row per state change, written in that change's transaction. */
import type { StoreDb, StoreTx } from '../store/store.js'

export type AuditAction =
  | 'dataset.create'
  | 'dataset.resync'
  | 'rules.update'
  | 'cr.create'
  | 'cr.close'
  | 'cr.reopen'
  | 'cr.revise'
  | 'merge.requested'
  | 'merge.conflict'
  | 'merge.validation_failed'
  | 'merge.succeeded'
  | 'merge.failed'
  | 'merge.recovered'

export interface AuditEventInput {
  readonly action: AuditAction
  readonly actor?: string | null
  readonly datasetId?: number | null
  readonly crId?: string | null
  readonly deltaVersion?: number | null
  readonly details?: Readonly<Record<string, unknown>>
}

export interface AuditEvent {
  readonly id: number
  readonly at: string
  readonly action: string
  readonly actor: string | null
  readonly dataset_id: number | null
  readonly cr_id: string | null
  readonly delta_version: number | null
  readonly details: Record<string, unknown>
}

/** Appends one event. Code never updates or deletes these rows. */
export async function addAuditEvent(db: StoreDb | StoreTx, event: AuditEventInput): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      at: Date.now(),
      actor: event.actor ?? null,
      action: event.action,
      dataset_id: event.datasetId ?? null,
      cr_id: event.crId ?? null,
      delta_version: event.deltaVersion ?? null,
      details_json: JSON.stringify(event.details ?? {}),
    })
    .execute()
}

/** The events of a change request, oldest first. */
export async function auditEventsOf(db: StoreDb, crId: string): Promise<AuditEvent[]> {
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('cr_id', '=', crId)
    .orderBy('id')
    .execute()
  return rows.map((r) => ({
    id: Number(r.id),
    at: new Date(Number(r.at)).toISOString(),
    action: r.action,
    actor: r.actor,
    dataset_id: r.dataset_id === null ? null : Number(r.dataset_id),
    cr_id: r.cr_id,
    delta_version: r.delta_version === null ? null : Number(r.delta_version),
    details: JSON.parse(r.details_json) as Record<string, unknown>,
  }))
}
