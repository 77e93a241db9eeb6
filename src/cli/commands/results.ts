/** CLI commands: duckmerge results … */
import type { Command } from '../command.js'

export const resultsCommands: readonly Command[] = []
