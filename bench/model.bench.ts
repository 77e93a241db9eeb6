/**
 * Model registry at MODEL_BENCH_MB (default 256) MB per model: registering a candidate (copy +
 * sha256 of the copy) against the floor of one copy plus one sha256 read; promoting (verify hash,
 * copy into the store, copy into production; the second promotion also hashes and stores the
 * replaced file) against the floor of one plain copy. Figures may be noisy on a shared machine.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { join } from 'node:path'
import { mergeModel, promoteModel } from '../src/index.js'
import { benchDir, measure, report } from './support.js'

const mb = Number(process.env.MODEL_BENCH_MB ?? 256)

async function writeRandom(path: string): Promise<void> {
  const handle = await fs.open(path, 'w')
  try {
    for (let i = 0; i < mb; i++) await handle.write(randomBytes(1 << 20))
  } finally {
    await handle.close()
  }
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk)
  return hash.digest('hex')
}

const { dir, done } = benchDir('model')
try {
  const a = join(dir, 'a', 'model.bin')
  const b = join(dir, 'b', 'model.bin')
  await fs.mkdir(join(dir, 'a'))
  await fs.mkdir(join(dir, 'b'))
  await writeRandom(a)
  await writeRandom(b)
  const models = join(dir, 'models')
  process.stdout.write(`model files: ${mb} MB each\n`)

  const floorRegister = await measure(async () => {
    await fs.copyFile(a, join(dir, 'floor-copy.bin'))
    await sha256(join(dir, 'floor-copy.bin'))
  })
  const register = await measure(() => mergeModel({ models, exp: a, runId: 'run-a' }))
  report('model merge (register candidate)', register, {
    label: 'copy + sha256',
    m: floorRegister,
  })
  await mergeModel({ models, exp: b, runId: 'run-b' })

  const floorCopy = await measure(() => fs.copyFile(a, join(dir, 'floor-copy-2.bin')))
  const first = await measure(() => promoteModel({ models, candidate: 'run-a_model.bin' }))
  report('model promote (first)', first, { label: 'one copy', m: floorCopy })
  const second = await measure(() => promoteModel({ models, candidate: 'run-b_model.bin' }))
  report('model promote (replacing production)', second, { label: 'one copy', m: floorCopy })
} finally {
  done()
}
