/** Every CLI command, in the order `duckmerge --help` lists them. */
import type { Command } from '../command.js'
import { artifactsCommands } from './artifacts.js'
import { crCommands } from './cr.js'
import { crReviewCommands } from './cr-review.js'
import { dataCommands } from './data.js'
import { datasetCommands } from './dataset.js'
import { deltaCommands } from './delta.js'
import { demoCommands } from './demo.js'
import { eventsCommands } from './events.js'
import { expCommands } from './exp.js'
import { gitCommands } from './git.js'
import { merge3Commands } from './merge3.js'
import { migrateCommands } from './migrate.js'
import { modelCommands } from './model.js'
import { resultsCommands } from './results.js'
import { serveCommands } from './serve.js'
import { tokenCommands } from './token.js'

export const commands: readonly Command[] = [
  ...demoCommands,
  ...resultsCommands,
  ...dataCommands,
  ...modelCommands,
  ...artifactsCommands,
  ...deltaCommands,
  ...expCommands,
  ...migrateCommands,
  ...eventsCommands,
  ...merge3Commands,
  ...gitCommands,
  ...datasetCommands,
  ...crCommands,
  ...crReviewCommands,
  ...serveCommands,
  ...tokenCommands,
]
