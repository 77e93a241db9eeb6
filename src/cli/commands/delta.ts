/** CLI commands: duckmerge delta … (reading, writing, and MERGE / backfill). */
import type { Command } from '../command.js'
import { deltaMergeCommands } from './delta-merge.js'
import { deltaReadCommands } from './delta-read.js'
import { deltaWriteCommands } from './delta-write.js'

export const deltaCommands: readonly Command[] = [
  ...deltaReadCommands,
  ...deltaWriteCommands,
  ...deltaMergeCommands,
]
