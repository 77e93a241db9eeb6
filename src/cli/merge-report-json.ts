/**
 * The `--json` shape of merge and rebase reports: the library says ours/theirs, the JSON that
 * scripts read keeps the fields they know, `base` (the side merged into) and `exp` (the side
 * merged in), in the same place.
 */
import type { ArtifactsReport } from '../merge/artifacts.js'
import type { MergeReport } from '../merge/report.js'

export type MergeReportJson = Omit<MergeReport, 'ours' | 'theirs'> & {
  readonly base: string
  readonly exp: string
}

/**
 * @example
 * mergeReportJson({ strategy: 'merge', dryRun: false, ours: 'a.db', theirs: 'b.db', … })
 * // { strategy: 'merge', dryRun: false, base: 'a.db', exp: 'b.db', … }
 */
export function mergeReportJson(report: MergeReport): MergeReportJson {
  const { strategy, dryRun, ours, theirs, ...rest } = report
  return { strategy, dryRun, base: ours, exp: theirs, ...rest }
}

/** An artifacts report with its results and data reports in their `--json` shape. */
export function artifactsReportJson(report: ArtifactsReport) {
  return {
    ...report,
    results: report.results && mergeReportJson(report.results),
    data: report.data && mergeReportJson(report.data),
  }
}

/** Library option fields of both sides, as the merge commands' flags (for hints). */
export const sideFlags = { ours: 'base', theirs: 'exp' } as const
