/**
 * `duckmerge migrate` as a subprocess on a Pidgin-like conversation store built here
 * (experiments, conversations, turns, messages, word frequencies one row per word), with the
 * phase-3 restructurings: --nest-rows into a MAP, --struct into a STRUCT, each undone by a query.
 */
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runCli } from '../support/cli.js'
import { fixture, hasFixtures, needsFixtures } from '../support/fixtures.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { duckRows, makeSqlite, sqliteRows } from './migrate-support.js'

/** 2 experiments, 4 conversations, 3 turns each, 2 messages per turn, word counts per message. */
function pidginStore(dir: string): string {
  const words = ['hello', 'there', 'agent', 'deal', 'no']
  const statements = [
    `create table experiments (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
      created_at DATETIME, config TEXT)`,
    `create table conversations (id INTEGER PRIMARY KEY AUTOINCREMENT,
      experiment_id INTEGER NOT NULL REFERENCES experiments(id), status TEXT,
      metric_convergence REAL, metric_vocab_size INTEGER, metric_entropy REAL)`,
    `create table turns (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL,
      turn_number INTEGER NOT NULL, UNIQUE (conversation_id, turn_number))`,
    `create table messages (id INTEGER PRIMARY KEY, turn_id INTEGER NOT NULL, agent TEXT NOT NULL,
      content TEXT, tokens INTEGER)`,
    `create table word_frequencies (message_id INTEGER NOT NULL, word TEXT NOT NULL,
      count INTEGER NOT NULL, PRIMARY KEY (message_id, word))`,
    'create index messages_by_turn on messages (turn_id)',
    `create view conversation_sizes as select c.id, count(m.id) as messages
      from conversations c join turns t on t.conversation_id = c.id
      join messages m on m.turn_id = t.id group by c.id`,
    `insert into experiments (name, created_at, config) values
      ('baseline', '2024-05-01 10:00:00', '{"temperature": 0.7}'),
      ('compression', '2024-05-02 11:30:00', '{"temperature": 0.2, "compress": true}')`,
  ]
  let turn = 0
  let message = 0
  for (let c = 1; c <= 4; c++) {
    statements.push(
      `insert into conversations values (${c}, ${((c - 1) % 2) + 1}, 'done', ${c / 10}, ${10 + c}, ${c * 0.5})`,
    )
    for (let t = 1; t <= 3; t++) {
      turn++
      statements.push(`insert into turns values (${turn}, ${c}, ${t})`)
      for (const agent of ['a', 'b']) {
        message++
        const used = words.filter((_, i) => (i + message) % 2 === 0)
        statements.push(
          `insert into messages values (${message}, ${turn}, '${agent}', '${used.join(' ')}', ${used.length})`,
        )
        for (const [i, w] of used.entries())
          statements.push(`insert into word_frequencies values (${message}, '${w}', ${i + 1})`)
      }
    }
  }
  return makeSqlite(join(dir, 'pidgin.db'), statements)
}

interface Report {
  tables: {
    name: string
    rowsRead: number
    rowsWritten: number
    checksum: { matches?: boolean; source: string }
    nested?: { column: string; rows: number; unnest: string }
    structs: { column: string; unnest: string }[]
    sequence?: { start: number }
  }[]
  views: { name: string; status: string }[]
}

describe('duckmerge migrate (CLI)', () => {
  test('a Pidgin-like store: every table, MAP of word counts, STRUCT of metrics, undone by queries', () => {
    const dir = tempDir()
    const source = pidginStore(dir)
    const target = join(dir, 'pidgin.duckdb')
    const result = runCli([
      'migrate',
      source,
      target,
      '--nest-rows',
      'word_frequencies:message_id:word:count',
      '--struct',
      'metric_',
      '--json',
    ])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const report = result.json<Report>()
    const counts = Object.fromEntries(report.tables.map((t) => [t.name, t.rowsWritten]))
    const wordRows = Number(sqliteRows(source, 'select count(*) as n from word_frequencies')[0]?.n)
    expect(counts).toEqual({
      experiments: 2,
      conversations: 4,
      turns: 12,
      messages: 24,
      word_frequencies: wordRows,
    })
    expect(report.tables.every((t) => t.checksum.matches === true)).toBe(true)
    const words = report.tables.find((t) => t.name === 'word_frequencies')
    expect(words?.nested).toMatchObject({ column: 'words', rows: 24 })
    expect(report.tables.find((t) => t.name === 'experiments')?.sequence).toMatchObject({
      start: 3,
    })
    expect(report.views).toEqual([
      { name: 'conversation_sizes', status: 'created', rows: { source: 4, target: 4 } },
    ])
    return (async () => {
      // The MAP folds one row per word; the reported query unfolds it back to the source rows.
      const unnested = await duckRows(
        target,
        `select message_id::INTEGER as message_id, word, count::INTEGER as count from (${words?.nested?.unnest}) order by all`,
      )
      expect(unnested).toEqual(
        sqliteRows(source, 'select message_id, word, count from word_frequencies order by 1, 2, 3'),
      )
      const conv = report.tables.find((t) => t.name === 'conversations')
      expect(conv?.structs.map((s) => s.column)).toEqual(['metric'])
      expect(
        await duckRows(
          target,
          `select id::INTEGER as id, ${conv?.structs[0]?.unnest} from conversations order by id limit 1`,
        ),
      ).toEqual([{ id: 1, metric_convergence: 0.1, metric_vocab_size: '11', metric_entropy: 0.5 }])
      expect(
        await duckRows(
          target,
          `select column_name, data_type from information_schema.columns where table_name = 'experiments' order by ordinal_position`,
        ),
      ).toEqual([
        { column_name: 'id', data_type: 'BIGINT' },
        { column_name: 'name', data_type: 'VARCHAR' },
        { column_name: 'created_at', data_type: 'TIMESTAMP' },
        { column_name: 'config', data_type: 'JSON' },
      ])
    })()
  })

  test('--dry-run prints the plan with reasons and writes nothing', () => {
    const dir = tempDir()
    const source = pidginStore(dir)
    const before = hashTree(dir)
    const result = runCli([
      'migrate',
      source,
      join(dir, 'out.duckdb'),
      '--dry-run',
      '--nest-rows',
      'word_frequencies:message_id:word:count',
    ])
    expect(result.code).toBe(0)
    expect(hashTree(dir)).toEqual(before)
    expect(result.stdout).toContain('Plan (dry run, nothing written)')
    expect(result.stdout).toContain('experiments.config')
    expect(result.stdout).toContain('every value is a JSON object or array')
    expect(result.stdout).toContain('rows nested into MAP column words')
    expect(result.stdout).toContain(
      'skipped foreign-key conversations(experiment_id) → experiments(id)',
    )
  })

  test('an existing target exits 1 naming --force; a bad --nest-rows exits 2', () => {
    const dir = tempDir()
    const source = makeSqlite(join(dir, 'in.db'), ['create table t (a INTEGER)'])
    const target = join(dir, 'out.duckdb')
    expect(runCli(['migrate', source, target]).code).toBe(0)
    const again = runCli(['migrate', source, target])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('[OUTPUT_UNWRITABLE]')
    expect(again.stderr).toContain('--force')
    expect(runCli(['migrate', source, target, '--force']).code).toBe(0)
    const bad = runCli(['migrate', source, join(dir, 'x.duckdb'), '--nest-rows', 't:a'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('TABLE:KEY_COLS:NAME_COL:VALUE_COL')
  })
})

describe.skipIf(!hasFixtures)(needsFixtures('xetrack fixtures'), () => {
  test('migrated xetrack files merge with results merge and open in exp list and exp diff', () => {
    const dir = tempDir()
    const a = join(dir, 'a.duckdb')
    const b = join(dir, 'b.duckdb')
    expect(runCli(['migrate', fixture('xetrack', 'a_base_e0.1.0.db'), a]).code).toBe(0)
    expect(runCli(['migrate', fixture('xetrack', 'b_sweep_e0.2.0.db'), b]).code).toBe(0)
    const merged = runCli(['results', 'merge', '--base', a, '--exp', b, '--json'])
    expect(merged.json()).toMatchObject({ rowsInserted: 63, rowsAfter: 104 })
    const list = runCli(['exp', 'list', '--db', a, '--json']).json<{
      table: string
      experiments: { version: string; rows: number; runs: string[] }[]
    }>()
    expect(list.table).toBe('predictions')
    expect(list.experiments.map((e) => [e.version, e.rows, e.runs.length])).toEqual([
      ['e0.1.0', 40, 1],
      ['e0.2.0', 60, 3],
    ])
    const diff = runCli(['exp', 'diff', 'e0.1.0', 'e0.2.0', '--db', a, '--json']).json<{
      rows: { base: number; exp: number }
      metrics: { metric: string; base: { mean: number } }[]
    }>()
    expect(diff.rows).toEqual({ base: 40, exp: 60 })
    expect(diff.metrics.find((m) => m.metric === 'accuracy')?.base.mean).toBe(0.75)
  })
})
