/** CLI commands: duckmerge delta … (reading: show, cat, history, query) */
import type { Command } from '../command.js'

export const deltaReadCommands: readonly Command[] = []
