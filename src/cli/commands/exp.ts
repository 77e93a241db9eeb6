/** CLI commands: duckmerge exp … */
import type { Command } from '../command.js'

export const expCommands: readonly Command[] = []
