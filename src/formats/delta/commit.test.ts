import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test/support/temp.js'
import type { Action, AddFile } from './actions.js'
import { commit, ENGINE_INFO } from './commit.js'

const add = (path: string): AddFile => ({
  path,
  partitionValues: {},
  size: 1,
  modificationTime: 0,
  dataChange: true,
})
const lines = (table: string, version: number) =>
  readFileSync(join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>)

function commitFile(table: string, version: number, actions: Action[]) {
  mkdirSync(join(table, '_delta_log'), { recursive: true })
  writeFileSync(
    join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`),
    `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`,
  )
}

describe('commit', () => {
  test('writes commitInfo first, with string parameters and metrics, then the actions', async () => {
    const table = tempDir()
    const result = await commit(table, [{ add: add('a.parquet') }], {
      readVersion: null,
      operation: 'WRITE',
      operationParameters: { mode: 'Append', partitionBy: [] },
      operationMetrics: { numFiles: 1, numOutputRows: 10 },
      isBlindAppend: true,
    })
    expect(result.version).toBe(0)
    expect(result.attempts).toBe(1)
    const [first, second] = lines(table, 0)
    expect(first?.commitInfo).toMatchObject({
      operation: 'WRITE',
      operationParameters: { mode: 'Append', partitionBy: '[]' },
      operationMetrics: { numFiles: '1', numOutputRows: '10' },
      isBlindAppend: true,
      engineInfo: ENGINE_INFO,
    })
    expect(typeof first?.commitInfo?.timestamp).toBe('number')
    expect(second).toEqual({ add: add('a.parquet') })
    expect(readdirSync(join(table, '_delta_log', '.tmp'))).toEqual([])
  })

  test('a lost race without a logical conflict retries at the next free version', async () => {
    const table = tempDir()
    commitFile(table, 0, [{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }])
    commitFile(table, 1, [{ commitInfo: { isBlindAppend: true } }, { add: add('w1') }])
    commitFile(table, 2, [{ commitInfo: { isBlindAppend: true } }, { add: add('w2') }])
    const result = await commit(table, [{ add: add('ours') }], {
      readVersion: 0,
      operation: 'WRITE',
      isBlindAppend: true,
    })
    expect(result).toMatchObject({ version: 3, attempts: 2 })
    expect(lines(table, 1)[1]).toEqual({ add: add('w1') }) // the winner is untouched
    expect(lines(table, 3)[0]?.commitInfo?.readVersion).toBe(0)
  })

  test('a winner removing a file we read is COMMIT_CONFLICT naming its version; nothing is written', async () => {
    const table = tempDir()
    commitFile(table, 0, [{ add: add('f1') }])
    commitFile(table, 1, [{ commitInfo: {} }, { remove: { path: 'f1', dataChange: true } }])
    await expect(
      commit(table, [{ remove: { path: 'f1', dataChange: true } }, { add: add('g') }], {
        readVersion: 0,
        operation: 'DELETE',
        reads: { files: [add('f1')], scope: 'all' },
      }),
    ).rejects.toMatchObject({
      code: 'COMMIT_CONFLICT',
      message: expect.stringMatching(/version 1 was committed concurrently.*removed f1/),
      details: { version: 1, reason: 'concurrent-delete-delete' },
    })
    expect(existsSync(join(table, '_delta_log', `${'2'.padStart(20, '0')}.json`))).toBe(false)
    expect(readdirSync(join(table, '_delta_log', '.tmp'))).toEqual([])
  })

  test('creating a table that someone else created first is COMMIT_CONFLICT', async () => {
    const table = tempDir()
    commitFile(table, 0, [{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }])
    await expect(
      commit(table, [{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }], {
        readVersion: null,
        operation: 'CREATE TABLE',
      }),
    ).rejects.toMatchObject({ code: 'COMMIT_CONFLICT', details: { version: 0 } })
  })

  test('20 concurrent blind appends get 20 contiguous versions, each exactly once', async () => {
    const table = tempDir()
    commitFile(table, 0, [{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }])
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        commit(table, [{ add: add(`f${i}`) }], {
          readVersion: 0,
          operation: 'WRITE',
          isBlindAppend: true,
        }),
      ),
    )
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
    const paths = results.map((r) => lines(table, r.version)[1]?.add?.path).sort()
    expect(new Set(paths).size).toBe(20)
  })

  test('refuses two adds of the same path in one commit', async () => {
    const table = tempDir()
    await expect(
      commit(table, [{ add: add('a') }, { add: add('a') }], {
        readVersion: null,
        operation: 'WRITE',
      }),
    ).rejects.toMatchObject({ code: 'INTERNAL' })
    expect(existsSync(join(table, '_delta_log', `${'0'.padStart(20, '0')}.json`))).toBe(false)
  })

  test('afterCommit runs with the committed version; its failure does not undo the commit', async () => {
    const table = tempDir()
    const seen: number[] = []
    const result = await commit(table, [{ add: add('a') }], {
      readVersion: null,
      operation: 'WRITE',
      afterCommit: async (v) => {
        seen.push(v)
        throw new Error('disk full')
      },
    })
    expect(seen).toEqual([0])
    expect(result.afterCommitError).toBe('disk full')
    expect(lines(table, 0)).toHaveLength(2)
  })
})
