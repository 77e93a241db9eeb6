/**
 * The web UI's remaining paths in a real browser against a real `duckmerge serve`: a change
 * request made by editing rows in the table (an upsert, a delete, an added row) seen in its diff,
 * merged, and its audit files read and downloaded; then a keyboard-only walk from sign-in to a
 * confirmed merge (Tab, Enter, Escape), with visible focus and a modal that keeps focus inside.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { call, type Served, serve, token } from '../integration/service-support.js'
import {
  eventually,
  hasChromium,
  launch,
  noChromiumReason,
  openPage,
  screenshot,
  signIn,
} from './browser.js'

const skip = hasChromium ? null : noChromiumReason

interface Focus {
  readonly name: string
  readonly visible: boolean
  readonly inDialog: boolean
}

// Runs in the page (a string: the tests' TypeScript has no DOM types).
const FOCUSED = `(() => {
  const el = document.activeElement
  if (!el || el === document.body) return { name: '', visible: false, inDialog: false }
  const label = el.closest('label')
  const name = (el.getAttribute('aria-label') ?? (label && el !== label ? label.textContent : null) ?? el.textContent ?? '').trim()
  const style = getComputedStyle(el)
  return {
    name,
    visible: style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) > 0,
    inDialog: el.closest('[role=dialog]') !== null,
  }
})()`

/** What has keyboard focus: its accessible name as a user hears it, and whether it shows. */
function focused(page: Page): Promise<Focus> {
  return page.evaluate<Focus>(FOCUSED)
}

/** Presses Tab until the focused control's name matches; fails after `max` presses. */
async function tabTo(page: Page, name: RegExp, max = 60): Promise<void> {
  const seen: string[] = []
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab')
    const f = await focused(page)
    seen.push(f.name)
    if (name.test(f.name)) {
      expect(f.visible, `focus on "${f.name}" is visible`).toBe(true)
      return
    }
  }
  throw new Error(`Tab never reached ${name} (went through: ${seen.join(' | ')})`)
}

describe.skipIf(skip !== null)(
  `web UI: editing rows, audit files, keyboard only${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let dir: string
    let root: string
    let served: Served
    let browser: Browser
    const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' }
    let datasetId = 0

    const api = async (who: keyof typeof tokens, method: string, path: string, json?: unknown) => {
      const res = await call(served, method, `/api/v1${path}`, {
        token: tokens[who],
        ...(json === undefined ? {} : { json }),
      })
      if (res.status >= 300)
        throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`)
      return res.body
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'dm-ui-edit-'))
      root = join(dir, 'root')
      for (const who of ['alice', 'bob'] as const) tokens[who] = token(root, who)
      browser = await launch()
    }, 120_000)

    // service-support stops its servers after each test: each test gets its own, on one root.
    beforeEach(async () => {
      served = await serve(root)
      if (datasetId !== 0) return
      const project = await api('alice', 'POST', '/projects', { name: 'greengrocer' })
      await api('alice', 'PUT', `/projects/${project.id}/members/bob`, { role: 'contributor' })
      const created = await call(
        served,
        'POST',
        `/api/v1/projects/${project.id}/datasets?name=produce&primary_keys=id`,
        {
          token: tokens.alice,
          body: 'id,name,price,qty\n1,apple,1.5,5\n2,pear,2.25,7\n3,plum,0.5,9\n4,kiwi,0.8,3\n',
          headers: { 'content-type': 'text/csv' },
        },
      )
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      datasetId = Number(created.body.id)
    }, 60_000)

    afterAll(async () => {
      await browser?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    it('proposes edited rows, shows them in the diff, merges, and shows the audit files', async () => {
      const { page, problems } = await openPage(browser, `${served.url}/#/datasets/${datasetId}`)
      await signIn(page, tokens.bob)
      const crumbs = page.getByTestId('crumbs')
      await eventually(() => crumbs.textContent()).toBe('Projects / greengrocer / ')
      await page.getByRole('button', { name: 'Edit rows' }).click()
      const editor = page.locator('form', { has: page.getByTestId('row-editor') })
      await editor.getByLabel('price of row 2', { exact: true }).fill('9.75')
      await editor.getByLabel('Delete row 3', { exact: true }).check()
      await editor.getByRole('button', { name: 'Add row' }).click()
      await editor.getByLabel('id of new row 1').fill('5')
      await editor.getByLabel('name of new row 1').fill('fig')
      await editor.getByLabel('price of new row 1').fill('3')
      await editor.getByLabel('qty of new row 1').fill('1')
      await editor.getByLabel('Title').fill('pear up, plum out, fig in')
      await screenshot(page, 'dataset-editing')
      await editor.getByRole('button', { name: 'Propose 2 upserts and 1 delete' }).click()

      await eventually(() => page.url()).toMatch(/#\/change-requests\/cr_\w+\/diff$/)
      const summary = page.getByTestId('diff-summary')
      const count = (kind: string) => summary.locator(`.${kind} dd`).textContent()
      await eventually(() => count('added')).toBe('1')
      await eventually(() => count('modified')).toBe('1')
      await eventually(() => count('deleted')).toBe('1')
      await eventually(() => crumbs.textContent()).toBe('Projects / greengrocer / produce / ')
      const rows = page.getByTestId('diff-rows').locator('tbody tr')
      await eventually(() => rows.count()).toBe(3)
      const byKind = async (kind: string) =>
        (await rows.filter({ has: page.locator(`td:text-is("${kind}")`) }).textContent()) ?? ''
      expect(await byKind('modified')).toBe('2modifiedprice 2.25 → 9.75')
      expect(await byKind('deleted')).toContain('plum')
      expect(await byKind('added')).toContain('fig')
      await screenshot(page, 'cr-edited-diff')

      await page.getByRole('button', { name: 'Merge', exact: true }).click()
      await page.getByTestId('merge-preview').waitFor()
      await screenshot(page, 'merge-modal')
      await page.getByRole('button', { name: 'Confirm merge' }).click()
      await page.getByTestId('toast-success').filter({ hasText: 'Merged as version 1' }).waitFor()
      const after = (await api('bob', 'GET', `/datasets/${datasetId}/rows`)).rows as Record<
        string,
        unknown
      >[]
      expect(after.map((r) => [Number(r.id), Number(r.price)])).toEqual([
        [1, 1.5],
        [2, 9.75],
        [4, 0.8],
        [5, 3],
      ])

      await page.getByRole('tab', { name: 'Audit' }).click()
      const files = page.getByTestId('audit-files').locator('li')
      await eventually(() => files.count()).toBeGreaterThanOrEqual(2)
      const names = (await page.getByTestId('audit-files').textContent()) ?? ''
      expect(names).toContain('merge_result.json')
      expect(names).toContain('diff.json')
      const stored = readFileSync(
        join(root, 'audit', 'change_requests', crIdOf(page), 'merge_result.json'),
        'utf8',
      )
      await page.getByRole('button', { name: 'Show merge_result.json' }).click()
      const shown = page.getByTestId('audit-file')
      await eventually(async () => JSON.parse((await shown.textContent()) ?? '{}')).toEqual(
        JSON.parse(stored),
      )
      const download = page.waitForEvent('download')
      await page.getByRole('button', { name: 'Download merge_result.json' }).click()
      const file = await (await download).path()
      expect(readFileSync(file, 'utf8')).toBe(stored)
      expect((await download).suggestedFilename()).toBe(`${crIdOf(page)}-merge_result.json`)
      await eventually(() =>
        page.getByTestId('audit-events').locator('tbody tr').count(),
      ).toBeGreaterThan(0)
      await screenshot(page, 'cr-audit')
      expect(problems).toEqual([])
      await page.close()
    })

    it('walks from sign-in to a confirmed merge with the keyboard only', async () => {
      const cr = await api('bob', 'POST', `/datasets/${datasetId}/change_requests`, {
        title: 'more kiwis',
        upserts: [{ id: 4, qty: 30 }],
      })
      const { page, problems } = await openPage(browser, served.url)
      await tabTo(page, /^API token/)
      await page.keyboard.type(tokens.bob)
      await page.keyboard.press('Enter')
      await page.getByRole('link', { name: 'greengrocer' }).waitFor()
      await tabTo(page, /^greengrocer$/)
      await page.keyboard.press('Enter')
      await page.getByRole('link', { name: 'produce' }).waitFor()
      await tabTo(page, /^produce$/)
      await page.keyboard.press('Enter')
      const link = new RegExp(`^#${String(cr.number)} more kiwis$`)
      await page.getByRole('link', { name: link }).waitFor()
      await tabTo(page, link)
      await page.keyboard.press('Enter')
      await page.getByTestId('diff-summary').waitFor()
      await tabTo(page, /^Merge$/)
      await page.keyboard.press('Enter')

      const dialog = page.getByRole('dialog')
      await dialog.waitFor()
      await eventually(async () => (await focused(page)).inDialog).toBe(true)
      for (let i = 0; i < 8; i++) {
        await page.keyboard.press('Tab')
        expect((await focused(page)).inDialog, `Tab ${i + 1} stays in the dialog`).toBe(true)
      }
      for (let i = 0; i < 3; i++) {
        await page.keyboard.press('Shift+Tab')
        expect((await focused(page)).inDialog, `Shift+Tab ${i + 1} stays in the dialog`).toBe(true)
      }
      await page.keyboard.press('Escape')
      await eventually(() => dialog.count()).toBe(0)
      // Focus is back on the button that opened it.
      await eventually(async () => (await focused(page)).name).toBe('Merge')

      await page.keyboard.press('Enter')
      await dialog.waitFor()
      await tabTo(page, /^Confirm merge$/, 12)
      await page.keyboard.press('Enter')
      await page.getByTestId('toast-success').filter({ hasText: 'Merged as version 2' }).waitFor()
      await eventually(() => page.getByTestId('cr-status').textContent()).toBe('merged')
      const kiwi = (
        (await api('bob', 'GET', `/datasets/${datasetId}/rows`)).rows as Record<string, unknown>[]
      ).find((r) => Number(r.id) === 4)
      expect(Number(kiwi?.qty)).toBe(30)
      expect(problems).toEqual([])
      await page.close()
    })
  },
)

function crIdOf(page: Page): string {
  const match = /change-requests\/(cr_\w+)\//.exec(page.url())
  if (!match?.[1]) throw new Error(`not on a change request page: ${page.url()}`)
  return match[1]
}
