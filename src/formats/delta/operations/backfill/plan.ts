/**
 * The plan of a staging backfill: read ours (main) and theirs (staging) once, check them, and
 * cut the batches of rows ours lacks. apply.ts writes and commits it; nothing here writes.
 *
 *   theirs: resolve, count, key columns → ours: snapshot (or none: created by apply), key
 *   columns, schema → appId and batches already applied → theirs' key facts prune ours' files →
 *   ours' key range (bounds.ts) → batches (batches.ts)
 */
import { resolve } from 'node:path'
import type { DuckDb } from '../../../../engine/duckdb.js'
import { ident, identList, raw, sql } from '../../../../engine/sql.js'
import { DuckmergeError } from '../../../../errors.js'
import type { AddFile } from '../../actions.js'
import { registerSnapshot } from '../../scan.js'
import type { StructType } from '../../schema.js'
import type { Snapshot } from '../../snapshot-types.js'
import { pruneFiles } from '../../stats.js'
import { isDeltaTable, type ResolvedSource, resolveSource } from '../merge/source.js'
import { openForWrite } from '../write-context.js'
import { type BatchPlan, planBatches } from './batches.js'
import { keyBounds, outsideSql } from './bounds.js'
import { stagingFacts } from './facts.js'
import { assertSeparate, backfillAppId, checkKeys, checkSchema, mainSchemaOf } from './staging.js'

export interface BackfillPlan {
  /** Absolute path of main (ours). */
  readonly ours: string
  /** Absolute path of staging (theirs). */
  readonly theirs: string
  readonly source: ResolvedSource
  readonly key: readonly string[]
  /** Ours as read; undefined when ours does not exist yet (apply creates it). */
  readonly snapshot: Snapshot | undefined
  /** The schema written: ours', or theirs' for a new table. */
  readonly schema: StructType
  readonly appId: string
  /** Batches up to this number were committed by an earlier run (-1: none). */
  readonly appliedUpTo: number
  readonly stagingRows: number
  readonly duplicatesInStaging: number
  readonly batches: readonly BatchPlan[]
  /** What the plan read of ours, for the conflict check of each commit. */
  readonly reads: Reads
}

export type Reads = {
  readonly files: readonly AddFile[]
  readonly scope: 'all' | ((add: AddFile) => boolean)
}

/** The options' own checks, before anything is read. */
export function checkBackfillOptions(options: {
  readonly ours: string
  readonly theirs: string
  readonly key: readonly string[]
  readonly batchRows: number
  readonly archive?: string | undefined
}): void {
  const { batchRows } = options
  if (!Number.isInteger(batchRows) || batchRows < 1)
    throw new DuckmergeError('USAGE', `batchRows must be a whole number >= 1, got ${batchRows}.`, {
      hint: 'Set {batchRows} to a whole number of rows, such as 1000000.',
    })
  if (options.key.length === 0)
    throw new DuckmergeError('USAGE', 'A backfill needs at least one key column.', {
      hint: 'Set {key} to the columns that identify a row.',
    })
  assertSeparate(resolve(options.ours), resolve(options.theirs), options.archive)
}

/**
 * Plans a backfill of `ours` from `theirs` by `key`; undefined when theirs holds no row.
 *
 * @example
 * const plan = await planBackfill(db, { ours: 'certs', theirs: 'certs-staging', key: ['source_url', 'cert_index'], batchRows: 1_000_000 })
 * plan?.batches.length // 1
 */
export async function planBackfill(
  db: DuckDb,
  options: {
    readonly ours: string
    readonly theirs: string
    readonly key: readonly string[]
    readonly batchRows: number
    readonly archive?: string | undefined
  },
): Promise<BackfillPlan | undefined> {
  const ours = resolve(options.ours)
  const theirs = resolve(options.theirs)
  const { key, batchRows } = options
  checkBackfillOptions(options)

  const source = await resolveSource(db, theirs, { what: 'backfill input' })
  await db.run(sql`create temp view __bf_staging as select * from ${source.relation}`)
  const count = await db.one<{ n: bigint }>(raw('select count(*) as n from __bf_staging'))
  const stagingRows = Number(count?.n ?? 0)
  if (stagingRows === 0) return undefined
  checkKeys(
    key,
    source.columns.map((c) => c.name),
    'theirs',
    theirs,
  )
  const snapshot = isDeltaTable(ours) ? await openForWrite(ours, db) : undefined
  if (snapshot) {
    checkKeys(
      key,
      snapshot.schema.fields.map((f) => f.name),
      'ours',
      ours,
    )
    checkSchema(snapshot, source, ours, theirs)
  }
  const schema = snapshot?.schema ?? mainSchemaOf(source)
  const appId = await backfillAppId(source, theirs, key, batchRows)

  // Theirs' key facts prune ours' files and tell whether the duplicate tie-break is needed;
  // ours' own key range lets theirs' keys outside it skip the anti-join.
  const { predicates, mayRepeat } = await stagingFacts(
    db,
    schema,
    source.snapshot,
    key,
    stagingRows,
    raw('__bf_staging'),
  )
  const files = snapshot ? pruneFiles(snapshot, predicates) : []
  if (snapshot) await registerSnapshot(db, snapshot, '__bf_main', { files })
  if (mayRepeat) {
    const withFiles = await resolveSource(db, theirs, {
      withFileInfo: true,
      what: 'backfill input',
    })
    await db.run(sql`create temp view __bf_staging_files as select * from ${withFiles.relation}`)
  }
  const outsideMain = snapshot ? outsideSql(keyBounds(snapshot, files, key), 's') : undefined
  const batches = await planBatches(db, {
    staging: ident('__bf_staging'),
    ...(mayRepeat ? { stagingWithFiles: ident('__bf_staging_files') } : {}),
    stagingRows,
    main: files.length > 0 ? sql`(select ${identList(key)} from __bf_main)` : undefined,
    ...(outsideMain ? { outsideMain } : {}),
    keys: key,
    columns: schema.fields.map((f) => f.name),
    batchRows,
  })
  const scope =
    snapshot === undefined || predicates.length === 0
      ? ('all' as const)
      : (add: AddFile) => pruneFiles({ ...snapshot, files: [add] }, predicates).length > 0
  return {
    ours,
    theirs,
    source,
    key,
    snapshot,
    schema,
    appId,
    appliedUpTo: snapshot?.appTransactions.get(appId)?.version ?? -1,
    stagingRows: batches.stagingRows,
    duplicatesInStaging: batches.duplicatesInStaging,
    batches: batches.batches,
    reads: { files, scope },
  }
}
