/**
 * The shared real-world fixtures, read in place from ../shared/fixtures (never copied into the
 * repo, never written). CI always has them; elsewhere the tests that need them skip, saying why.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const fixturesRoot = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url))
export const hasFixtures = existsSync(fixturesRoot)
export const noFixturesReason = `shared fixtures not found at ${fixturesRoot}`

export function fixture(...parts: string[]): string {
  return `${fixturesRoot}${parts.join('/')}`
}

/** A test or suite title that says why it is skipped when the fixtures are absent. */
export function needsFixtures(title: string): string {
  return hasFixtures ? title : `${title} (skipped: ${noFixturesReason})`
}
