/**
 * The web UI in a real browser: signing in, a dataset made by uploading a file, values shown as
 * text, and the experiments page showing the same numbers as `exp list`.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, noFixturesReason } from '../support/fixtures.js'
import { eventually, openPage, screenshot, signIn } from './browser.js'
import { describeUi, uiSession } from './ui-session.js'

describeUi(
  'datasets and experiments',
  () => {
    const results = fixture('xetrack', 'b_sweep_e0.2.0.db')
    const ui = uiSession({ prefix: 'dm-ui-', users: ['alice'], serveArgs: ['--results', results] })

    it('refuses a wrong token in words, then signs in with a good one', async () => {
      const { page, problems } = await openPage(ui.browser, ui.served.url)
      await page.getByLabel('API token').fill('dm_nope_nope')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await eventually(() => page.getByTestId('error').textContent()).toMatch(/request id/)
      await screenshot(page, 'sign-in-refused')
      await signIn(page, ui.tokens.alice)
      expect(await page.getByRole('heading', { name: 'Projects' }).isVisible()).toBe(true)
      expect(problems).toEqual([])
      await page.close()
    })

    it('creates a project and a dataset from a dropped CSV, and shows markup in cells as text', async () => {
      const csv = join(ui.dir, 'products.csv')
      writeFileSync(
        csv,
        'id,name,price\n1,apple,1.5\n2,pear,2.25\n3,<img src=x onerror=alert(1)>,3\n',
      )
      const { page, problems } = await openPage(ui.browser, ui.served.url)
      await signIn(page, ui.tokens.alice)
      await page.getByLabel('New project name').fill('shop')
      await page.getByRole('button', { name: 'Create project' }).click()
      await page.getByRole('heading', { name: 'shop' }).waitFor()
      await page.getByLabel('Dataset name').fill('products')
      await page.getByLabel('Key columns (comma separated)').fill('id')
      await page.getByLabel('Parquet or CSV file').setInputFiles(csv)
      await page.getByRole('button', { name: 'Create dataset' }).click()
      await page.getByTestId('dataset-name').waitFor()
      // The heading says "Dataset" until the dataset has loaded.
      await eventually(() => page.getByTestId('dataset-name').textContent()).toBe('products')
      await eventually(() => page.getByTestId('row-count').textContent()).toBe('3')
      const cells = page.getByTestId('rows').locator('tbody tr td')
      await eventually(() => cells.allTextContents()).toEqual([
        '1',
        'apple',
        '1.5',
        '2',
        'pear',
        '2.25',
        '3',
        '<img src=x onerror=alert(1)>',
        '3',
      ])
      expect(await page.locator('img').count()).toBe(0)
      await screenshot(page, 'dataset')
      expect(problems).toEqual([])
      await page.close()
    })

    it('ranks experiments with the numbers exp list gives, and draws the charts', async () => {
      const cli = runCli(['exp', 'list', '--db', results, '--sort', 'accuracy', '--desc', '--json'])
      expect(cli.code).toBe(0)
      const expected = cli.json<{
        experiments: { version: string; metrics: Record<string, { mean: number }> }[]
      }>().experiments
      const { page, problems } = await openPage(ui.browser, `${ui.served.url}/#/experiments`)
      await signIn(page, ui.tokens.alice)
      await page.getByTestId('experiments').waitFor()
      await page.getByRole('button', { name: 'Sort by accuracy' }).click()
      const row = page.getByTestId('experiments').locator('tbody tr').first()
      await eventually(() => row.locator('td').nth(2).textContent()).toBe(expected[0]?.version)
      const shown = Number(await row.locator('td[data-metric="accuracy"]').textContent())
      expect(shown).toBeCloseTo(expected[0]?.metrics.accuracy?.mean ?? Number.NaN, 3)
      // One point per swept lr value, each a mean of its runs; the series over time has every row.
      await eventually(() =>
        page.getByTestId('metric-by-param').locator('[data-testid=point]').count(),
      ).toBe(3)
      await eventually(() =>
        page.getByTestId('metric-series').locator('[data-testid=point]').count(),
      ).toBeGreaterThan(10)
      // The charts scale down to a phone's width rather than scrolling sideways.
      await screenshot(page, 'experiments', {
        fits: ['[data-testid=metric-by-param]', '[data-testid=metric-series]'],
      })
      expect(problems).toEqual([])
      await page.close()
    })
  },
  hasFixtures ? null : noFixturesReason,
)
