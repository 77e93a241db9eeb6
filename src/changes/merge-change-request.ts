/**
 * Merging a change request: a keyed three-way merge (base = dataset@base_version, ours =
 * dataset@head, theirs = base with the patch applied) by merge/three-way.ts, the dataset's rules
 * run on the merged preview, then one Delta MERGE commit of the touched keys carrying
 * `txn{duckmerge-cr-<id>, revision}` and the change request in commitInfo.
 *
 *   lock (manifest, CAS → merging) → snapshot → diff → conflicts → resolve → preview → validate
 *     → write → commit → finalize (CAS → merged, dataset synced) → audit (files, manifest gone)
 *   conflicts left → conflict, MERGE_CONFLICT │ an error rule fails → failed, EXPECTATIONS_FAILED
 *   the head moved under the commit (COMMIT_CONFLICT) → again from snapshot, at most 3 times
 *
 * A crash anywhere is settled by merge-recovery.ts on the next command.
 */

import { existsSync } from 'node:fs'
import type { DuckDb } from '../engine/duckdb.js'
import { ident, identList, join, literal, sql } from '../engine/sql.js'
import { DuckmergeError, messageOf } from '../errors.js'
import { latestVersion } from '../formats/delta/log-store.js'
import { applyMerge } from '../formats/delta/operations/merge/apply.js'
import type { MergePlan } from '../formats/delta/operations/merge/plan.js'
import { withMergeSession } from '../formats/delta/operations/merge/session.js'
import { registerSnapshot } from '../formats/delta/scan.js'
import { loadSnapshot } from '../formats/delta/snapshot.js'
import { threeWayMerge } from '../merge/three-way.js'
import type {
  Conflict,
  MergeRule,
  Resolution,
  Side,
  ThreeWayPlan,
} from '../merge/three-way-types.js'
import type { Progress } from '../progress.js'
import { type AuditFiles, archiveAttempt, writeAuditFiles } from './audit-files.js'
import {
  type ChangeRequest,
  changeRequestAndDataset,
  getChangeRequest,
  transition,
} from './change-requests.js'
import { ChangeSides } from './change-sides.js'
import { conflictItems } from './conflicts-change-request.js'
import type { DataRoot } from './data-root.js'
import { type Dataset, syncDataset } from './datasets.js'
import {
  crAppId,
  holdsManifestSync,
  type MergeManifest,
  newManifest,
  recoverOne,
  removeManifest,
  withMergeLock,
  writeManifestSync,
} from './merge-recovery.js'
import { planChangeMerge } from './plan-change-merge.js'
import { listRules } from './rules.js'
import { OP_COLUMN } from './upload.js'
import { type ValidationReport, validateRules } from './validate-rules.js'

export const MERGE_PHASES = [
  'lock',
  'snapshot',
  'diff',
  'conflicts',
  'resolve',
  'preview',
  'validate',
  'write',
  'commit',
  'finalize',
  'audit',
] as const
export type MergePhase = (typeof MERGE_PHASES)[number]

export interface MergePhaseEvent {
  readonly cr_id: string
  readonly phase: MergePhase
  /** 1-based position in MERGE_PHASES. */
  readonly index: number
  readonly total: number
  /** Finer progress inside a phase (the Delta writer's). */
  readonly detail?: Progress
}

export interface MergeChangeRequestOptions {
  /** Settle every conflict for one side. */
  readonly take?: Side
  /** Same as take theirs (conflicts still detected and recorded). */
  readonly force?: boolean
  /**
   * No conflict check: theirs' changes against base are applied over the head as a patch, cell
   * by cell (the cell rule whatever the dataset's), so others' changes to other cells stay;
   * nothing is listed as a conflict. `take`, `rule` and `resolutions` do not apply.
   */
  readonly skipConflictCheck?: boolean
  /** Settle given keys or cells (take a side, or give the value); applied after take/force. */
  readonly resolutions?: readonly Resolution[]
  /** Default: the dataset's rule. */
  readonly rule?: MergeRule
  /** Allow the new columns the change request brings. */
  readonly mergeSchema?: boolean
  readonly requestedBy?: string
  /** Plan, check and validate only: nothing written, status unchanged. */
  readonly dryRun?: boolean
  /** Called as each phase starts (the service streams these). */
  readonly onPhase?: (event: MergePhaseEvent) => void
  /** DuckDB memory limit for the merge session (default 1GB; spills past it). */
  readonly memoryLimit?: string
}

export interface MergeReport {
  readonly status: 'merged' | 'dry_run'
  readonly cr_id: string
  readonly merged_version: number | null
  readonly commit_id: string | null
  readonly base_version: number
  readonly main_version_before: number
  readonly rows_affected: number
  readonly diff: {
    readonly version_before: number
    readonly version_after: number
    readonly rows_added: number
    readonly rows_updated: number
    readonly rows_deleted: number
    readonly cells_modified: number
  }
  readonly conflicts: {
    readonly total: number
    readonly rule: MergeRule
    readonly resolution: ResolutionMode
  }
  readonly validation: {
    readonly success: boolean
    readonly errors: number
    readonly warnings: number
  }
  readonly row_count: number
  readonly schema_changed: boolean
  readonly idempotent_replay: boolean
}

type ResolutionMode = 'none' | 'explicit' | 'ours' | 'theirs' | 'forced' | 'skipped'

/**
 * Tests of the merge lease only: the merge waits as `validate` starts while the file
 * DUCKMERGE_TEST_HOLD_FILE exists, its event loop free (so it keeps renewing its manifest).
 */
async function holdForLeaseTests(): Promise<void> {
  const file = process.env.DUCKMERGE_TEST_HOLD_FILE
  while (file && existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20))
}

/** Merge attempts after the head moved under the commit (another writer, Spark). */
const MAX_ATTEMPTS = 3
/** Conflict items kept in conflicts.json and in the MERGE_CONFLICT details. */
const CONFLICT_ITEMS = 1000

/**
 * Merges the change request into its dataset. Conflicts left unsettled throw MERGE_CONFLICT
 * (items in `details.conflicts`, status `conflict`); an `error` rule failing on the merged
 * preview throws EXPECTATIONS_FAILED (rule results in `details.results`, status `failed`,
 * nothing committed); a merged change request replays its result.
 *
 * @example
 * const report = await mergeChangeRequest(root, 'cr_8k2m4q7w1z9x3c5v', { requestedBy: 'ann',
 *   onPhase: (e) => console.log(e.phase) })
 * report.commit_id // 'v3'
 */
export function mergeChangeRequest(
  root: DataRoot,
  crId: string,
  options: MergeChangeRequestOptions = {},
): Promise<MergeReport> {
  // One merge per dataset at a time (across processes on Postgres); merges of it that died
  // earlier are settled first.
  return withMergeLock(root, crId, options.dryRun === true, () => mergeLocked(root, crId, options))
}

async function mergeLocked(
  root: DataRoot,
  crId: string,
  options: MergeChangeRequestOptions,
): Promise<MergeReport> {
  // The dataset as this read synced it: one Delta log read for both.
  const { cr, dataset } = await changeRequestAndDataset(root, crId)
  if (cr.status === 'merged' && cr.result)
    return { ...(cr.result as unknown as MergeReport), idempotent_replay: true }
  if (cr.status === 'closed' || cr.status === 'merging' || cr.status === 'merged')
    throw new DuckmergeError(
      'INVALID_STATE',
      `Change request ${cr.id} is ${cr.status}; it cannot be merged now.`,
      { cr_id: cr.id, status: cr.status },
    )
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
  checkResolutions(dataset, cr, options.resolutions ?? [])
  const run = new MergeRun(root, cr, dataset, options)
  return run.execute()
}

/** One merge attempt of a change request, phase by phase. */
class MergeRun {
  readonly #root: DataRoot
  readonly #cr: ChangeRequest
  readonly #dataset: Dataset
  readonly #options: MergeChangeRequestOptions
  readonly #startedAt = Date.now()
  readonly #rule: MergeRule
  readonly #actor: string | null
  #manifest: MergeManifest | undefined
  #phase: MergePhase = 'lock'
  /** Audit facts gathered along the way, written at the end whatever the outcome. */
  #audit: {
    mainBefore?: number
    diff?: Record<string, unknown>
    conflicts?: Record<string, unknown>
    validation?: ValidationReport
  } = {}

  constructor(
    root: DataRoot,
    cr: ChangeRequest,
    dataset: Dataset,
    options: MergeChangeRequestOptions,
  ) {
    this.#root = root
    this.#cr = cr
    this.#dataset = dataset
    this.#options = options
    this.#rule = options.skipConflictCheck ? 'cell' : (options.rule ?? dataset.conflictRule)
    this.#actor = options.requestedBy ?? null
  }

  get #dryRun(): boolean {
    return this.#options.dryRun === true
  }

  async execute(): Promise<MergeReport> {
    if (!this.#dryRun) await this.#lock()
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await withMergeSession(
            this.#options.memoryLimit === undefined
              ? {}
              : { memoryLimit: this.#options.memoryLimit },
            (db) => this.#attempt(db),
          )
        } catch (error) {
          const raced = error instanceof DuckmergeError && error.code === 'COMMIT_CONFLICT'
          if (!raced || attempt >= MAX_ATTEMPTS || this.#dryRun) throw error
        }
      }
    } catch (error) {
      if (!this.#dryRun) await this.#fail(error)
      throw error
    }
  }

  /** Phase `lock`: the manifest first (so recovery knows the holder), then CAS → merging. */
  async #lock(): Promise<void> {
    this.#enter('lock')
    const other = await this.#root.store.db
      .selectFrom('change_requests')
      .select('id')
      .where('dataset_id', '=', this.#dataset.id)
      .where('status', '=', 'merging')
      .where('id', '!=', this.#cr.id)
      .executeTakeFirst()
    if (other)
      throw new DuckmergeError(
        'LOCKED',
        `Dataset "${this.#dataset.name}" is being merged into by change request ${other.id}; try again when it is done.`,
        { dataset: this.#dataset.name, cr_id: this.#cr.id, holder: other.id },
      )
    await archiveAttempt(this.#root, this.#cr.id)
    this.#manifest = await newManifest(
      this.#cr,
      this.#dataset.tablePath,
      this.#dataset.currentVersion,
      this.#actor,
    )
    writeManifestSync(this.#root, this.#manifest)
    try {
      await transition(
        this.#root.store.db,
        this.#cr,
        ['pending', 'conflict', 'failed'],
        'merging',
        {
          action: 'merge.requested',
          actor: this.#actor,
          deltaVersion: this.#dataset.currentVersion,
          details: { options: this.#optionsReport() },
        },
      )
    } catch (error) {
      await removeManifest(this.#root, this.#cr.id)
      this.#manifest = undefined
      throw error
    }
  }

  /** Marks the phase: manifest, progress callback, and the tests' kill switch. */
  #enter(phase: MergePhase, detail?: Progress, extra: Partial<MergeManifest> = {}): void {
    // A merge that stalled past its lease (another host's recovery settled it as interrupted and
    // removed its manifest) stops at its next phase, before the commit: whatever it wrote is
    // removed (applyMerge), and nothing is committed that its change request says was not.
    if (this.#manifest && !holdsManifestSync(this.#root, this.#manifest))
      throw new DuckmergeError(
        'INTERRUPTED',
        `The merge of change request ${this.#cr.id} stopped before ${phase}: it stalled past its lease and another process settled it (${this.#manifest.phase} was its last phase); nothing was committed.`,
        { cr_id: this.#cr.id, phase: this.#manifest.phase },
      )
    this.#phase = phase
    if (this.#manifest) {
      this.#manifest = { ...this.#manifest, ...extra, phase, updated_at: Date.now() }
      writeManifestSync(this.#root, this.#manifest)
    }
    this.#options.onPhase?.({
      cr_id: this.#cr.id,
      phase,
      index: MERGE_PHASES.indexOf(phase) + 1,
      total: MERGE_PHASES.length,
      ...(detail ? { detail } : {}),
    })
    // Tests of crash recovery only: the process kills itself as this phase starts.
    if (process.env.DUCKMERGE_TEST_KILL_AT === phase && !this.#dryRun)
      process.kill(process.pid, 'SIGKILL')
  }

  async #attempt(db: DuckDb): Promise<MergeReport> {
    const cr = this.#cr
    const dataset = this.#dataset
    const keys = dataset.keyColumns
    this.#enter('snapshot')
    const ours = await loadSnapshot(dataset.tablePath)
    // The Delta log decides: this revision's txn already there means an earlier attempt
    // committed it while the store recorded otherwise (a holder that woke past its lease, just
    // as recovery judged it). Finish that merge rather than apply the change a second time.
    const landed = ours.appTransactions.get(crAppId(cr.id))?.version ?? -1
    if (landed >= cr.revision && this.#manifest) return this.#committedEarlier(this.#manifest)
    this.#audit.mainBefore = ours.version
    await db.run(sql`DROP TABLE IF EXISTS preview`)
    await registerSnapshot(db, ours, '__dm_ours_all')
    // A conflict needs a key both sides changed: the three-way merge reads only the patch keys
    // ours changed since base (none when the head is the base), plus those resolutions name.
    // Every other patch key merges to theirs, which the write takes from the patch directly.
    const sides = await ChangeSides.within(db, this.#root, cr, dataset, ours)
    const skip = this.#options.skipConflictCheck === true
    const resolutions = skip ? [] : (this.#options.resolutions ?? [])
    const alsoKeys = await resolutionKeys(db, sides.patchFile, keys, resolutions)
    const loaded = await sides.load({
      withOurs: true,
      oursChanged: true,
      ...(alsoKeys ? { alsoKeys } : {}),
    })
    const oursTouched = loaded.ours ?? loaded.base

    this.#enter('diff')
    const take: Side | undefined = this.#options.force || skip ? 'theirs' : this.#options.take
    const { plan, conflicts } = await threeWayMerge({
      connection: sides.connection,
      table: dataset.name,
      base: loaded.base,
      ours: oursTouched,
      theirs: loaded.theirs,
      key: keys,
      rule: this.#rule,
      // Skipped: theirs' cells win without one conflict being looked up.
      conflictLimit: skip ? 0 : CONFLICT_ITEMS,
      ...(take ? { take } : {}),
      ...(resolutions.length > 0 ? { resolutions } : {}),
    })
    try {
      this.#enter('conflicts')
      this.#audit.conflicts = conflictsReport(plan, conflicts, cr, ours.version, this.#rule, {
        take,
        resolutions,
        forced: this.#options.force === true,
        skipped: skip,
      })
      if (plan.hasConflicts) return await this.#conflict(plan, conflicts, ours.version)

      this.#enter('resolve')
      const uploaded = (await sides.columnsOf('__cr_patch_v'))
        .map((c) => c.name)
        .filter((c) => c !== OP_COLUMN)
      const write = await planChangeMerge(db, {
        tablePath: dataset.tablePath,
        key: keys,
        patchFile: sides.patchFile,
        uploaded,
        threeWay: plan,
        contested: loaded.aligned.relation,
        mergeSchema: this.#options.mergeSchema === true,
      })
      this.#assertHead(write.plan.snapshot.version, ours.version)
      const { counts } = write
      const schemaChanges = plan.columns
        .filter((c) => !c.in.includes('ours'))
        .map((c) => ({ column: c.name, type: c.type, change: 'added' }))
      this.#audit.diff = {
        versions: { base: cr.baseVersion, main: ours.version },
        rows_added: counts.added,
        rows_deleted: counts.deleted,
        rows_modified: counts.updated,
        cells_modified: counts.cells,
        columns: counts.columns,
        schema_changes: schemaChanges,
        old_row_count: counts.before,
        new_row_count: counts.before + counts.added - counts.deleted,
        // Over the keys both sides touched (ours changed nothing else the change touches).
        ours_against_base: plan.ours,
      }

      this.#enter('preview')
      const rules = await listRules(this.#root, dataset)
      if (rules.length > 0)
        await db.run(sql`CREATE OR REPLACE TEMP TABLE preview AS ${write.preview('__dm_ours_all')}`)

      this.#enter('validate')
      if (!this.#dryRun) await holdForLeaseTests()
      const validation =
        rules.length === 0
          ? emptyValidation(ours.version, counts.before)
          : await validateRules(db, {
              preview: ident('preview'),
              key: keys,
              rules,
              headRows: counts.before,
              headVersion: ours.version,
            })
      this.#audit.validation = validation
      if (!validation.success) return await this.#validationFailed(validation, ours.version)

      const report = (version: number | null): MergeReport => ({
        status: version === null ? 'dry_run' : 'merged',
        cr_id: cr.id,
        merged_version: version,
        commit_id: version === null ? null : `v${version}`,
        base_version: cr.baseVersion,
        main_version_before: ours.version,
        rows_affected: counts.added + counts.updated + counts.deleted,
        diff: {
          version_before: ours.version,
          version_after: version ?? ours.version,
          rows_added: counts.added,
          rows_updated: counts.updated,
          rows_deleted: counts.deleted,
          cells_modified: counts.cells,
        },
        conflicts: {
          total: plan.conflictCount,
          rule: this.#rule,
          resolution: this.#audit.conflicts?.resolution as ResolutionMode,
        },
        validation: {
          success: validation.success,
          errors: validation.errors,
          warnings: validation.warnings,
        },
        row_count: counts.before + counts.added - counts.deleted,
        schema_changed: schemaChanges.length > 0,
        idempotent_replay: false,
      })
      if (this.#dryRun) return report(null)

      this.#enter('write', undefined, { report: report(0) as unknown as Record<string, unknown> })
      // The plan holds for the head it read; a commit since (another writer, Spark) may have
      // changed the same keys, so the merge starts over from the snapshot.
      this.#assertHead(await latestVersion(dataset.tablePath), ours.version)
      const result = await this.#write(db, write.plan)
      const merged = report(result.version)

      // The audit files go into the manifest before the status flips: a crash after the flip
      // (during `audit`) leaves them to the recovery to write (merge-recovery.ts).
      const audit = this.#auditFiles('merged', {
        versions: { base: cr.baseVersion, main_before: ours.version, merged: result.version },
        commit: {
          version: result.version,
          log_file: `_delta_log/${String(result.version).padStart(20, '0')}.json`,
          txn_app_id: crAppId(cr.id),
          txn_version: cr.revision,
        },
        counts: merged.diff,
        files_added: result.metrics.numTargetFilesAdded,
        files_removed: result.metrics.numTargetFilesRemoved,
        bytes_added: result.metrics.numTargetBytesAdded,
        bytes_removed: result.metrics.numTargetBytesRemoved,
        row_count_before: counts.before,
        row_count_after: merged.row_count,
        schema_changes: schemaChanges,
      })
      this.#enter('finalize', undefined, { audit })
      await transition(
        this.#root.store.db,
        { ...cr, status: 'merging' },
        ['merging'],
        'merged',
        { action: 'merge.succeeded', actor: this.#actor, deltaVersion: result.version },
        {
          merged_version: result.version,
          merged_by: this.#actor,
          merged_at: Date.now(),
          result_json: JSON.stringify(merged),
          failure_json: null,
        },
      )
      await syncDataset(this.#root, dataset.id)

      this.#enter('audit')
      await writeAuditFiles(this.#root, cr.id, audit)
      await removeManifest(this.#root, cr.id)
      return merged
    } finally {
      await plan.dispose()
    }
  }

  /** The revision was committed by an earlier attempt: settled as merged at that commit. */
  async #committedEarlier(manifest: MergeManifest): Promise<MergeReport> {
    const cr = this.#cr
    // Searched from the base version: the commit came before this attempt read the table.
    await recoverOne(
      this.#root,
      { ...cr, status: 'merging' },
      { ...manifest, read_version: cr.baseVersion },
    )
    this.#manifest = undefined
    const settled = await getChangeRequest(this.#root, cr.id)
    return { ...(settled.result as unknown as MergeReport), idempotent_replay: true }
  }

  /** A head other than the one the merge read: COMMIT_CONFLICT, so the merge starts over. */
  #assertHead(version: number, oursVersion: number): void {
    if (version !== oursVersion)
      throw new DuckmergeError(
        'COMMIT_CONFLICT',
        `Dataset "${this.#dataset.name}" moved from version ${oursVersion} to ${version} while ${this.#cr.id} was being merged.`,
        { dataset: this.#dataset.name, expected: oursVersion, actual: version },
      )
  }

  /**
   * Phases `write` and `commit`: the planned Delta MERGE (touched files rewritten, inserts
   * added) in one commit; any file a concurrent writer adds conflicts with it.
   */
  async #write(db: DuckDb, planned: MergePlan) {
    const cr = this.#cr
    return applyMerge(
      db,
      { ...planned, mayMatch: 'all' },
      (detail) => this.#enter(/commit/.test(detail.phase) ? 'commit' : 'write', detail),
      {
        commitInfo: {
          userMetadata: `change request ${cr.id} (#${cr.number} on ${this.#dataset.name})${this.#actor ? ` by ${this.#actor}` : ''}`,
          operationParameters: {
            cr_id: cr.id,
            base_version: cr.baseVersion,
            requested_by: this.#actor,
            conflict_rule: this.#rule,
          },
        },
        txn: { appId: crAppId(cr.id), version: cr.revision },
      },
    )
  }

  async #conflict(
    plan: ThreeWayPlan,
    conflicts: readonly Conflict[],
    mainVersion: number,
  ): Promise<never> {
    const cr = this.#cr
    const items = conflictItems(conflicts)
    if (!this.#dryRun) {
      await transition(
        this.#root.store.db,
        { ...cr, status: 'merging' },
        ['merging'],
        'conflict',
        {
          action: 'merge.conflict',
          actor: this.#actor,
          deltaVersion: mainVersion,
          details: { conflicts: plan.conflictCount, unresolved: plan.unresolved },
        },
        {
          failure_json: JSON.stringify({
            code: 'merge_conflict',
            phase: 'conflicts',
            conflicts: plan.conflictCount,
            unresolved: plan.unresolved,
          }),
        },
      )
      await this.#writeAudit('conflict', {
        error: {
          code: 'merge_conflict',
          conflicts: plan.conflictCount,
          unresolved: plan.unresolved,
        },
      })
      await removeManifest(this.#root, cr.id)
    }
    throw new DuckmergeError(
      'MERGE_CONFLICT',
      `${plan.unresolved} conflict(s) between dataset "${this.#dataset.name}"@${mainVersion} and ${cr.id} (base ${cr.baseVersion}); nothing was written.`,
      {
        cr_id: cr.id,
        base_version: cr.baseVersion,
        main_version: mainVersion,
        rule: this.#rule,
        conflicts_summary: this.#audit.conflicts?.by_kind,
        conflicts: items.slice(0, 100),
        hint: 'Settle them with {take} ours|theirs, {resolutions} or {force}.',
      },
    )
  }

  async #validationFailed(validation: ValidationReport, mainVersion: number): Promise<never> {
    const cr = this.#cr
    const failed = validation.results.filter((r) => !r.success && r.severity === 'error')
    if (!this.#dryRun) {
      await transition(
        this.#root.store.db,
        { ...cr, status: 'merging' },
        ['merging'],
        'failed',
        {
          action: 'merge.validation_failed',
          actor: this.#actor,
          deltaVersion: mainVersion,
          details: { rules: failed.map((r) => r.name) },
        },
        {
          failure_json: JSON.stringify({
            code: 'validation_failed',
            phase: 'validate',
            message: `${failed.length} rule(s) failed: ${failed.map((r) => r.name).join(', ')}`,
          }),
        },
      )
      await this.#writeAudit('validation_failed', {
        error: { code: 'validation_failed', rules: failed.map((r) => r.name) },
      })
      await removeManifest(this.#root, cr.id)
    }
    throw new DuckmergeError(
      'EXPECTATIONS_FAILED',
      `${failed.length} of ${validation.results.length} rule(s) failed on the merged preview of ${cr.id}: ${failed.map((r) => `"${r.name}" (${r.unexpected_count ?? r.observed_value} unexpected)`).join(', ')}; dataset "${this.#dataset.name}" left at version ${mainVersion}.`,
      {
        cr_id: cr.id,
        main_version: mainVersion,
        validation: { success: false, errors: validation.errors, warnings: validation.warnings },
        results: validation.results,
      },
    )
  }

  /** An unexpected failure while merging: status failed (merge_failed), the attempt recorded. */
  async #fail(error: unknown): Promise<void> {
    if (!this.#manifest) return
    const current = await getChangeRequest(this.#root, this.#cr.id)
    if (current.status !== 'merging') return
    const code =
      error instanceof DuckmergeError && error.code === 'COMMIT_CONFLICT'
        ? 'commit_conflict'
        : 'merge_failed'
    await transition(
      this.#root.store.db,
      current,
      ['merging'],
      'failed',
      {
        action: 'merge.failed',
        actor: this.#actor,
        details: { code, phase: this.#phase, message: messageOf(error) },
      },
      { failure_json: JSON.stringify({ code, phase: this.#phase, message: messageOf(error) }) },
    )
    await this.#writeAudit('failed', {
      error: { code, phase: this.#phase, message: messageOf(error) },
    }).catch(() => undefined)
    await syncDataset(this.#root, this.#dataset.id).catch(() => undefined)
    await removeManifest(this.#root, this.#cr.id)
  }

  async #writeAudit(status: string, extra: Record<string, unknown>): Promise<void> {
    await writeAuditFiles(this.#root, this.#cr.id, this.#auditFiles(status, extra))
  }

  /** The attempt's audit files: merge_result (with `extra`), diff, conflicts, validation. */
  #auditFiles(status: string, extra: Record<string, unknown>): AuditFiles {
    const finished = Date.now()
    const { validation, conflicts, diff } = this.#audit
    return {
      merge_result: {
        dataset: this.#dataset.name,
        dataset_id: this.#dataset.id,
        status,
        requested_by: this.#actor,
        started_at: new Date(this.#startedAt).toISOString(),
        finished_at: new Date(finished).toISOString(),
        duration_ms: finished - this.#startedAt,
        options: this.#optionsReport(),
        versions: {
          base: this.#cr.baseVersion,
          main_before: this.#audit.mainBefore ?? null,
          merged: null,
        },
        conflicts_summary: conflicts
          ? { total: conflicts.total, by_kind: conflicts.by_kind, resolution: conflicts.resolution }
          : null,
        validation_summary: validation
          ? {
              success: validation.success,
              errors: validation.errors,
              warnings: validation.warnings,
            }
          : null,
        ...extra,
      },
      ...(diff ? { diff } : {}),
      ...(conflicts ? { conflicts } : {}),
      ...(validation
        ? {
            validation: {
              ...validation,
              preview: { ...validation.preview, cr_revision: this.#cr.revision },
            },
          }
        : {}),
    }
  }

  #optionsReport() {
    const o = this.#options
    return {
      take: o.take ?? null,
      force: o.force === true,
      skip_conflict_check: o.skipConflictCheck === true,
      rule: this.#rule,
      merge_schema: o.mergeSchema === true,
      resolutions: o.resolutions?.length ?? 0,
      dry_run: o.dryRun === true,
    }
  }
}

/**
 * The keys resolutions name, as a temp table (values bound), so the three-way merge reads them
 * too; undefined without resolutions.
 */
async function resolutionKeys(
  db: DuckDb,
  patchFile: string,
  keys: readonly string[],
  resolutions: readonly Resolution[],
): Promise<string | undefined> {
  if (resolutions.length === 0) return undefined
  await db.run(
    sql`create or replace temp table __cr_resolution_keys as
      select ${identList(keys)} from read_parquet(${literal(patchFile)}) where false`,
  )
  for (const r of resolutions)
    await db.run(
      sql`insert into __cr_resolution_keys values (${join(
        keys.map((k) => {
          const v = r.key[k] ?? null
          return sql`${typeof v === 'boolean' ? Number(v) : v}`
        }),
      )})`,
    )
  return '__cr_resolution_keys'
}

function emptyValidation(version: number, rows: number): ValidationReport {
  return {
    success: true,
    evaluated_at: new Date().toISOString(),
    preview: { rows, main_version: version },
    errors: 0,
    warnings: 0,
    results: [],
  }
}

/** Resolutions must name the dataset's key columns and columns before any SQL is built. */
function checkResolutions(
  dataset: Dataset,
  cr: ChangeRequest,
  resolutions: readonly Resolution[],
): void {
  const columns = new Set([
    ...dataset.schema.map((c) => c.name),
    ...cr.staged.new_columns.map((c) => c.name),
  ])
  const keys = [...dataset.keyColumns].sort().join(',')
  const issues = resolutions.flatMap((r, i) => {
    const out: { path: (string | number)[]; code: string; message: string }[] = []
    if (Object.keys(r.key).sort().join(',') !== keys)
      out.push({
        path: [i, 'key'],
        code: 'invalid_key',
        message: `resolution ${i} names key columns ${Object.keys(r.key).join(', ') || '(none)'}; dataset "${dataset.name}" is keyed by ${dataset.keyColumns.join(', ')}`,
      })
    if (r.column !== undefined && !columns.has(r.column))
      out.push({
        path: [i, 'column'],
        code: 'unknown_column',
        message: `resolution ${i} names column "${r.column}", which dataset "${dataset.name}" lacks`,
      })
    if ('value' in r && r.column === undefined)
      out.push({
        path: [i, 'column'],
        code: 'missing',
        message: `resolution ${i} gives a value but no column`,
      })
    return out
  })
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `${issues.length} invalid resolution(s) for ${cr.id}: ${issues.map((x) => x.message).join('; ')}.`,
      { cr_id: cr.id, issues },
    )
}

/** conflicts.json: rule, versions, counts by kind, the first items with the value each took. */
function conflictsReport(
  plan: ThreeWayPlan,
  conflicts: readonly Conflict[],
  cr: ChangeRequest,
  mainVersion: number,
  rule: MergeRule,
  settle: {
    take: Side | undefined
    resolutions: readonly Resolution[]
    forced: boolean
    skipped: boolean
  },
): Record<string, unknown> & {
  by_kind: Record<string, number>
  total: number
  resolution: ResolutionMode
} {
  const byKind: Record<string, number> = {}
  for (const c of conflicts) byKind[c.kind] = (byKind[c.kind] ?? 0) + 1
  const resolution: ResolutionMode = settle.skipped
    ? 'skipped'
    : settle.resolutions.length > 0
      ? 'explicit'
      : settle.forced
        ? 'forced'
        : (settle.take ?? 'none')
  return {
    rule,
    base_version: cr.baseVersion,
    main_version: mainVersion,
    total: plan.conflictCount,
    unresolved: plan.unresolved,
    by_kind: byKind,
    resolution,
    truncated: plan.conflictCount > conflicts.length,
    // One item per conflict (per cell), so each says what it took.
    items: conflicts.map((c) => ({ ...conflictItems([c])[0], taken: takenBy(c, settle) })),
  }
}

/** What settled a conflict: a resolution (side or value), take/force, or nothing. */
function takenBy(
  c: Conflict,
  settle: { take: Side | undefined; resolutions: readonly Resolution[] },
): { by: 'resolution' | 'take' | 'unresolved'; side?: Side; value?: unknown } {
  if (c.kind !== 'column-type') {
    const same = (r: Resolution) =>
      Object.entries(c.key).every(([k, v]) => String(r.key[k]) === String(v)) &&
      (r.column === undefined || ('column' in c && r.column === c.column))
    const found =
      settle.resolutions.findLast((r) => same(r) && r.column !== undefined) ??
      settle.resolutions.findLast((r) => same(r))
    if (found) {
      if ('value' in found) return { by: 'resolution', value: found.value }
      return { by: 'resolution', side: found.take, ...sideValue(c, found.take) }
    }
  }
  if (settle.take) return { by: 'take', side: settle.take, ...sideValue(c, settle.take) }
  return { by: 'unresolved' }
}

function sideValue(c: Conflict, side: Side): { value?: unknown } {
  return c.kind === 'cell' || c.kind === 'add-add' ? { value: c[side] } : {}
}
