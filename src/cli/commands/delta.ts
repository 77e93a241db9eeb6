/** CLI commands: duckmerge delta … */
import type { Command } from '../command.js'

export const deltaCommands: readonly Command[] = []
