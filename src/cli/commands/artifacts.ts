/** CLI commands: duckmerge artifacts … */
import type { Command } from '../command.js'

export const artifactsCommands: readonly Command[] = []
