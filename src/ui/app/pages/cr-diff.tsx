import { useEffect, useRef, useState } from 'preact/hooks'
import { get, type Json, listOf, query } from '../api'
import { ErrorText, Loading, Pager, useAsync, usePager, Value } from '../components'

const KINDS = ['added', 'modified', 'deleted'] as const

/** Summary counts per kind and column, then the changed rows, a page at a time. */
export function DiffTab({ id, merged }: { id: string; merged: boolean }) {
  const [against, setAgainst] = useState<'base' | 'main'>('base')
  const [kind, setKind] = useState('')
  const [column, setColumn] = useState('')
  const pager = usePager([id, against, kind, column])
  const pages = usePageCache()
  const pageUrl = (cursor: string | undefined) =>
    `change_requests/${encodeURIComponent(id)}/diff${query({
      against,
      kinds: kind,
      columns: column,
      limit: 100,
      cursor,
    })}`
  const diff = useAsync(
    () => pages.read(pageUrl(pager.cursor)),
    [id, against, kind, column, pager.cursor],
  )
  // While the reader looks at this page, the next one is fetched: "Next page" then draws at once.
  const nextCursor = (diff.data?.page as Json | undefined)?.next_cursor
  useEffect(() => {
    if (typeof nextCursor === 'string') pages.read(pageUrl(nextCursor)).catch(() => undefined)
  }, [nextCursor])
  // The summary comes with a first page only (a cursor's page leaves it out): keep it.
  const [kept, setKept] = useState<{ for: string; summary: Json } | null>(null)
  const keptFor = `${id} ${against}`
  const fresh = diff.data?.summary as Json | null | undefined
  useEffect(() => {
    if (fresh) setKept({ for: keptFor, summary: fresh })
  }, [fresh])
  const summary = (fresh ?? (kept?.for === keptFor ? kept.summary : {})) as Json
  const columns = (summary.columns ?? {}) as Record<string, Json>
  const rows = listOf<Json>(diff.data, 'rows')
  // Columns no row changes say nothing; the column filter still offers every column.
  const modifiedColumns = Object.entries(columns).filter(([, v]) => Number(v.modified ?? 0) > 0)
  const page = (diff.data?.page ?? {}) as Json
  return (
    <div>
      <div class="inline">
        <label>
          Compare against
          <select
            value={against}
            onChange={(e) => setAgainst(e.currentTarget.value as 'base' | 'main')}
          >
            <option value="base">its base version (what it changes)</option>
            <option value="main" disabled={merged}>
              main now (what merging would change)
            </option>
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">all</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Column
          <select value={column} onChange={(e) => setColumn(e.currentTarget.value)}>
            <option value="">all</option>
            {Object.keys(columns).map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorText error={diff.error} />
      {!diff.data && diff.loading && <Loading what="the diff" />}
      {diff.data && (
        <>
          <dl class="summary" data-testid="diff-summary">
            <div class="added">
              <dt>rows added</dt>
              <dd>{String(summary.rows_added ?? 0)}</dd>
            </div>
            <div class="modified">
              <dt>rows modified</dt>
              <dd>{String(summary.rows_modified ?? 0)}</dd>
            </div>
            <div class="deleted">
              <dt>rows deleted</dt>
              <dd>{String(summary.rows_deleted ?? 0)}</dd>
            </div>
            <div>
              <dt>cells modified</dt>
              <dd>{String(summary.cells_modified ?? 0)}</dd>
            </div>
            <div>
              <dt>rows</dt>
              <dd>
                {String(summary.old_row_count ?? '?')} → {String(summary.new_row_count ?? '?')}
              </dd>
            </div>
          </dl>
          {modifiedColumns.length > 0 && (
            <p class="muted" data-testid="diff-columns">
              Modified per column:{' '}
              {modifiedColumns.map(([c, v]) => `${c} ${String(v.modified)}`).join(' · ')}
            </p>
          )}
          <DiffRows rows={rows} />
          <Pager
            page={pager.page}
            nextCursor={page.next_cursor as string | null | undefined}
            hasMore={Boolean(page.has_more)}
            onNext={pager.next}
            onPrevious={pager.previous}
          />
        </>
      )}
    </div>
  )
}

function keyText(key: unknown): string {
  if (key && typeof key === 'object')
    return Object.values(key as Json)
      .map((v) => (v === null ? 'NULL' : String(v)))
      .join(', ')
  return String(key)
}

/** Key, kind and the changed cells as before → after (every column for added/deleted rows). */
function DiffRows({ rows }: { rows: readonly Json[] }) {
  if (rows.length === 0) return <p class="muted">No changed rows.</p>
  return (
    <div class="scroll">
      <table data-testid="diff-rows" class="diff">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Kind</th>
            <th scope="col">Changes</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const kind = String(r.kind)
            const before = (r.before ?? {}) as Json
            const after = (r.after ?? {}) as Json
            const changed = Array.isArray(r.changed)
              ? (r.changed as string[])
              : Object.keys(kind === 'deleted' ? before : after)
            return (
              <tr key={keyText(r.key)} class={kind}>
                <td>{keyText(r.key)}</td>
                <td>{kind}</td>
                <td>
                  {changed.map((c) => (
                    <span class="change" key={c}>
                      <span class="col">{c}</span>{' '}
                      {kind !== 'added' && (
                        <del>
                          <Value value={before[c]} />
                        </del>
                      )}
                      {kind === 'modified' && ' → '}
                      {kind !== 'deleted' && (
                        <ins>
                          <Value value={after[c]} />
                        </ins>
                      )}
                    </span>
                  ))}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

/** Diff pages by URL (the last few), so a prefetched or revisited page is not asked for again. */
function usePageCache() {
  const cache = useRef(new Map<string, Promise<Json>>())
  return {
    read(url: string): Promise<Json> {
      const map = cache.current
      let page = map.get(url)
      if (!page) {
        page = get(url)
        map.set(url, page)
        page.catch(() => map.delete(url))
        for (const old of map.keys()) if (map.size > 8) map.delete(old)
      }
      return page
    },
  }
}
