/** CLI commands: duckmerge demo (a scripted walk-through of merge, rebase and promote). */
import type { Command } from '../command.js'

export const demoCommands: readonly Command[] = [
  {
    path: ['demo'],
    summary: 'Walk through merge, rebase and promote on generated experiments',
    usage: '[--dir DIR]',
    options: { dir: { type: 'string' } },
    async run() {
      return { report: { steps: [] }, text: 'demo: not built yet' }
    },
  },
]
