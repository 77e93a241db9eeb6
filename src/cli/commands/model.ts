/** CLI commands: duckmerge model … */
import type { Command } from '../command.js'

export const modelCommands: readonly Command[] = []
