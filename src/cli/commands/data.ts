/** CLI commands: duckmerge data … */
import type { Command } from '../command.js'

export const dataCommands: readonly Command[] = []
