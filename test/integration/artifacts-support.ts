/** A DVC-like project for the artifacts tests: results DBs (xetrack fixtures), Parquet, a model. */
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { literal, raw, sql } from '../../src/engine/sql.js'
import { fixture } from '../support/fixtures.js'
import { tempDir } from '../support/temp.js'

/** A DVC-like project: results DBs (xetrack fixtures), Parquet data, a model file. */
export async function project(): Promise<string> {
  const dir = tempDir()
  copyFileSync(fixture('xetrack', 'a_base_e0.1.0.db'), join(dir, 'experiments.db'))
  copyFileSync(fixture('xetrack', 'b_sweep_e0.2.0.db'), join(dir, 'sweep.db'))
  copyFileSync(fixture('xetrack', 'd_rebase_e0.1.0_corrected.db'), join(dir, 'corrected.db'))
  await withDuckDb({}, async (db) => {
    const write = (select: string, file: string) =>
      db.run(sql`copy (${raw(select)}) to ${literal(join(dir, file))} (format parquet)`)
    await write(`select i as id, i * 1.5 as x, 'v1' as prep from range(100) t(i)`, 'train.parquet')
    await write(
      `select i as id, i * 2.0 as x, 'v2' as prep from range(50, 120) t(i)`,
      'incoming.parquet',
    )
  })
  writeFileSync(join(dir, 'model.bin'), 'trained weights')
  writeFileSync(join(dir, 'broken.parquet'), 'PAR1 this is not parquet PAR1')
  return dir
}

/** Hidden files left in `dir` (temporary outputs). */
export const noTemps = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.'))
