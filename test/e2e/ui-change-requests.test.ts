/**
 * Reviewing and merging change requests in a real browser against a real `duckmerge serve`:
 * two change requests on the same cells (the second lands on the conflict view and is resolved
 * cell by cell), a validation failure shown with its rule and sample, a viewer without a merge
 * button, and markup in a changed cell shown as text.
 */
import type { Page } from 'playwright-core'
import { expect, it } from 'vitest'
import { eventually, openPage, screenshot, signIn } from './browser.js'
import { describeUi, uiSession } from './ui-session.js'

type Body = Record<string, unknown>

describeUi('change requests', () => {
  const ui = uiSession({
    prefix: 'dm-ui-cr-',
    users: ['alice', 'bob', 'carol'],
    seed: {
      owner: 'alice',
      project: 'shop',
      members: { bob: 'contributor', carol: 'viewer' },
      dataset: 'products',
      csv: 'id,name,price,qty\n1,apple,1.5,5\n2,pear,2.25,7\n3,plum,0.5,9\n',
    },
  })
  const { api } = ui

  const proposal = async (title: string, upserts: Body[]) =>
    String(
      (await api('bob', 'POST', `/datasets/${ui.datasetId()}/change_requests`, { title, upserts }))
        .id,
    )

  /** Opens the change request, confirms the merge in the modal, and waits for the progress bar. */
  async function mergeFromModal(page: Page): Promise<void> {
    await page.getByRole('button', { name: 'Merge', exact: true }).click()
    await page.getByTestId('merge-preview').waitFor()
    const progress = page.getByTestId('merge-progress').waitFor({ state: 'attached' })
    await page.getByRole('button', { name: 'Confirm merge' }).click()
    await progress
  }

  it('merges one change, lands the second on its conflicts, and merges it resolved cell by cell', async () => {
    const first = await proposal('raise apple', [{ id: 1, price: 2, qty: 10 }])
    const second = await proposal('apple again', [{ id: 1, price: 3, qty: 20 }])
    const { page, problems } = await openPage(
      ui.browser,
      `${ui.served.url}/#/change-requests/${first}/diff`,
    )
    await signIn(page, ui.tokens.bob)
    await page.getByTestId('diff-summary').waitFor()
    expect(await page.getByTestId('diff-summary').locator('.modified dd').textContent()).toBe('1')
    expect(await page.getByTestId('diff-rows').locator('tbody tr').count()).toBe(1)
    // Only the columns the change modifies (name is untouched).
    expect(await page.getByTestId('diff-columns').textContent()).toBe(
      'Modified per column: price 1 · qty 1',
    )
    await screenshot(page, 'cr-diff')
    await page.getByRole('button', { name: 'Merge', exact: true }).click()
    expect(await page.getByTestId('merge-preview').textContent()).toBe(
      'Merging now adds 0 rows, modifies 1 row and deletes 0 rows of version 0.',
    )
    await page.getByRole('button', { name: 'Cancel' }).click()
    await mergeFromModal(page)
    await page.getByTestId('toast-success').waitFor()
    expect(await page.getByTestId('toast-success').textContent()).toContain('Merged as version 1')
    await eventually(() => page.getByTestId('cr-status').textContent()).toBe('merged')

    await page.goto(`${ui.served.url}/#/change-requests/${second}/diff`)
    await page.getByTestId('diff-summary').waitFor()
    await mergeFromModal(page)
    await page.getByTestId('toast-error').waitFor()
    expect(await page.getByTestId('toast-error').textContent()).toContain('See the conflicts')
    // In the UI's words, not the API's field names.
    expect(await page.getByTestId('toast-error').textContent()).toContain('nothing was written')
    expect(await page.getByTestId('toast-error').textContent()).not.toContain('"take"')
    await eventually(() => page.url()).toMatch(/\/conflicts$/)
    const rows = page.getByTestId('conflicts').locator('tbody tr')
    await eventually(() => rows.count()).toBe(2)
    const cells = async (i: number) =>
      (await rows.nth(i).locator('td').allTextContents()).slice(2, 6)
    expect([await cells(0), await cells(1)].sort()).toEqual([
      ['price', '1.5', '2', '3'],
      ['qty', '5', '10', '20'],
    ])
    const mergeButton = page.getByRole('button', { name: /^Merge with/ })
    // Counted per cell, as the tab's badge counts choices: one of the row's two cells is not the row.
    await page.getByRole('radio', { name: 'ours' }).and(page.locator('[name$="price"]')).check()
    await eventually(() => mergeButton.textContent()).toBe('Merge with 1 of 2 resolved')
    await page.getByRole('radio', { name: 'theirs' }).and(page.locator('[name$="qty"]')).check()
    await eventually(() => mergeButton.textContent()).toBe('Merge with 2 of 2 resolved')
    await screenshot(page, 'cr-conflicts')
    await mergeButton.click()
    await page.getByTestId('merge-preview').waitFor()
    await page.getByRole('button', { name: 'Confirm merge' }).click()
    // The first merge's notification may still be up: wait for this one's.
    await page.getByTestId('toast-success').filter({ hasText: 'Merged as version 2' }).waitFor()
    await eventually(() => page.getByTestId('cr-status').textContent()).toBe('merged')
    expect(await page.getByTestId('no-conflicts').textContent()).toContain('Merged as version 2')
    const after = await api('bob', 'GET', `/datasets/${ui.datasetId()}/rows`)
    const apple = (after.rows as Body[]).find((r) => Number(r.id) === 1)
    expect([Number(apple?.price), Number(apple?.qty)]).toEqual([2, 20])
    await screenshot(page, 'cr-merged')
    expect(problems).toEqual([])
    await page.close()
  })

  it('shows a failed validation rule with its sample, and nothing is committed', async () => {
    await api('alice', 'PUT', `/datasets/${ui.datasetId()}/validation-rules`, [
      { name: 'price present', type: 'not_null', column: 'price', severity: 'error' },
    ])
    const before = await api('bob', 'GET', `/datasets/${ui.datasetId()}`)
    const id = await proposal('drop a price', [{ id: 2, price: null }])
    const { page, problems } = await openPage(
      ui.browser,
      `${ui.served.url}/#/change-requests/${id}/diff`,
    )
    await signIn(page, ui.tokens.bob)
    await page.getByTestId('diff-summary').waitFor()
    await mergeFromModal(page)
    await page.getByTestId('toast-error').waitFor()
    expect(await page.getByTestId('toast-error').textContent()).toContain('See the failing rules')
    await eventually(() => page.url()).toMatch(/\/validation$/)
    const failing = page.getByTestId('validation').locator('tr.fail')
    await eventually(() => failing.count()).toBe(1)
    const text = await failing.textContent()
    expect(text).toContain('price present')
    expect(text).toContain('"id":2')
    // At a phone's width the results stack, each cell under its column's name.
    await screenshot(page, 'cr-validation', { fits: ['[data-testid=validation]'] })
    const after = await api('bob', 'GET', `/datasets/${ui.datasetId()}`)
    expect(after.current_version).toBe(before.current_version)
    expect(problems).toEqual([])
    await page.close()
  })

  it('gives a viewer no merge button, and shows markup in a changed cell as text', async () => {
    const id = await proposal('odd name', [{ id: 3, name: '<img src=x onerror=alert(1)>' }])
    const { page, problems } = await openPage(
      ui.browser,
      `${ui.served.url}/#/change-requests/${id}/diff`,
    )
    await signIn(page, ui.tokens.carol)
    await page.getByTestId('diff-rows').waitFor()
    expect(await page.getByTestId('diff-rows').textContent()).toContain(
      '<img src=x onerror=alert(1)>',
    )
    expect(await page.locator('img').count()).toBe(0)
    expect(await page.getByRole('button', { name: 'Merge', exact: true }).count()).toBe(0)
    await screenshot(page, 'cr-viewer')
    expect(problems).toEqual([])
    await page.close()
  })
})
