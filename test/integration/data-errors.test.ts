/**
 * Every bad input of `duckmerge data merge|rebase`, through the CLI: exit code 1, one message
 * line naming what is wrong and where, no output, inputs byte-for-byte unchanged.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { withDuckDb } from '../../src/engine/duckdb.js'
import { literal, sql } from '../../src/engine/sql.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/snapshot.js'
import { tempDir } from '../support/temp.js'
import { writeParquet } from './data-support.js'

const cols = { id: 'INTEGER', v: 'VARCHAR' }

interface Case {
  readonly dir: string
  readonly base: string
  readonly exp: string
  readonly output: string
}

async function setup(): Promise<Case> {
  const dir = tempDir()
  const base = join(dir, 'base.parquet')
  const exp = join(dir, 'exp.parquet')
  await writeParquet(base, cols, [
    [1, 'a'],
    [2, 'b'],
  ])
  await writeParquet(exp, cols, [[3, 'c']])
  return { dir, base, exp, output: join(dir, 'out', 'merged.parquet') }
}

/** Runs the CLI, checks the failure contract, returns the one stderr line. */
function expectFailure(c: Case, args: readonly string[], code: string, output = c.output): string {
  mkdirSync(join(c.dir, 'out'), { recursive: true })
  const before = hashTree(c.dir)
  const existed = existsSync(output)
  const entries = readdirSync(c.dir).sort()
  const r = runCli(['data', ...args])
  expect(r.code, r.stderr).toBe(1)
  expect(r.stdout).toBe('')
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`^duckmerge: error \\[${code}\\]: `))
  expect(existsSync(output)).toBe(existed)
  expect(hashTree(c.dir)).toEqual(before)
  // No temporary output or spill folder left behind either.
  expect(readdirSync(c.dir).sort()).toEqual(entries)
  return lines[0] ?? ''
}

describe('duckmerge data: bad input fails cleanly', () => {
  test('a missing base file', async () => {
    const c = await setup()
    const missing = join(c.dir, 'nope.parquet')
    const line = expectFailure(
      c,
      ['merge', '--base', missing, '--exp', c.exp, '--output', c.output],
      'INPUT_NOT_FOUND',
    )
    expect(line).toContain(`]: Parquet path not found: ${missing}`)
  })

  test('an exp glob that matches nothing', async () => {
    const c = await setup()
    const glob = join(c.dir, 'new-*.parquet')
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', glob, '--output', c.output],
      'INPUT_NOT_FOUND',
    )
    expect(line).toContain(`]: Glob ${glob} matches no files`)
  })

  test('a directory with no Parquet files', async () => {
    const c = await setup()
    const empty = join(c.dir, 'empty')
    mkdirSync(empty)
    writeFileSync(join(empty, 'README'), 'not data')
    const line = expectFailure(
      c,
      ['rebase', '--base', c.base, '--exp', empty, '--output', c.output, '--key', 'id'],
      'INPUT_NOT_FOUND',
    )
    expect(line).toContain(`]: Directory ${empty} holds no .parquet files`)
  })

  test('a file that is not Parquet', async () => {
    const c = await setup()
    const csv = join(c.dir, 'rows.parquet')
    writeFileSync(csv, 'id,v\n1,a\n')
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', csv, '--output', c.output],
      'INPUT_UNREADABLE',
    )
    expect(line).toContain(`]: ${csv} is not a Parquet file`)
  })

  test('a truncated Parquet file', async () => {
    const c = await setup()
    const truncated = join(c.dir, 'truncated.parquet')
    const bytes = readFileSync(c.base)
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 10))
    const line = expectFailure(
      c,
      ['merge', '--base', truncated, '--exp', c.exp, '--output', c.output],
      'INPUT_UNREADABLE',
    )
    expect(line).toContain(`]: ${truncated} is a truncated or corrupt Parquet file`)
  })

  test('a Parquet file with a corrupt footer inside a directory names that file', async () => {
    const c = await setup()
    const folder = join(c.dir, 'parts')
    mkdirSync(folder)
    copyFileSync(c.base, join(folder, 'a.parquet'))
    const bytes = Buffer.from(readFileSync(c.base))
    // The footer is [metadata][4-byte length]PAR1: overwrite the metadata with garbage.
    const length = bytes.readUInt32LE(bytes.length - 8)
    bytes.fill(0xff, bytes.length - 8 - length, bytes.length - 8)
    const corrupt = join(folder, 'b.parquet')
    writeFileSync(corrupt, bytes)
    const line = expectFailure(
      c,
      ['merge', '--base', folder, '--exp', c.exp, '--output', c.output],
      'INPUT_UNREADABLE',
    )
    expect(line).toContain(`]: ${corrupt} is not readable Parquet: `)
    expect(line).not.toContain('LINE 1')
  })

  test('a key column missing on one side lists that side’s columns', async () => {
    const c = await setup()
    const other = join(c.dir, 'other.parquet')
    await writeParquet(other, { run: 'INTEGER', v: 'VARCHAR' }, [[1, 'x']])
    const line = expectFailure(
      c,
      ['rebase', '--base', c.base, '--exp', other, '--output', c.output, '--key', 'id'],
      'KEY_COLUMN_MISSING',
    )
    expect(line).toBe(
      `duckmerge: error [KEY_COLUMN_MISSING]: Cannot rebase ${other} onto ${c.base}: key column "id" is missing in ${other} (columns: run, v). Pass --key with columns both sides have.`,
    )
    const merge = expectFailure(
      c,
      ['merge', '--base', other, '--exp', c.exp, '--output', c.output, '--dedup-key', 'id'],
      'KEY_COLUMN_MISSING',
    )
    expect(merge).toContain(
      `key column "id" is missing in ${other} (columns: run, v). Pass --dedup-key`,
    )
  })

  test('incompatible column types name the column and both types', async () => {
    const c = await setup()
    const text = join(c.dir, 'text-ids.parquet')
    await writeParquet(text, { id: 'VARCHAR', v: 'VARCHAR' }, [['x', 'y']])
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', text, '--output', c.output],
      'SCHEMA_MISMATCH',
    )
    expect(line).toContain(
      `Column "id" is INTEGER in ${c.base} but VARCHAR in ${text}; that is not a safe widening.`,
    )
  })

  test('an output folder that does not exist', async () => {
    const c = await setup()
    const output = join(c.dir, 'no', 'such', 'out.parquet')
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', c.exp, '--output', output],
      'OUTPUT_UNWRITABLE',
      output,
    )
    expect(line).toContain(
      `Cannot write ${output}: folder ${join(c.dir, 'no', 'such')} does not exist or is not writable`,
    )
  })

  test('an output whose folder is a file', async () => {
    const c = await setup()
    const output = join(c.exp, 'out.parquet')
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', c.exp, '--output', output],
      'OUTPUT_UNWRITABLE',
      output,
    )
    expect(line).toContain(`Cannot write ${output}`)
  })

  test('an existing directory as output without --partition-by', async () => {
    const c = await setup()
    const output = join(c.dir, 'out')
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', c.exp, '--output', output],
      'OUTPUT_UNWRITABLE',
      output,
    )
    expect(line).toContain(`Output ${output} is a directory`)
  })

  test('an output equal to an input file', async () => {
    const c = await setup()
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', c.exp, '--output', c.base],
      'OUTPUT_IS_INPUT',
      c.base,
    )
    expect(line).toContain(`Output ${c.base} is also an input: it is the input file ${c.base}.`)
  })

  test('an output inside an input directory', async () => {
    const c = await setup()
    const folder = join(c.dir, 'parts')
    mkdirSync(folder)
    copyFileSync(c.base, join(folder, 'a.parquet'))
    const output = join(folder, 'merged.parquet')
    const line = expectFailure(
      c,
      ['merge', '--base', folder, '--exp', c.exp, '--output', output],
      'OUTPUT_IS_INPUT',
      output,
    )
    expect(line).toContain(`it lies inside the input directory ${folder}`)
  })

  test('an output an input glob matches', async () => {
    const c = await setup()
    const glob = join(c.dir, '*.parquet')
    const output = join(c.dir, 'merged.parquet')
    const line = expectFailure(
      c,
      ['merge', '--base', glob, '--exp', c.exp, '--output', output],
      'OUTPUT_IS_INPUT',
      output,
    )
    expect(line).toContain(`the input glob ${glob} matches it`)
  })

  test('a partitioned output that would replace a folder holding an input', async () => {
    const c = await setup()
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', c.exp, '--output', c.dir, '--partition-by', 'v'],
      'OUTPUT_IS_INPUT',
      c.dir,
    )
    expect(line).toContain(`it holds files of the input ${c.base} that replacing it would delete`)
  })

  test('a --partition-by column the data lacks', async () => {
    const c = await setup()
    const output = join(c.dir, 'out', 'parts')
    const line = expectFailure(
      c,
      ['merge', '--base', c.base, '--exp', c.exp, '--output', output, '--partition-by', 'year'],
      'COLUMN_NOT_FOUND',
      output,
    )
    expect(line).toContain(
      'Cannot partition by "year": the merged data has no such column (columns: id, v)',
    )
  })

  test('duplicate exp keys on rebase', async () => {
    const c = await setup()
    const dup = join(c.dir, 'dup.parquet')
    await writeParquet(dup, cols, [
      [5, 'x'],
      [5, 'y'],
    ])
    const line = expectFailure(
      c,
      [
        'rebase',
        '--base',
        c.base,
        '--exp',
        dup,
        '--output',
        c.output,
        '--key',
        'id',
        '--json',
      ].slice(0, -1),
      'DUPLICATE_KEY',
    )
    expect(line).toContain(`${dup} holds 2 rows with key id=5.`)
    expect(line).toContain('Deduplicate it, or choose a --key that tells its rows apart.')
  })

  test('--json failures print one JSON error object on stdout', async () => {
    const c = await setup()
    const r = runCli([
      'data',
      'merge',
      '--base',
      join(c.dir, 'nope'),
      '--exp',
      c.exp,
      '--output',
      c.output,
      '--json',
    ])
    expect(r.code).toBe(1)
    expect(r.json()).toMatchObject({ error: { code: 'INPUT_NOT_FOUND' } })
  })
})

/**
 * DuckDB never writes two column names equal but for case (it renames the second `ID_1`), but
 * other writers do. Renames `ID_1` to `ID` in the footer of a DuckDB-written file: a compact
 * Thrift string is a varint length then bytes, so `\x04ID_1` becomes `\x02ID` and the footer
 * length shrinks to match.
 */
function renameInFooter(path: string): void {
  const buf = readFileSync(path)
  const length = buf.readUInt32LE(buf.length - 8)
  const start = buf.length - 8 - length
  const from = Buffer.from([4, ...Buffer.from('ID_1')])
  const to = Buffer.from([2, ...Buffer.from('ID')])
  const footer = buf.subarray(start, buf.length - 8)
  const parts: Buffer[] = []
  let at = 0
  for (let i = footer.indexOf(from); i >= 0; i = footer.indexOf(from, at)) {
    parts.push(footer.subarray(at, i), to)
    at = i + from.length
  }
  parts.push(footer.subarray(at))
  const patched = Buffer.concat(parts)
  const size = Buffer.alloc(4)
  size.writeUInt32LE(patched.length)
  writeFileSync(path, Buffer.concat([buf.subarray(0, start), patched, size, Buffer.from('PAR1')]))
}

test('an input holding both Id and ID is refused naming both (issue 14; was read as ID_1)', async () => {
  const c = await setup()
  const twins = join(c.dir, 'twins.parquet')
  await withDuckDb({}, (db) =>
    db.run(sql`copy (select 1::int as "Id", 2::int as "ID") to ${literal(twins)} (format parquet)`),
  )
  renameInFooter(twins)
  const line = expectFailure(
    c,
    ['merge', '--base', c.base, '--exp', twins, '--output', c.output],
    'SCHEMA_MISMATCH',
  )
  expect(line).toContain(`]: ${twins} has columns "Id" and "ID", which differ only in case`)
})

test('running out of --memory-limit says so and names the flag (issue 14; blamed the inputs)', async () => {
  const c = await setup()
  const big = (path: string, step: number) =>
    withDuckDb({}, (db) =>
      db.run(
        sql`copy (select range * ${step} as id, repeat('x', 100) || range as v from range(300000)) to ${literal(path)} (format parquet)`,
      ),
    )
  const base = join(c.dir, 'big-base.parquet')
  const exp = join(c.dir, 'big-exp.parquet')
  await big(base, 1)
  await big(exp, 2)
  const line = expectFailure(
    c,
    [
      'rebase',
      '--base',
      base,
      '--exp',
      exp,
      '--output',
      c.output,
      '--key',
      'id',
      '--memory-limit',
      '2MB',
    ],
    'OUT_OF_MEMORY',
  )
  expect(line).toContain('DuckDB reached its memory limit')
  expect(line).toContain('Raise --memory-limit (e.g. 4GB).')
})
