/**
 * A real headless Chromium (Debian's, driven by playwright-core) against a real `duckmerge serve`.
 * Screenshots go to .test-screenshots/ (ignored by git) so people can look at each page.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { expect } from 'vitest'

export const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)
export const noChromiumReason = `Chromium not found at ${CHROMIUM} (apt-get install chromium; .ci/run does)`

export const screenshotDir = fileURLToPath(new URL('../../.test-screenshots/', import.meta.url))

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export interface WatchedPage {
  readonly page: Page
  /** Uncaught page errors and dialogs (an alert() would mean injected script ran). */
  readonly problems: string[]
}

/** A page at 1280×800 that records script errors and any dialog. */
export async function openPage(browser: Browser, url: string): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`)
    void d.dismiss()
  })
  await page.goto(url)
  return { page, problems }
}

// When the page scrolls sideways, the elements reaching past the window's right edge that are
// not clipped by a table's scrolling box (run in the page).
const OVERFLOWING = `(() => {
  if (document.documentElement.scrollWidth <= window.innerWidth) return []
  const out = []
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect()
    const clipped = el.closest('.scroll') && getComputedStyle(el).position !== 'absolute'
    if (!clipped && r.width > 0 && r.right > window.innerWidth + 1)
      out.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).replace(/ /g, '.') : '') + ' (right edge ' + Math.round(r.right) + ')')
  }
  return out.length > 0 ? out.slice(0, 5) : ['the page is ' + document.documentElement.scrollWidth + ' px wide']
})()`

// Of the elements each selector matches, those reaching past the window's right edge or inside
// a box that scrolls sideways, and selectors matching nothing (run in the page).
const NOT_FITTING = `((selectors) => {
  const out = []
  for (const selector of selectors) {
    const found = document.querySelectorAll(selector)
    if (found.length === 0) out.push(selector + ': not on the page')
    for (const el of found) {
      const r = el.getBoundingClientRect()
      if (r.right > window.innerWidth + 1) out.push(selector + ': right edge at ' + Math.round(r.right))
      for (let box = el; box; box = box.parentElement)
        if (box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== 'visible')
          out.push(selector + ': in ' + box.tagName.toLowerCase() + '.' + String(box.className) + ', which scrolls sideways (' + box.scrollWidth + ' px in ' + box.clientWidth + ')')
    }
  }
  return out
})`

/**
 * Saves the page at 1280×800 (NAME.png) and 390 px wide, a phone (NAME-390.png); fails when at
 * 390 px anything but a table's own scrolling box is wider than the window, or when an element
 * `fits` names (CSS selectors) does not fit whole, without scrolling sideways.
 */
export async function screenshot(
  page: Page,
  name: string,
  options: { readonly fits?: readonly string[] } = {},
): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true })
  const size = page.viewportSize() ?? { width: 1280, height: 800 }
  await page.screenshot({ path: `${screenshotDir}${name}.png`, fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: `${screenshotDir}${name}-390.png`, fullPage: true })
  const overflowing = await page.evaluate<string[]>(OVERFLOWING)
  const notFitting = await page.evaluate<string[]>(
    `${NOT_FITTING}(${JSON.stringify(options.fits ?? [])})`,
  )
  await page.setViewportSize(size)
  expect(overflowing, `${name} at 390 px: wider than the window`).toEqual([])
  expect(notFitting, `${name} at 390 px: scrolls sideways`).toEqual([])
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('API token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}

/** expect.poll with room for a loaded machine (vitest's default gives up after 1 s). */
export const eventually: typeof expect.poll = (read, options) =>
  expect.poll(read, { timeout: 30_000, ...options })
