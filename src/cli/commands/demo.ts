/** CLI command: duckmerge demo (a scripted walk-through of merge, rebase and promote). */
import { relative } from 'node:path'
import { type DemoReport, type DemoStepReport, demoStepCount, runDemo } from '../../demo/demo.js'
import { formatMergeReport, type MergeReport } from '../../merge/report.js'
import { type Command, stringOption } from '../command.js'
import { formatDuration } from '../output.js'

export const demoCommands: readonly Command[] = [
  {
    path: ['demo'],
    summary: 'Walk through merge, rebase and promote on generated experiments',
    usage: '[--dir DIR]',
    options: { dir: { type: 'string' } },
    async run({ values, progress }) {
      const dir = stringOption(values, 'dir')
      const report = await runDemo({
        ...(dir !== undefined && { dir }),
        ...(progress && { onProgress: progress }),
      })
      return { report, text: formatDemo(report) }
    },
  },
]

function formatDemo(report: DemoReport): string {
  const out = [`duckmerge demo: every file is in ${report.dir}`, '']
  for (const step of report.steps) {
    out.push(`step ${step.number}/${demoStepCount}: ${step.title}`)
    for (const line of step.explanation) out.push(`  ${line}`)
    for (const r of Object.values(step.reports))
      out.push(...formatStepReport(r, report.dir).map((l) => `  ${l}`))
    out.push('')
  }
  const s = report.summary
  out.push(
    `done in ${formatDuration(report.durationMs)}: results.db holds ${s.predictionsRows} predictions and ${s.metricsRows} metrics rows, the dataset ${s.datasetRows} rows, production model ${s.productionModel}.`,
    `Look around: ls ${report.dir}, or npx duckmerge model list --models ${report.dir}/models`,
  )
  return out.join('\n')
}

function formatStepReport(report: DemoStepReport, dir: string): string[] {
  if ('rowsAfter' in report) return formatMergeReport(shorten(report, dir)).split('\n').slice(0, -1)
  if (report.strategy === 'merge')
    return [
      `candidate ${report.candidate.id} (sha256 ${report.candidate.sha256.slice(0, 12)}…, accuracy ${report.candidate.metrics.accuracy})`,
    ]
  const replaced = report.replaced ? `, replaced ${report.replaced.candidateId}` : ''
  return [`promoted ${report.production.candidateId} → ${relative(dir, report.path)}${replaced}`]
}

/** Paths relative to the demo folder read better in a walk-through. */
function shorten(report: MergeReport, dir: string): MergeReport {
  const name = (p: string) => relative(dir, p)
  return {
    ...report,
    ours: name(report.ours),
    theirs: name(report.theirs),
    output: name(report.output),
  }
}
