/**
 * A change request's changed rows, computed once per (revision, against, version diffed from,
 * columns) and stored under the data root as a Parquet file ordered by key, with its shape
 * beside it: a page after a cursor is then a keyed range scan of that file (row groups pruned
 * by their key statistics), not a join of the patch with the table.
 *
 *   cache/diff/<cr_id>/r<revision>-<against>-v<version>-<columns>.parquet (+ .json: shape)
 *
 * A new revision or a moved head names another file; files of older revisions and heads are
 * removed when a new one is written. Written to a temp name and renamed, so a reader sees a
 * whole file or none.
 */
import { createHash, randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { DuckDb } from '../engine/duckdb.js'
import { literal, raw, type Sql, sql } from '../engine/sql.js'
import type { DiffShape } from '../merge/diff.js'
import type { ChangeRequest } from './change-requests.js'
import { type DataRoot, diffCacheDir } from './data-root.js'

/** Rows per row group: small, so a page reads one or two of them. */
const ROW_GROUP_ROWS = 4096

export interface DiffCacheName {
  readonly against: 'base' | 'main'
  /** The version diffed from: base version, or the head's. */
  readonly version: number
  readonly columns: readonly string[] | undefined
}

export interface DiffCache {
  /** The Parquet file (present or not). */
  readonly path: string
  readonly dir: string
  /** `r<revision>-`: files of this revision. */
  readonly revision: string
  /** `r<revision>-<against>-v<version>-`: files of this revision, side and head. */
  readonly version: string
}

export function diffCacheOf(root: DataRoot, cr: ChangeRequest, name: DiffCacheName): DiffCache {
  const columns =
    name.columns === undefined
      ? 'all'
      : createHash('sha256').update(JSON.stringify(name.columns)).digest('hex').slice(0, 12)
  const dir = diffCacheDir(root, cr.id)
  const revision = `r${cr.revision}-`
  const version = `${revision}${name.against}-v${name.version}-`
  return { dir, revision, version, path: join(dir, `${version}${columns}.parquet`) }
}

/** The stored shape, or undefined when the cache file is not there. */
export async function readDiffCache(cache: DiffCache): Promise<DiffShape | undefined> {
  try {
    await fs.access(cache.path)
    return JSON.parse(await fs.readFile(shapePath(cache), 'utf8')) as DiffShape
  } catch {
    return undefined
  }
}

/**
 * Writes the rows of `query` (a diffRowsQuery) ordered by key, and the shape; then removes the
 * files of other revisions, and of other heads for the same side.
 */
export async function writeDiffCache(
  db: DuckDb,
  cache: DiffCache,
  query: Sql,
  width: number,
  shape: DiffShape,
): Promise<void> {
  await fs.mkdir(cache.dir, { recursive: true })
  const temp = join(cache.dir, `.${randomUUID()}.tmp`)
  try {
    await fs.writeFile(`${temp}.json`, JSON.stringify(shape))
    await fs.rename(`${temp}.json`, shapePath(cache))
    const order = raw(Array.from({ length: width }, (_, i) => `"n${i}"`).join(', '))
    await db.run(
      sql`copy (select * from (${query}) d order by ${order}) to ${literal(temp)}
        (format parquet, compression zstd, row_group_size ${raw(String(ROW_GROUP_ROWS))})`,
    )
    await fs.rename(temp, cache.path)
  } finally {
    await fs.rm(temp, { force: true })
  }
  const side = cache.version.replace(/v\d+-$/, '')
  for (const entry of await fs.readdir(cache.dir)) {
    const stale =
      !entry.startsWith(cache.revision) ||
      (entry.startsWith(side) && !entry.startsWith(cache.version))
    if (stale && !entry.startsWith('.')) await fs.rm(join(cache.dir, entry), { force: true })
  }
}

/** The stored file as a relation for diffPageSql. */
export function diffCacheRelation(cache: DiffCache): Sql {
  return sql`read_parquet(${literal(cache.path)})`
}

function shapePath(cache: DiffCache): string {
  return cache.path.replace(/\.parquet$/, '.json')
}
