/** Prints one plain closing line, `tests: N passed, N failed, N skipped`, that CI can read. */
import type { Reporter, TestModule } from 'vitest/node'
import { hasFixtures, noFixturesReason } from './fixtures.js'

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failed++
        else skipped++
      }
      // A file that failed to load has no tests but must count as a failure.
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++
    }
    if (!hasFixtures)
      process.stdout.write(`\nnote: ${noFixturesReason}; the tests that read them were skipped\n`)
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
