/**
 * What every web UI test file sets up: a suite skipped with its reason when Chromium (or
 * anything else it needs) is missing, a temp folder holding a data root, tokens for the named
 * users, one headless Chromium for the file, a fresh `duckmerge serve` on that root for each
 * test (service-support stops its servers after each test), and a dataset made once.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, beforeEach, describe, expect } from 'vitest'
import { call, type Served, serve, token } from '../integration/service-support.js'
import { hasChromium, launch, noChromiumReason } from './browser.js'

type Body = Record<string, unknown>

/** `describe('web UI: NAME')`, skipped (with the reason in its name) without Chromium or `skip`. */
export function describeUi(name: string, body: () => void, skip: string | null = null): void {
  const reason = hasChromium ? skip : noChromiumReason
  describe.skipIf(reason !== null)(`web UI: ${name}${reason ? ` (skipped: ${reason})` : ''}`, body)
}

export interface UiSession<U extends string> {
  readonly dir: string
  readonly root: string
  readonly browser: Browser
  /** This test's server. */
  readonly served: Served
  readonly tokens: Readonly<Record<U, string>>
  /** `METHOD /api/v1PATH` as `who`, its JSON body; throws on a status of 300 or more. */
  api(who: U, method: string, path: string, json?: unknown): Promise<Body>
}

/** A project owned by `owner` with `members` in their roles, and a dataset made from `csv`. */
export interface SeedDataset<U extends string> {
  readonly owner: U
  readonly project: string
  readonly members?: Partial<Record<U, 'owner' | 'contributor' | 'viewer'>>
  readonly dataset: string
  /** CSV text; the key column is `id`. */
  readonly csv: string
}

/**
 * Registers the hooks (call it inside the suite) and returns the session, whose fields are set
 * once the hooks ran. With `seed`, the project and dataset are made before the first test; its
 * id is `datasetId()`.
 *
 * @example
 * const ui = uiSession({ prefix: 'dm-ui-cr-', users: ['alice', 'bob'] })
 * it('…', async () => { const { page } = await openPage(ui.browser, ui.served.url) })
 */
export function uiSession<U extends string>(options: {
  readonly prefix: string
  readonly users: readonly U[]
  /** More `duckmerge serve` arguments. */
  readonly serveArgs?: readonly string[]
  readonly seed?: SeedDataset<U>
}): UiSession<U> & { datasetId(): number } {
  let dir = ''
  let browser: Browser | undefined
  let served: Served | undefined
  let datasetId = 0
  const tokens = {} as Record<U, string>
  const session = {
    get dir() {
      return dir
    },
    get root() {
      return join(dir, 'root')
    },
    get browser() {
      if (!browser) throw new Error('the browser starts in beforeAll')
      return browser
    },
    get served() {
      if (!served) throw new Error('the server starts in beforeEach')
      return served
    },
    tokens,
    async api(who: U, method: string, path: string, json?: unknown) {
      const res = await call(session.served, method, `/api/v1${path}`, {
        token: tokens[who],
        ...(json === undefined ? {} : { json }),
      })
      if (res.status >= 300)
        throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`)
      return res.body as Body
    },
    datasetId: () => datasetId,
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), options.prefix))
    for (const who of options.users) tokens[who] = token(session.root, who)
    browser = await launch()
  }, 120_000)

  beforeEach(async () => {
    served = await serve(session.root, options.serveArgs)
    const seed = options.seed
    if (!seed || datasetId !== 0) return
    const project = await session.api(seed.owner, 'POST', '/projects', { name: seed.project })
    for (const [who, role] of Object.entries(seed.members ?? {}))
      await session.api(seed.owner, 'PUT', `/projects/${project.id}/members/${who}`, { role })
    const created = await call(
      session.served,
      'POST',
      `/api/v1/projects/${project.id}/datasets?name=${seed.dataset}&primary_keys=id`,
      { token: tokens[seed.owner], body: seed.csv, headers: { 'content-type': 'text/csv' } },
    )
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    datasetId = Number(created.body.id)
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  return session
}
