/** CLI commands: duckmerge delta … (writing: create, append, overwrite, delete, vacuum, checkpoint) */
import type { Command } from '../command.js'

export const deltaWriteCommands: readonly Command[] = []
