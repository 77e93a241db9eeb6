/** Helpers for the Delta writer tests: read a table back, and validate every action we wrote. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { DuckDb } from '../../src/engine/duckdb.js'
import { ident, join as joinSql, literal, sql } from '../../src/engine/sql.js'
import { loadSnapshot, parseSchema, scanSql } from '../../src/formats/delta/index.js'

/** Every row of the table at `version` (latest by default), through the reader, ordered by `order`. */
export async function readRows(
  table: string,
  order: string,
  version?: number,
): Promise<Record<string, unknown>[]> {
  const snapshot = await loadSnapshot(table, version === undefined ? {} : { version })
  const db = await DuckDb.open()
  const longs = snapshot.schema.fields.filter((f) => f.type === 'long').map((f) => f.name)
  try {
    const rows = await db.allJson(
      sql`select * from (${scanSql(snapshot)}) order by ${ident(order)}`,
    )
    // allJson renders BIGINT as strings; these tables' longs are small, compare them as numbers.
    for (const row of rows)
      for (const name of longs) if (row[name] != null) row[name] = Number(row[name])
    return rows
  } finally {
    db.close()
  }
}

/** The row count of the live files read with plain DuckDB read_parquet of the add paths. */
export async function plainParquetCount(table: string): Promise<number> {
  const snapshot = await loadSnapshot(table)
  if (snapshot.files.length === 0) return 0
  const db = await DuckDb.open()
  try {
    const paths = snapshot.files.map((f) => join(table, decodeURIComponent(f.path)))
    const row = await db.one<{ n: bigint }>(
      sql`select count(*) as n from read_parquet([${joinSql(paths.map(literal))}], hive_partitioning = false)`,
    )
    return Number(row?.n)
  } finally {
    db.close()
  }
}

/** Every commit file's actions, by version. */
export function commitsOf(table: string): Record<string, unknown>[][] {
  const dir = join(table, '_delta_log')
  return readdirSync(dir)
    .filter((n) => /^\d{20}\.json$/.test(n))
    .sort()
    .map((n) =>
      readFileSync(join(dir, n), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    )
}

const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v)
const isStringMap = (v: unknown) =>
  typeof v === 'object' &&
  v !== null &&
  Object.values(v).every((x) => x === null || typeof x === 'string')

/**
 * Checks each action against PROTOCOL.md's required fields and types (Actions section), and
 * each commit against "Delta Log Entries" (commitInfo first, one metaData / protocol at most).
 */
export function expectValidLog(table: string): void {
  const commits = commitsOf(table)
  let partitionColumns: string[] = []
  for (const [version, actions] of commits.entries()) {
    const where = `version ${version}`
    expect(Object.keys(actions[0] ?? {}), `${where}: commitInfo first`).toEqual(['commitInfo'])
    expect(actions.filter((a) => 'metaData' in a).length, where).toBeLessThanOrEqual(1)
    expect(actions.filter((a) => 'protocol' in a).length, where).toBeLessThanOrEqual(1)
    for (const action of actions) {
      const keys = Object.keys(action)
      expect(keys, `${where}: one action per line`).toHaveLength(1)
      const kind = keys[0] ?? ''
      const a = action[kind] as Record<string, unknown>
      switch (kind) {
        case 'commitInfo':
          expect(isInt(a.timestamp), where).toBe(true)
          expect(typeof a.operation, where).toBe('string')
          expect(isStringMap(a.operationParameters), `${where}: operationParameters`).toBe(true)
          expect(isStringMap(a.operationMetrics), `${where}: operationMetrics`).toBe(true)
          expect(a.engineInfo, where).toMatch(/^duckmerge\//)
          break
        case 'protocol': {
          expect(isInt(a.minReaderVersion) && isInt(a.minWriterVersion), where).toBe(true)
          const r = a.minReaderVersion as number
          const w = a.minWriterVersion as number
          expect('readerFeatures' in a, `${where}: readerFeatures only at reader 3`).toBe(r === 3)
          expect('writerFeatures' in a, `${where}: writerFeatures only at writer 7`).toBe(w === 7)
          break
        }
        case 'metaData':
          expect(typeof a.id, where).toBe('string')
          expect(a.format, where).toEqual({ provider: 'parquet', options: {} })
          expect(() => parseSchema(a.schemaString as string), where).not.toThrow()
          expect(Array.isArray(a.partitionColumns), where).toBe(true)
          expect(isStringMap(a.configuration), where).toBe(true)
          expect(isInt(a.createdTime), where).toBe(true)
          partitionColumns = a.partitionColumns as string[]
          break
        case 'add': {
          expect(typeof a.path, where).toBe('string')
          expect(a.path, `${where}: add.path is URI-encoded`).not.toMatch(/ |%(?![0-9A-F]{2})/)
          expect(isStringMap(a.partitionValues), where).toBe(true)
          expect(Object.keys(a.partitionValues as object).sort(), where).toEqual(
            [...partitionColumns].sort(),
          )
          expect(isInt(a.size) && (a.size as number) > 0, where).toBe(true)
          expect(isInt(a.modificationTime), where).toBe(true)
          expect(typeof a.dataChange, where).toBe('boolean')
          const stats = JSON.parse(a.stats as string) as Record<string, unknown>
          expect(Object.keys(stats), `${where}: stats`).toEqual([
            'numRecords',
            'minValues',
            'maxValues',
            'nullCount',
          ])
          expect(isInt(stats.numRecords), where).toBe(true)
          break
        }
        case 'remove':
          expect(typeof a.path, where).toBe('string')
          expect(isInt(a.deletionTimestamp), where).toBe(true)
          expect(typeof a.dataChange, where).toBe('boolean')
          break
        case 'txn':
          expect(typeof a.appId, where).toBe('string')
          expect(isInt(a.version), where).toBe(true)
          break
        default:
          throw new Error(`${where}: unexpected action ${kind}`)
      }
    }
  }
}

/**
 * Hand-edits version 0 of a table we created: replaces its protocol and lets `edit` change its
 * metaData (configuration, field metadata), to stand for a table another engine wrote.
 */
export function rewriteVersion0(
  table: string,
  protocol: Record<string, unknown>,
  edit: (metaData: Record<string, unknown>) => void = () => {},
): void {
  const file = join(table, '_delta_log', `${'0'.padStart(20, '0')}.json`)
  const actions = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>)
  for (const action of actions) {
    if (action.protocol) action.protocol = protocol
    if (action.metaData) edit(action.metaData)
  }
  writeFileSync(file, `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`)
}
