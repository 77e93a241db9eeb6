/**
 * The three sides of a change request, restricted to the keys it touches: base
 * (dataset@base_version), ours (dataset@head) and theirs (base with the patch applied), as DuckDB
 * temp tables. Review (diff, conflicts) joins only these, so its cost follows the size of the
 * change, not of the table.
 *
 *   staged patch → __cr_patch_v
 *     → key range → files pruned by statistics, range pushed into the Parquet scans
 *     → __cr_touched: patch ⟕ base ⟕ head on the key, in one pass
 *     → views: base, ours (rows present), theirs = patch upserts over base (columns the upload
 *       lacks keep base's values)
 */
import { createHash } from 'node:crypto'
import type { ColumnInfo } from '../engine/dialect.js'
import { DuckDb } from '../engine/duckdb.js'
import { DuckDbConnection } from '../engine/duckdb-dialect.js'
import { rangeAggregates, rangeTypeOf } from '../engine/key-range.js'
import { ident, join, literal, raw, type Sql, sql } from '../engine/sql.js'
import { candidateFiles, type SourceFacts } from '../formats/delta/operations/merge/prune.js'
import { registerSnapshot } from '../formats/delta/scan.js'
import type { Snapshot } from '../formats/delta/snapshot-types.js'
import { relationSql } from '../merge/three-way-sql.js'
import type { AlignedRows, Relation } from '../merge/three-way-types.js'
import { type ChangeRequest, stagedFile } from './change-requests.js'
import type { DataRoot } from './data-root.js'
import { datasetSnapshot } from './dataset-rows.js'
import { type Dataset, getDatasetById } from './datasets.js'
import { typeSql } from './rules.js'
import { OP_COLUMN } from './upload.js'

export interface LoadedSides {
  readonly base: Relation
  readonly theirs: Relation
  /** Undefined unless asked for. */
  readonly ours: Relation | undefined
  /** Base and theirs side by side (one row per patch key), for a diff without a join. */
  readonly aligned: AlignedRows
}

/** An open DuckDB with a change request's snapshots; `load` fills the sides' temp tables. */
export class ChangeSides {
  readonly connection: DuckDbConnection
  readonly key: readonly string[]

  private constructor(
    readonly db: DuckDb,
    readonly dataset: Dataset,
    readonly cr: ChangeRequest,
    readonly base: Snapshot,
    readonly head: Snapshot,
    readonly patchFile: string,
  ) {
    this.connection = new DuckDbConnection(db)
    this.key = dataset.keyColumns
  }

  /**
   * Opens the change request's base and head snapshots and a DuckDB to join them in.
   *
   * @example
   * const sides = await ChangeSides.open(root, cr)
   * try { const { base, theirs } = await sides.load({ withOurs: false }) } finally { sides.close() }
   */
  static async open(root: DataRoot, cr: ChangeRequest): Promise<ChangeSides> {
    const dataset = await getDatasetById(root, cr.datasetId)
    const base = await datasetSnapshot(dataset, cr.baseVersion)
    const head = await datasetSnapshot(dataset)
    const db = await DuckDb.open()
    return new ChangeSides(db, dataset, cr, base, head, stagedFile(root, cr))
  }

  /**
   * The sides in a DuckDB the caller owns (a merge session, which also plans and writes the
   * commit there), against `head` as the caller read it. The caller closes `db`.
   */
  static async within(
    db: DuckDb,
    root: DataRoot,
    cr: ChangeRequest,
    dataset: Dataset,
    head: Snapshot,
  ): Promise<ChangeSides> {
    const base = await datasetSnapshot(dataset, cr.baseVersion)
    return new ChangeSides(db, dataset, cr, base, head, stagedFile(root, cr))
  }

  /**
   * Fills `__cr_base`, `__cr_theirs` (and `__cr_ours`) for the patch's keys.
   * With `oursChanged`, only keys ours (the head) changed since base: the only ones where a
   * conflict can be, plus those listed in the temp table `alsoKeys` (key columns).
   */
  async load(options: {
    withOurs: boolean
    oursChanged?: boolean
    alsoKeys?: string
  }): Promise<LoadedSides> {
    const { db, key } = this
    const types = new Map(this.dataset.schema.map((c) => [c.name, c.type]))
    const keyType = (k: string) => types.get(k) ?? 'VARCHAR'
    // Read by one query (the diff against base of every touched key): views, so DuckDB runs the
    // patch ⟕ base join inside that query; else tables (the three-way merge reads them often).
    const once = !options.withOurs
    const patch = '__cr_patch_v'
    const touched = once ? '__cr_touched_v' : '__cr_touched'
    await db.run(
      sql`create or replace temp view ${ident(patch)} as
        select * from read_parquet(${literal(this.patchFile)})`,
    )

    // One pass: each patch key with its base (and head) row, then the sides as views of it.
    // The patch keys' range, cast to the table's types (partition keys: also distinct counts).
    const [bounds = {}] = await db.allJson<SourceFacts['bounds']>(
      sql`select ${rangeAggregates(
        key.map((k) => ({
          column: k,
          type: keyType(k),
          distinct: this.base.partitionColumns.includes(k),
        })),
      )} from ${ident(patch)}`,
    )
    const baseCols = await this.prunedScan(this.base, '__cr_base_scan', patch, bounds)
    const withHead = options.withOurs && this.head.version !== this.base.version
    const headCols = withHead
      ? await this.prunedScan(this.head, '__cr_ours_scan', patch, bounds)
      : []
    const ranges = rangeFilter(key, keyType, bounds)
    const side = (scan: string) =>
      sql`(select * from ${ident(scan)} s${ranges.length > 0 ? sql` where ${join(ranges, ' and ')}` : raw('')})`
    const [k0] = key as [string]
    const copies = (alias: string, cols: readonly ColumnInfo[]) => [
      ...cols.map(
        (c) => sql`${ident(alias)}.${ident(c.name)} as ${ident(`_dm_${alias}_${c.name}`)}`,
      ),
      sql`${ident(alias)}.${ident(k0)} is not null as ${ident(`_dm_${alias}`)}`,
    ]
    const listed =
      options.alsoKeys === undefined
        ? raw('')
        : sql` or exists (select 1 from ${ident(options.alsoKeys)} r where ${keysEqual(key, 't', 'r')})`
    const filter = options.oursChanged
      ? sql`(${oursChanged(withHead, baseCols, headCols)}${listed})`
      : raw('true')
    await db.run(
      sql`create or replace temp ${raw(once ? 'view' : 'table')} ${ident(touched)} as
        select * from (
          select p.*, ${join([...copies('b', baseCols), ...(withHead ? copies('o', headCols) : [])])}
          from ${ident(patch)} p left join ${side('__cr_base_scan')} b on ${keysEqual(key)}
          ${withHead ? sql`left join ${side('__cr_ours_scan')} o on ${keysEqual(key, 'p', 'o')}` : raw('')}
        ) t where ${filter}`,
    )
    const view = async (name: string, cols: Sql[], where: Sql) =>
      db.run(
        sql`create or replace temp view ${ident(name)} as select ${join(cols)} from ${ident(touched)} where ${where}`,
      )
    const sideCols = (alias: string, cols: readonly ColumnInfo[]) =>
      cols.map((c) => sql`${ident(`_dm_${alias}_${c.name}`)} as ${ident(c.name)}`)
    await view('__cr_base', sideCols('b', baseCols), ident('_dm_b'))
    if (withHead) await view('__cr_ours', sideCols('o', headCols), ident('_dm_o'))
    else if (options.withOurs)
      await db.run(sql`create or replace temp view __cr_ours as select * from __cr_base`)

    // Theirs: every upserted key; a column the upload lacks keeps base's value.
    const patchCols = (await this.columnsOf(patch)).filter((c) => c.name !== OP_COLUMN)
    const carried = new Set(patchCols.map((c) => c.name))
    const baseNames = new Set(baseCols.map((c) => c.name))
    const theirs = new Map<string, Sql>([
      ...baseCols.map(
        (c) => [c.name, carried.has(c.name) ? ident(c.name) : ident(`_dm_b_${c.name}`)] as const,
      ),
      ...patchCols
        .filter((c) => !baseNames.has(c.name))
        .map((c) => [c.name, ident(c.name)] as const),
    ])
    const upserted = sql`${ident(OP_COLUMN)} = 'upsert'`
    await view(
      '__cr_theirs',
      [...theirs].map(([name, value]) => sql`${value} as ${ident(name)}`),
      upserted,
    )
    const aligned: AlignedRows = {
      relation: { schema: 'temp', name: touched },
      before: (c) => ident(`_dm_b_${c}`),
      after: (c) => theirs.get(c) ?? raw('null'),
      beforePresent: ident('_dm_b'),
      afterPresent: upserted,
    }
    const rel = async (name: string): Promise<Relation> => ({
      schema: 'temp',
      name,
      columns: await this.columnsOf(name),
    })
    return {
      base: await rel('__cr_base'),
      theirs: await rel('__cr_theirs'),
      ours: options.withOurs ? await rel('__cr_ours') : undefined,
      aligned,
    }
  }

  close(): void {
    this.db.close()
  }

  /** Registers the snapshot's files that may hold a patch key (statistics) as view `name`. */
  private async prunedScan(
    snapshot: Snapshot,
    name: string,
    patch: string,
    bounds: SourceFacts['bounds'],
  ): Promise<ColumnInfo[]> {
    const source = ident(patch)
    const { files } = await candidateFiles(this.db, snapshot, this.key, source, bounds)
    await registerSnapshot(this.db, snapshot, name, { files })
    return this.columnsOf(name)
  }

  /** The columns of a temp table or view (or of any relation). */
  async columnsOf(name: string | Relation): Promise<ColumnInfo[]> {
    if (typeof name !== 'string' && name.columns) return [...name.columns]
    const from = typeof name === 'string' ? ident(name) : relationSql(name)
    const rows = await this.db.all<{ column_name: string; column_type: string }>(
      sql`describe select * from ${from}`,
    )
    return rows.map((r) => ({ name: r.column_name, type: r.column_type, notNull: false }))
  }
}

/**
 * A short hash naming what a review of a change request reads: its revision, its base version
 * and the review's own options (the head version when it diffs against main). Cursors carry it.
 */
export function reviewFingerprint(cr: ChangeRequest, ...parts: readonly unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([cr.id, cr.revision, cr.baseVersion, ...parts]))
    .digest('base64url')
    .slice(0, 16)
}

/** Over `__cr_touched`: true where the head's row differs from base's (added, deleted, changed). */
function oursChanged(
  withHead: boolean,
  baseCols: readonly ColumnInfo[],
  headCols: readonly ColumnInfo[],
): Sql {
  if (!withHead) return raw('false')
  const inBase = new Set(baseCols.map((c) => c.name))
  const differs = headCols.map((c) =>
    inBase.has(c.name)
      ? sql`${ident(`_dm_b_${c.name}`)} is distinct from ${ident(`_dm_o_${c.name}`)}`
      : sql`${ident(`_dm_o_${c.name}`)} is not null`,
  )
  return sql`(${ident('_dm_b')} <> ${ident('_dm_o')} or ${join(differs, ' or ')})`
}

/** The patch keys' range as a filter on alias `s`, which DuckDB pushes into the Parquet scan. */
function rangeFilter(
  key: readonly string[],
  keyType: (k: string) => string,
  bounds: SourceFacts['bounds'],
): Sql[] {
  const ranges: Sql[] = []
  key.forEach((k, i) => {
    const lo = bounds[`min${i}`]
    const hi = bounds[`max${i}`]
    if (rangeTypeOf(keyType(k)) === undefined || lo == null || hi == null) return
    const t = typeSql(keyType(k))
    // Literals (the bounds are our own min/max, escaped), since a view cannot bind values.
    ranges.push(
      sql`s.${ident(k)} between cast(${literal(String(lo))} as ${t}) and cast(${literal(String(hi))} as ${t})`,
    )
  })
  return ranges
}

function keysEqual(key: readonly string[], a = 'p', b = 'b'): Sql {
  return join(
    key.map((k) => sql`${ident(a)}.${ident(k)} = ${ident(b)}.${ident(k)}`),
    ' and ',
  )
}
