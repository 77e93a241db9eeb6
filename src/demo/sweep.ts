/**
 * The demo's parallel sweep: one child process per learning rate, all tracking into the same
 * results database at once, as a hyper-parameter sweep on one machine does.
 */
import { fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DuckmergeError } from '../errors.js'
import type { ExperimentConfig, ExperimentResult } from './demo-experiment.js'

/**
 * Runs every config in its own process, concurrently; resolves with their results in order.
 *
 * @example
 * await runSweep([0.03, 0.003].map((lr) => ({ db: 'sweep.db', experimentVersion: 'e0.2.0', lr, items: 20 })))
 */
export function runSweep(configs: readonly ExperimentConfig[]): Promise<ExperimentResult[]> {
  const entry = workerEntry()
  return Promise.all(
    configs.map(
      (config) =>
        new Promise<ExperimentResult>((resolve, reject) => {
          const child = fork(entry.file, [JSON.stringify(config)], {
            execArgv: entry.execArgv,
            stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          })
          let stderr = ''
          let result: ExperimentResult | undefined
          let failure: string | undefined
          child.stderr?.on('data', (chunk: Buffer) => {
            stderr += chunk.toString()
          })
          child.on('message', (message: { result?: ExperimentResult; error?: string }) => {
            result = message.result
            failure = message.error
          })
          child.on('error', reject)
          child.on('exit', (code) => {
            if (code === 0 && result) resolve(result)
            else
              reject(
                new DuckmergeError(
                  'INTERNAL',
                  `Sweep worker for lr=${config.lr} failed (exit ${code}): ${failure ?? stderr.trim().split('\n').at(-1) ?? 'no message'}`,
                ),
              )
          })
        }),
    ),
  )
}

/** The compiled worker beside this module, or, from the TypeScript sources, the .ts through tsx. */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./sweep-worker.js', import.meta.url))
  if (existsSync(js)) return { file: js, execArgv: [] }
  const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'))
  const loader = pathToFileURL(join(tsx, 'dist', 'loader.mjs')).href
  return {
    file: fileURLToPath(new URL('./sweep-worker.ts', import.meta.url)),
    execArgv: ['--import', loader],
  }
}
