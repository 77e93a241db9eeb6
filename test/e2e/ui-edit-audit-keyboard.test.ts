/**
 * The web UI's remaining paths in a real browser against a real `duckmerge serve`: a change
 * request made by editing rows in the table (an upsert, a delete, an added row) seen in its diff,
 * merged, and its audit files read and downloaded; then a keyboard-only walk from sign-in to a
 * confirmed merge (Tab, Enter, Escape), with visible focus and a modal that keeps focus inside.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { expect, it } from 'vitest'
import { eventually, openPage, screenshot, signIn } from './browser.js'
import { describeUi, uiSession } from './ui-session.js'

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

describeUi('editing rows, audit files, keyboard only', () => {
  const ui = uiSession({
    prefix: 'dm-ui-edit-',
    users: ['alice', 'bob'],
    seed: {
      owner: 'alice',
      project: 'greengrocer',
      members: { bob: 'contributor' },
      dataset: 'produce',
      csv: 'id,name,price,qty\n1,apple,1.5,5\n2,pear,2.25,7\n3,plum,0.5,9\n4,kiwi,0.8,3\n',
    },
  })
  const { api } = ui

  it('proposes edited rows, shows them in the diff, merges, and shows the audit files', async () => {
    const { page, problems } = await openPage(
      ui.browser,
      `${ui.served.url}/#/datasets/${ui.datasetId()}`,
    )
    await signIn(page, ui.tokens.bob)
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
    expect(await page.getByTestId('merge-preview').textContent()).toBe(
      'Merging now adds 1 row, modifies 1 row and deletes 1 row of version 0.',
    )
    await screenshot(page, 'merge-modal')
    await page.getByRole('button', { name: 'Confirm merge' }).click()
    await page.getByTestId('toast-success').filter({ hasText: 'Merged as version 1' }).waitFor()
    const after = (await api('bob', 'GET', `/datasets/${ui.datasetId()}/rows`)).rows as Record<
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
      join(ui.root, 'audit', 'change_requests', crIdOf(page), 'merge_result.json'),
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

  it('pages through a diff of 150 rows and keeps its summary on the second page', async () => {
    const upserts = Array.from({ length: 150 }, (_, i) => ({
      id: 100 + i,
      name: `n${i}`,
      price: i,
      qty: 1,
    }))
    const cr = await api('bob', 'POST', `/datasets/${ui.datasetId()}/change_requests`, {
      title: 'many new rows',
      upserts,
    })
    const { page, problems } = await openPage(
      ui.browser,
      `${ui.served.url}/#/change-requests/${cr.id}/diff`,
    )
    await signIn(page, ui.tokens.bob)
    const added = page.getByTestId('diff-summary').locator('.added dd')
    const rows = page.getByTestId('diff-rows').locator('tbody tr')
    const firstKey = () => rows.first().locator('td').first().textContent()
    await eventually(() => added.textContent()).toBe('150')
    await eventually(() => rows.count()).toBe(100)
    expect(await firstKey()).toBe('100')
    await page.getByRole('button', { name: 'Next page' }).click()
    await eventually(firstKey).toBe('200')
    expect(await rows.count()).toBe(50)
    // A page after a cursor comes without the summary: the first page's stays.
    expect(await added.textContent()).toBe('150')
    await page.getByRole('button', { name: 'Previous page' }).click()
    await eventually(firstKey).toBe('100')
    expect(problems).toEqual([])
    await page.close()
  })

  it('walks from sign-in to a confirmed merge with the keyboard only', async () => {
    const cr = await api('bob', 'POST', `/datasets/${ui.datasetId()}/change_requests`, {
      title: 'more kiwis',
      upserts: [{ id: 4, qty: 30 }],
    })
    const { page, problems } = await openPage(ui.browser, ui.served.url)
    await tabTo(page, /^API token/)
    await page.keyboard.type(ui.tokens.bob)
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
      (await api('bob', 'GET', `/datasets/${ui.datasetId()}/rows`)).rows as Record<
        string,
        unknown
      >[]
    ).find((r) => Number(r.id) === 4)
    expect(Number(kiwi?.qty)).toBe(30)
    expect(problems).toEqual([])
    await page.close()
  })
})

function crIdOf(page: Page): string {
  const match = /change-requests\/(cr_\w+)\//.exec(page.url())
  if (!match?.[1]) throw new Error(`not on a change request page: ${page.url()}`)
  return match[1]
}
