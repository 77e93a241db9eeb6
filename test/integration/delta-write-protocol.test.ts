/**
 * Writing to tables at legacy writer versions 2–6 (Databricks' common reader 2 / writer 5) and to
 * table-features tables: allowed while the table uses none of the features duckmerge does not
 * maintain, refused naming the feature (and what shows it) when it does.
 */
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  appendTable,
  createTable,
  deleteWhere,
  loadSnapshot,
  scanSql,
} from '../../src/formats/delta/index.js'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { expectValidLog, readRows, rewriteVersion0 } from './delta-write.helpers.js'

const rows = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => ({ id: from + k, score: from + k + 0.5 }))

/** Sets metadata on the schema's field `column` (as Spark marks generated and identity columns). */
const markColumn =
  (column: string, marks: Record<string, unknown>) => (metaData: Record<string, unknown>) => {
    const schema = JSON.parse(metaData.schemaString as string) as {
      fields: { name: string; metadata: Record<string, unknown> }[]
    }
    for (const f of schema.fields) if (f.name === column) Object.assign(f.metadata, marks)
    metaData.schemaString = JSON.stringify(schema)
  }
const setProperty = (key: string, value: string) => (metaData: Record<string, unknown>) => {
  metaData.configuration = { ...(metaData.configuration as object), [key]: value }
}

async function table(
  protocol: Record<string, unknown>,
  edit?: (m: Record<string, unknown>) => void,
): Promise<string> {
  const path = join(tempDir(), 't')
  await createTable({ path, source: { rows: rows(0, 4) } })
  rewriteVersion0(path, protocol, edit)
  return path
}

interface Case {
  name: string
  protocol: Record<string, unknown>
  edit?: (m: Record<string, unknown>) => void
  /** The message must name this; omitted: the writes succeed. */
  refused?: RegExp
  features?: string[]
}

const legacy = (r: number, w: number) => ({ minReaderVersion: r, minWriterVersion: w })

describe('writer versions 2–6 and features in use', () => {
  test.each<Case>([
    { name: 'writer 3, no CHECK constraint', protocol: legacy(1, 3) },
    { name: 'writer 4, change data feed off', protocol: legacy(1, 4) },
    {
      name: 'reader 2 / writer 5 (Databricks), nothing in use',
      protocol: legacy(2, 5),
      edit: setProperty('delta.enableChangeDataFeed', 'false'),
    },
    { name: 'writer 6, no identity column', protocol: legacy(1, 6) },
    {
      name: 'table features listing changeDataFeed and checkConstraints, neither used',
      protocol: {
        minReaderVersion: 1,
        minWriterVersion: 7,
        writerFeatures: ['changeDataFeed', 'checkConstraints', 'generatedColumns'],
      },
    },
    {
      name: 'writer 3 with a CHECK constraint',
      protocol: legacy(1, 3),
      edit: setProperty('delta.constraints.positive', 'id >= 0'),
      refused:
        /writer version 3\): it uses writer feature checkConstraints \(delta\.constraints\.positive\)/,
      features: ['checkConstraints'],
    },
    {
      name: 'writer 5 with change data feed on',
      protocol: legacy(2, 5),
      edit: setProperty('delta.enableChangeDataFeed', 'true'),
      refused: /changeDataFeed \(delta\.enableChangeDataFeed=true\)/,
      features: ['changeDataFeed'],
    },
    {
      name: 'writer 4 with a generated column',
      protocol: legacy(1, 4),
      edit: markColumn('score', { 'delta.generationExpression': 'id + 0.5' }),
      refused: /generatedColumns \(column score\)/,
      features: ['generatedColumns'],
    },
    {
      name: 'writer 6 with an identity column',
      protocol: legacy(1, 6),
      edit: markColumn('id', {
        'delta.identity.start': 1,
        'delta.identity.step': 1,
        'delta.identity.allowExplicitInsert': true,
      }),
      refused: /identityColumns \(column id\)/,
      features: ['identityColumns'],
    },
    {
      name: 'table features with change data feed on',
      protocol: { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['changeDataFeed'] },
      edit: setProperty('delta.enableChangeDataFeed', 'true'),
      refused: /changeDataFeed/,
      features: ['changeDataFeed'],
    },
  ])('$name', async (c) => {
    const path = await table(c.protocol, c.edit)
    if (c.refused) {
      const before = hashTree(path)
      for (const write of [
        () => appendTable({ path, source: { rows: rows(4, 6) } }),
        () => deleteWhere({ path, where: 'id = 0' }),
      ]) {
        const error = await write().catch((e: unknown) => e)
        expect(error).toMatchObject({
          code: 'UNSUPPORTED_FEATURE',
          details: { features: c.features },
        })
        expect((error as Error).message).toMatch(c.refused)
      }
      expect(hashTree(path)).toEqual(before)
      return
    }
    await appendTable({ path, source: { rows: rows(4, 6) } })
    await deleteWhere({ path, where: 'id = 0' })
    expect((await readRows(path, 'id')).map((r) => r.id)).toEqual([1, 2, 3, 4, 5])
    expect((await loadSnapshot(path)).protocol).toEqual(c.protocol) // never silently upgraded
  })

  test('a timestamp_ntz column added to a 2/5 table upgrades to 3/7 listing every implied feature', async () => {
    const path = await table(legacy(2, 5))
    await appendTable({
      path,
      source: { query: "select 9::bigint as id, 9.5 as score, TIMESTAMP '2024-01-01' as at" },
      mergeSchema: true,
    })
    expect((await loadSnapshot(path)).protocol).toEqual({
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['columnMapping', 'timestampNtz'],
      writerFeatures: [
        'appendOnly',
        'invariants',
        'checkConstraints',
        'changeDataFeed',
        'generatedColumns',
        'columnMapping',
        'timestampNtz',
      ],
    })
    expectValidLog(path)
    expect(await readRows(path, 'id')).toHaveLength(5)
  })

  test('the CLI refuses naming the feature, exit 1', async () => {
    const path = await table(legacy(1, 3), setProperty('delta.constraints.positive', 'id >= 0'))
    const result = runCli(['delta', 'delete', path, '--where', 'id = 1', '--json'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('UNSUPPORTED_FEATURE')
    expect(result.stderr).toContain('checkConstraints (delta.constraints.positive)')
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('Spark tables at legacy writer versions'), () => {
  test('appends to the 2/5 column-mapped Spark table as it is', async () => {
    const path = join(tempDir(), 't')
    cpSync(fixture('delta', 'table-with-columnmapping-mode-name'), path, { recursive: true })
    const before = await loadSnapshot(path)
    expect(before.protocol).toEqual(legacy(2, 5))
    const result = await appendTable({ path, source: { query: scanSql(before) } })
    expect(result.metrics.numOutputRows).toBe(6)
    const after = await loadSnapshot(path)
    expect(after.protocol).toEqual(legacy(2, 5))
    expect(after.files).toHaveLength(before.files.length + 1)
  })

  test('refuses the 1/4 table with change data feed on, naming it; table unchanged', async () => {
    const path = join(tempDir(), 't')
    cpSync(fixture('delta', 'checkpoint-cdf-table'), path, { recursive: true })
    const before = hashTree(path)
    await expect(
      appendTable({ path, source: { query: scanSql(await loadSnapshot(path)) } }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      message: expect.stringContaining(
        'writer version 4): it uses writer feature changeDataFeed (delta.enableChangeDataFeed=true)',
      ),
    })
    expect(hashTree(path)).toEqual(before)
  })
})
