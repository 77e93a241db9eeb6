/** CLI commands: duckmerge delta merge / backfill. */
import type { Command } from '../command.js'

export const deltaMergeCommands: readonly Command[] = []
