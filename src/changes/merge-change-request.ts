/**
 * Merging a change request: a keyed three-way merge (base = dataset@base_version, ours =
 * dataset@head, theirs = base with the patch applied) by the engine in merge/three-way.ts, then
 * one Delta MERGE commit of the merged rows of the keys the change touches.
 *
 *   status → merging (CAS) → three-way plan → conflicts? → status conflict, MERGE_CONFLICT
 *     → patch rows to Parquet → Delta MERGE (delete / update / insert by key) → status merged
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { DuckDb } from '../engine/duckdb.js'
import { DuckDbConnection } from '../engine/duckdb-dialect.js'
import { ident, identList, literal, sql } from '../engine/sql.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { merge } from '../formats/delta/operations/merge/merge.js'
import { registerSnapshot } from '../formats/delta/scan.js'
import { threeWayMerge } from '../merge/three-way.js'
import { relationSql } from '../merge/three-way-sql.js'
import type { Conflict, MergeRule, Side } from '../merge/three-way-types.js'
import { type ChangeRequest, getChangeRequest, stagedFile, transition } from './change-requests.js'
import { type DataRoot, stagingDir } from './data-root.js'
import { datasetSnapshot } from './dataset-rows.js'
import { getDatasetById, syncDataset } from './datasets.js'
import { OP_COLUMN } from './upload.js'

export interface MergeChangeRequestOptions {
  /** Settle every conflict for one side. */
  readonly take?: Side
  /** Same as take theirs (conflicts still reported). */
  readonly force?: boolean
  /** Default: the dataset's rule. */
  readonly rule?: MergeRule
  /** Allow the new columns the change request brings. */
  readonly mergeSchema?: boolean
  readonly requestedBy?: string
  /** Plan and report only: nothing written, status unchanged. */
  readonly dryRun?: boolean
}

export interface MergeReport {
  readonly status: 'merged' | 'dry_run'
  readonly cr_id: string
  readonly merged_version: number | null
  readonly commit_id: string | null
  readonly rows_affected: number
  readonly diff: {
    readonly version_before: number
    readonly version_after: number
    readonly rows_added: number
    readonly rows_updated: number
    readonly rows_deleted: number
  }
  readonly conflicts: { readonly total: number; readonly rule: MergeRule }
  readonly idempotent_replay: boolean
}

/**
 * Merges the change request into its dataset. Conflicts left unsettled throw MERGE_CONFLICT
 * (items in `details.conflicts`, status `conflict`); a merged change request replays its result.
 *
 * @example
 * const report = await mergeChangeRequest(root, 'cr_8k2m4q7w1z9x3c5v', { requestedBy: 'ann' })
 * report.commit_id // 'v3'
 */
export async function mergeChangeRequest(
  root: DataRoot,
  crId: string,
  options: MergeChangeRequestOptions = {},
): Promise<MergeReport> {
  const cr = await getChangeRequest(root, crId)
  if (cr.status === 'merged' && cr.result)
    return { ...(cr.result as unknown as MergeReport), idempotent_replay: true }
  if (cr.status === 'closed' || cr.status === 'merging')
    throw new DuckmergeError(
      'INVALID_STATE',
      `Change request ${cr.id} is ${cr.status}; it cannot be merged now.`,
      {
        cr_id: cr.id,
        status: cr.status,
      },
    )
  const dataset = await getDatasetById(root, cr.datasetId)
  const rule = options.rule ?? dataset.conflictRule
  if (cr.staged.new_columns.length > 0 && options.mergeSchema !== true)
    throw new DuckmergeError(
      'SCHEMA_MISMATCH',
      `Change request ${cr.id} adds column(s) ${cr.staged.new_columns.map((c) => `"${c.name}"`).join(', ')} to dataset "${dataset.name}".`,
      {
        cr_id: cr.id,
        columns: cr.staged.new_columns,
        hint: 'Allow the schema change with {mergeSchema}.',
      },
    )
  const base = await datasetSnapshot(dataset, cr.baseVersion)
  const ours = await datasetSnapshot(dataset)
  const keys = dataset.keyColumns
  const db = await DuckDb.open()
  const connection = new DuckDbConnection(db)
  const patchFile = join(stagingDir(root, dataset.id, cr.id), `merge-r${cr.revision}.parquet`)
  try {
    await registerSnapshot(db, base, '__dm_base_scan')
    await registerSnapshot(db, ours, '__dm_ours_scan')
    await db.run(sql`CREATE VIEW base AS SELECT * FROM __dm_base_scan`)
    await db.run(sql`CREATE VIEW ours AS SELECT * FROM __dm_ours_scan`)
    await db.run(
      sql`CREATE VIEW patch AS SELECT * FROM read_parquet(${literal(stagedFile(root, cr))})`,
    )
    await db.run(
      sql`CREATE VIEW theirs AS ${theirsSql(
        dataset.schema.map((c) => c.name),
        cr,
        keys,
      )}`,
    )
    const rel = (name: string) => ({ schema: 'memory', name })
    const take = options.force ? 'theirs' : options.take
    const { plan, conflicts } = await threeWayMerge({
      connection,
      table: dataset.name,
      base: rel('base'),
      ours: rel('ours'),
      theirs: rel('theirs'),
      key: keys,
      rule,
      ...(take ? { take } : {}),
    })
    try {
      if (plan.hasConflicts) {
        if (!options.dryRun)
          await transition(
            root.store.db,
            cr,
            ['pending', 'conflict', 'failed'],
            'conflict',
            {
              action: 'merge.conflict',
              actor: options.requestedBy ?? null,
              deltaVersion: ours.version,
              details: { conflicts: plan.conflictCount },
            },
            {
              failure_json: JSON.stringify({
                code: 'merge_conflict',
                conflicts: plan.conflictCount,
              }),
            },
          )
        throw new DuckmergeError(
          'MERGE_CONFLICT',
          `${plan.unresolved} conflict(s) between dataset "${dataset.name}"@${ours.version} and ${cr.id} (base ${cr.baseVersion}).`,
          {
            cr_id: cr.id,
            base_version: cr.baseVersion,
            main_version: ours.version,
            rule,
            conflicts: conflicts.map(conflictItem),
            hint: 'Settle them with {take} ours|theirs or {force}.',
          },
        )
      }
      const diffCounts = await db.one<{ ins: bigint; upd: bigint; del: bigint }>(
        sql`SELECT count(*) FILTER (WHERE p."__tw_op" = 'upsert' AND o.${ident(keys[0] as string)} IS NULL) AS ins,
                   count(*) FILTER (WHERE p."__tw_op" = 'upsert' AND o.${ident(keys[0] as string)} IS NOT NULL) AS upd,
                   count(*) FILTER (WHERE p."__tw_op" = 'delete' AND o.${ident(keys[0] as string)} IS NOT NULL) AS del
            FROM ${relationSql(plan.patch)} p LEFT JOIN ours o ON ${keysEqual(keys)}`,
      )
      const added = Number(diffCounts?.ins ?? 0)
      const updated = Number(diffCounts?.upd ?? 0)
      const deleted = Number(diffCounts?.del ?? 0)
      if (options.dryRun)
        return report(
          cr,
          'dry_run',
          null,
          ours.version,
          ours.version,
          added,
          updated,
          deleted,
          plan.conflictCount,
          rule,
        )
      await transition(root.store.db, cr, ['pending', 'conflict', 'failed'], 'merging', {
        action: 'merge.requested',
        actor: options.requestedBy ?? null,
        deltaVersion: ours.version,
      })
      const columns = plan.columns.map((c) => c.name)
      await db.run(
        sql`COPY (SELECT ${identList(columns)}, "__tw_op" AS ${ident(OP_COLUMN)} FROM ${relationSql(plan.patch)} WHERE "__tw_op" IN ('upsert', 'delete'))
          TO ${literal(patchFile)} (FORMAT parquet)`,
      )
      let version = ours.version
      try {
        const set = Object.fromEntries(columns.map((c) => [c, sql`source.${ident(c)}`]))
        const result = await merge(dataset.tablePath, patchFile, {
          on: keys,
          mergeSchema: options.mergeSchema === true,
        })
          .whenMatchedDelete(`source.${OP_COLUMN} = 'delete'`)
          .whenMatchedUpdate(set)
          .whenNotMatchedInsert(set, `source.${OP_COLUMN} = 'upsert'`)
          .execute()
        version = result.version
      } catch (error) {
        await transition(
          root.store.db,
          { ...cr, status: 'merging' },
          ['merging'],
          'failed',
          {
            action: 'merge.failed',
            actor: options.requestedBy ?? null,
            details: { message: messageOf(error) },
          },
          {
            failure_json: JSON.stringify({
              code: 'merge_failed',
              phase: 'write',
              message: messageOf(error),
            }),
          },
        )
        throw error
      }
      const merged = report(
        cr,
        'merged',
        version,
        ours.version,
        version,
        added,
        updated,
        deleted,
        plan.conflictCount,
        rule,
      )
      await transition(
        root.store.db,
        { ...cr, status: 'merging' },
        ['merging'],
        'merged',
        { action: 'merge.succeeded', actor: options.requestedBy ?? null, deltaVersion: version },
        {
          merged_version: version,
          merged_by: options.requestedBy ?? null,
          merged_at: Date.now(),
          result_json: JSON.stringify(merged),
          failure_json: null,
        },
      )
      await syncDataset(root, dataset.id)
      return merged
    } finally {
      await plan.dispose()
    }
  } finally {
    await fs.rm(patchFile, { force: true })
    db.close()
  }
}

/** Theirs: base with the patch applied; columns the upload lacks keep base's values. */
function theirsSql(schemaColumns: readonly string[], cr: ChangeRequest, keys: readonly string[]) {
  const carried = new Set(cr.staged.columns)
  const cols = schemaColumns.map((c) => (carried.has(c) ? sql`p.${ident(c)}` : sql`b.${ident(c)}`))
  const extra = cr.staged.new_columns.map((c) => sql`p.${ident(c.name)}`)
  const all = [...cols, ...extra]
  return sql`SELECT b.* FROM base b WHERE NOT EXISTS (SELECT 1 FROM patch p WHERE ${keysEqual(keys, 'p', 'b')})
    UNION ALL BY NAME
    SELECT ${sql`${all.reduce((a, b) => sql`${a}, ${b}`)}`} FROM patch p LEFT JOIN base b ON ${keysEqual(keys, 'p', 'b')}
    WHERE p.${ident(OP_COLUMN)} = 'upsert'`
}

function keysEqual(keys: readonly string[], a = 'p', b = 'o') {
  return keys
    .map((k) => sql`${ident(a)}.${ident(k)} = ${ident(b)}.${ident(k)}`)
    .reduce((x, y) => sql`${x} AND ${y}`)
}

function conflictItem(c: Conflict) {
  if (c.kind === 'cell' || c.kind === 'add-add')
    return {
      key: c.key,
      kind: c.kind,
      cells: [{ column: c.column, base: c.base, ours: c.ours, theirs: c.theirs }],
    }
  if (c.kind === 'column-type')
    return { kind: c.kind, column: c.column, base: c.base, ours: c.ours, theirs: c.theirs }
  return {
    key: c.key,
    kind: c.kind,
    ...('deletedIn' in c ? { deleted_in: c.deletedIn } : {}),
    base: c.base,
    ours: c.ours,
    theirs: c.theirs,
  }
}

function report(
  cr: ChangeRequest,
  status: 'merged' | 'dry_run',
  version: number | null,
  before: number,
  after: number,
  added: number,
  updated: number,
  deleted: number,
  conflicts: number,
  rule: MergeRule,
): MergeReport {
  return {
    status,
    cr_id: cr.id,
    merged_version: version,
    commit_id: version === null ? null : `v${version}`,
    rows_affected: added + updated + deleted,
    diff: {
      version_before: before,
      version_after: after,
      rows_added: added,
      rows_updated: updated,
      rows_deleted: deleted,
    },
    conflicts: { total: conflicts, rule },
    idempotent_replay: false,
  }
}
