/** The caller's own commitInfo entries (userMetadata, extra operationParameters) through every write. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  appendTable,
  createTable,
  deleteWhere,
  history,
  overwriteTable,
} from '../../src/formats/delta/index.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { commitsOf, expectValidLog } from './delta-write.helpers.js'

const rows = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => ({ id: from + k, score: from + k + 0.5 }))

const commitInfoAt = (table: string, version: number) =>
  commitsOf(table)[version]?.[0]?.commitInfo as Record<string, unknown>

describe('commitInfo from the caller', () => {
  test('userMetadata and extra operationParameters land in every write commit and in history', async () => {
    const table = join(tempDir(), 'runs')
    const by = (cr: number) => ({
      userMetadata: `change request ${cr} by ana`,
      operationParameters: { changeRequest: cr, requester: 'ana' },
    })
    await createTable({ path: table, source: { rows: rows(0, 4) }, commitInfo: by(1) })
    await appendTable({ path: table, source: { rows: rows(4, 6) }, commitInfo: by(2) })
    await deleteWhere({ path: table, where: 'id = 0', commitInfo: by(3) })
    await overwriteTable({
      path: table,
      source: { rows: rows(10, 12) },
      where: 'id >= 10',
      commitInfo: by(4),
    })
    await appendTable({ path: table, source: { rows: rows(20, 21) } })
    expectValidLog(table)

    // Spark's layout: strings in operationParameters, userMetadata a top-level string.
    expect(commitInfoAt(table, 1)).toMatchObject({
      operation: 'WRITE',
      operationParameters: {
        mode: 'Append',
        partitionBy: '[]',
        changeRequest: '2',
        requester: 'ana',
      },
      userMetadata: 'change request 2 by ana',
    })
    expect(commitInfoAt(table, 2)).toMatchObject({
      operation: 'DELETE',
      operationParameters: { predicate: '["id = 0"]', changeRequest: '3', requester: 'ana' },
    })
    expect(Object.keys(commitInfoAt(table, 4))).not.toContain('userMetadata')

    const commits = await history(table)
    expect(commits.map((c) => [c.version, c.operation, c.userMetadata])).toEqual([
      [4, 'WRITE', null],
      [3, 'WRITE', 'change request 4 by ana'],
      [2, 'DELETE', 'change request 3 by ana'],
      [1, 'WRITE', 'change request 2 by ana'],
      [0, 'CREATE TABLE AS SELECT', 'change request 1 by ana'],
    ])
    expect(commits[1]?.operationParameters).toMatchObject({
      predicate: '["id >= 10"]',
      changeRequest: '4',
    })
  })

  test("a parameter that would replace the operation's own is refused, nothing written", async () => {
    const table = join(tempDir(), 'runs')
    await createTable({ path: table, source: { rows: rows(0, 2) } })
    const before = hashTree(table)
    const error = await appendTable({
      path: table,
      source: { rows: rows(2, 3) },
      commitInfo: { operationParameters: { mode: 'Overwrite', ticket: 7 } },
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { parameters: ['mode'] },
    })
    expect((error as Error).message).toContain(
      'operation parameter "mode" belongs to the operation',
    )
    expect(hashTree(table)).toEqual(before)
  })

  test('--user-metadata on the CLI shows in delta history (text and --json)', () => {
    const dir = tempDir()
    const csv = join(dir, 'rows.csv')
    writeFileSync(csv, 'id,score\n1,0.5\n2,1.5\n')
    const table = join(dir, 'runs')
    const created = runCli(['delta', 'create', table, '--from', csv, '--user-metadata', 'CR-7 ana'])
    expect(created.code, created.stderr).toBe(0)
    const appended = runCli(['delta', 'append', table, '--from', csv, '--json'])
    expect(appended.code, appended.stderr).toBe(0)
    expect(commitInfoAt(table, 0).userMetadata).toBe('CR-7 ana')

    const json = runCli(['delta', 'history', table, '--json'])
    expect(json.code, json.stderr).toBe(0)
    const commits = json.json<{ commits: { version: number; userMetadata: string | null }[] }>()
      .commits
    expect(commits.map((c) => [c.version, c.userMetadata])).toEqual([
      [1, null],
      [0, 'CR-7 ana'],
    ])
    const text = runCli(['delta', 'history', table])
    expect(text.stdout).toMatch(/userMetadata/)
    expect(text.stdout.split('\n').find((l) => l.includes('CREATE TABLE'))).toContain('CR-7 ana')
  })
})
