/** Child process of the demo's sweep: runs one experiment and reports its result over IPC. */
import { type ExperimentConfig, runExperiment } from './demo-experiment.js'

const config = JSON.parse(process.argv[2] ?? '{}') as ExperimentConfig
runExperiment(config).then(
  (result) => process.send?.({ result }),
  (error: unknown) => {
    process.send?.({ error: error instanceof Error ? error.message : String(error) })
    process.exitCode = 1
  },
)
