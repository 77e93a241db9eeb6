/** The delta read commands (show, cat, history, query) run as a subprocess on the fixtures. */
import { cpSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import {
  addAction,
  field,
  metaDataAction,
  protocolAction,
  writeLog,
  writeParquet,
} from './delta-read.helpers.js'

const table = (name: string) => fixture('delta', name)
const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe.skipIf(!hasFixtures)(needsFixtures('duckmerge delta (read)'), () => {
  test('show --json: version, counts, Delta schema, partitioning, protocol', () => {
    const result = runCli(['delta', 'show', table('data-reader-timestamp_ntz'), '--json'])
    expect(result.code).toBe(0)
    expect(result.json()).toMatchObject({
      version: 1,
      numRows: 9,
      numFiles: 4,
      schema: [
        { name: 'id', type: 'integer', nullable: true },
        { name: 'tsNtz', type: 'timestamp_ntz', nullable: true },
        { name: 'tsNtzPartition', type: 'timestamp_ntz', nullable: true },
      ],
      partitionColumns: ['tsNtzPartition'],
      protocol: {
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: ['timestampNtz'],
        writerFeatures: ['timestampNtz'],
      },
    })
  })

  test('show at a version, and as readable text', () => {
    const v0 = runCli(['delta', 'show', table('simple_table'), '--version', '0', '--json'])
    expect(v0.json()).toMatchObject({ version: 0, numRows: 5 })
    const text = runCli(['delta', 'show', table('table-with-dv-small')])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('8 rows in 1 files')
    expect(text.stdout).toContain('features: deletionVectors')
  })

  test('show --timestamp uses commit file mtimes', () => {
    const dir = join(tempDir(), 't')
    cpSync(table('time-travel-start-start20-start40'), dir, { recursive: true })
    ;[1540415658, 1540416858, 1540418058].forEach((s, v) => {
      utimesSync(join(dir, '_delta_log', `0000000000000000000${v}.json`), s, s)
    })
    const at = (iso: string) =>
      runCli(['delta', 'show', dir, '--timestamp', iso, '--json']).json<{ version: number }>()
    expect(at(new Date(1540416858000).toISOString()).version).toBe(1)
    expect(at(new Date(1540416858000 - 1).toISOString()).version).toBe(0)
    const byInfo = runCli([
      'delta',
      'show',
      dir,
      '--timestamp',
      new Date(1603724021190).toISOString(),
      '--timestamp-source',
      'commit-info',
      '--json',
    ])
    expect(byInfo.json()).toMatchObject({ version: 1, numRows: 20 })
  })

  test('cat: exact JSON lines (decimals and longs without loss)', () => {
    const result = runCli(['delta', 'cat', table('basic-decimal-table')])
    expect(result.code).toBe(0)
    const lines = result.stdout.trim().split('\n').sort()
    expect(lines).toContain(
      '{"part":2342222.23454,"col1":111.11,"col2":22222.22222,"col3":3333333333.3333333333}',
    )
    expect(lines).toContain(
      '{"part":-2342342.23423,"col1":-999.99,"col2":-99999.99999,"col3":-9999999999.9999999999}',
    )
    expect(lines).toHaveLength(4)
  })

  test('cat --limit, --version and --format csv', () => {
    const limited = runCli([
      'delta',
      'cat',
      table('simple_table'),
      '--version',
      '1',
      '--limit',
      '3',
    ])
    expect(jsonLines(limited.stdout)).toHaveLength(3)
    const csv = runCli(['delta', 'cat', table('data-reader-escaped-chars'), '--format', 'csv'])
    expect(csv.stdout.trim().split('\n').sort()).toEqual([
      '_1,_2',
      'foo1,bar+%21',
      'foo2,bar+%22',
      'foo3,bar+%23',
    ])
  })

  test('cat binary as base64, NULLs as null', () => {
    const rows = jsonLines(runCli(['delta', 'cat', table('data-reader-primitives')]).stdout)
    expect(rows).toHaveLength(11)
    expect(rows.find((r) => r.as_int === 3)).toMatchObject({ as_binary: 'AwM=', as_long: 3 })
    expect(rows.filter((r) => r.as_int === null)[0]).toMatchObject({ as_binary: null })
  })

  test('cat streams tables larger than one DuckDB chunk, line for line', async () => {
    const dir = join(tempDir(), 'big')
    await withDuckDb({}, (db) =>
      writeParquet(db, dir, 'a.parquet', 'select range as id from range(5000)'),
    )
    writeLog(dir, [
      [protocolAction(), metaDataAction([field('id', 'long')]), addAction('a.parquet')],
    ])
    const jsonl = runCli(['delta', 'cat', dir])
    expect(jsonl.code).toBe(0)
    expect(jsonl.stdout.endsWith('}\n')).toBe(true)
    const ids = jsonLines(jsonl.stdout).map((r) => r.id as number)
    expect(ids).toHaveLength(5000)
    expect(new Set(ids).size).toBe(5000)
    const csv = runCli(['delta', 'cat', dir, '--format', 'csv'])
    expect(csv.stdout.split('\n')).toHaveLength(5002) // header, 5000 rows, final newline
  })

  test('history --json: newest first, with operation details', () => {
    const result = runCli(['delta', 'history', table('basic-with-inserts-merge'), '--json'])
    const { commits } = result.json<{ commits: Record<string, unknown>[] }>()
    expect(commits.map((c) => c.version)).toEqual([1, 0])
    expect(commits[0]).toMatchObject({
      operation: 'MERGE',
      operationMetrics: { numTargetRowsInserted: '50', numTargetRowsDeleted: '10' },
    })
    const limited = runCli(['delta', 'history', table('simple_table'), '--limit', '2', '--json'])
    expect(limited.json<{ commits: unknown[] }>().commits).toHaveLength(2)
  })

  test('query: the snapshot is the view t', () => {
    const json = runCli([
      'delta',
      'query',
      table('basic-with-inserts-merge'),
      'select str, count(*) as n from t group by str having n > 1 order by str',
      '--json',
    ])
    expect(json.json()).toEqual({
      columns: [
        { name: 'str', type: 'VARCHAR' },
        { name: 'n', type: 'BIGINT' },
      ],
      rows: [
        { str: 'EXT', n: '50' },
        { str: 'N/A', n: '50' },
      ],
    })
    const old = runCli([
      'delta',
      'query',
      table('simple_table'),
      'select sum(id) as s from t;',
      '--version',
      '3',
      '--format',
      'jsonl',
    ])
    expect(old.stdout.trim()).toBe('{"s":235}')
    const text = runCli(['delta', 'query', table('simple_table'), 'select count(*) as n from t'])
    expect(text.stdout).toMatch(/n\n-+\n\s*3/)
  })

  test('an unsupported table exits 1 naming the version; nothing is written', () => {
    const before = hashTree(table('deltalog-invalid-protocol-version'))
    for (const verb of ['show', 'cat']) {
      const result = runCli(['delta', verb, table('deltalog-invalid-protocol-version')])
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(
        /UNSUPPORTED_FEATURE.*reader version 99, which duckmerge does not support/,
      )
    }
    expect(hashTree(table('deltalog-invalid-protocol-version'))).toEqual(before)
  })

  test('usage errors exit 2; a missing version exits 1', () => {
    expect(runCli(['delta', 'cat', table('simple_table'), '--format', 'xml']).code).toBe(2)
    expect(
      runCli([
        'delta',
        'show',
        table('simple_table'),
        '--version',
        '1',
        '--timestamp',
        '2020-01-01',
      ]).code,
    ).toBe(2)
    const missing = runCli([
      'delta',
      'show',
      table('checkpoint-cdf-table'),
      '--version',
      '1',
      '--json',
    ])
    expect(missing.code).toBe(1)
    expect(missing.json()).toMatchObject({ error: { code: 'VERSION_NOT_FOUND' } })
  })
})
