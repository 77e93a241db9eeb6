import { describe, expect, test } from 'vitest'
import { DuckmergeError } from '../errors.js'
import { parseArtifactParams } from './artifacts-params.js'

/** The DuckmergeError `fn` throws (fails the test when it throws nothing or something else). */
function errorOf(fn: () => unknown): DuckmergeError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(DuckmergeError)
    return error as DuckmergeError
  }
  throw new Error('expected an error')
}

describe('params.yaml as DVC writes it (full YAML 1.2)', () => {
  test('anchors, aliases, << merge keys and block scalars', () => {
    const text = [
      'defaults: &defaults',
      '  strategy: rebase',
      '  key_columns: [id, split]',
      'keys: &keys [experiment_version]',
      'notes: |',
      '  a block scalar',
      '  over two lines',
      'summary: >-',
      '  folded',
      '  text',
      'merge:',
      '  strategy: merge',
      '  key_columns: *keys',
      '  data:',
      '    <<: *defaults',
      '  results: {<<: *defaults, strategy: merge}',
      '  tables:',
      '    - runs',
      '    - "metrics"',
    ].join('\n')
    expect(parseArtifactParams(text, 'params.yaml')).toEqual({
      strategy: 'merge',
      key: ['experiment_version'],
      tables: ['runs', 'metrics'],
      results: { strategy: 'merge', key: ['id', 'split'] },
      data: { strategy: 'rebase', key: ['id', 'split'] },
    })
  })

  test('a multi-line plain value and a block scalar inside merge:', () => {
    const text = 'merge:\n  strategy: >-\n    rebase\n  key_columns:\n    id,\n    split\n'
    expect(parseArtifactParams(text, 'params.yaml')).toEqual({
      strategy: 'rebase',
      key: ['id', 'split'],
    })
  })

  test.each([
    {
      name: 'an unclosed flow list',
      yaml: 'merge:\n  key_columns: [a, b\n',
      line: 3,
    },
    { name: 'a duplicate key', yaml: 'merge:\n  strategy: merge\n  strategy: rebase\n', line: 3 },
    { name: 'a tab indent', yaml: 'merge:\n\tstrategy: merge\n', line: 2 },
  ])('refuses $name as INPUT_UNREADABLE naming the file, line and column', ({ yaml, line }) => {
    const error = errorOf(() => parseArtifactParams(yaml, 'params.yaml'))
    expect(error.code).toBe('INPUT_UNREADABLE')
    expect(error.message).toMatch(new RegExp(`^params\\.yaml line ${line}, column \\d+: `))
    expect(error.details).toMatchObject({ path: 'params.yaml', line })
  })

  test('pins the wording of a syntax error', () => {
    const error = errorOf(() => parseArtifactParams('a: 1\na: 2\nmerge: {}\n', 'params.yaml'))
    expect(error.message).toMatchInlineSnapshot(
      `"params.yaml line 2, column 1: Map keys must be unique. Fix the YAML there."`,
    )
  })

  test('an alias without its anchor is INPUT_UNREADABLE naming the alias', () => {
    const error = errorOf(() => parseArtifactParams('merge:\n  strategy: *nope\n', 'p.yaml'))
    expect(error.code).toBe('INPUT_UNREADABLE')
    expect(error.message).toContain('p.yaml')
    expect(error.message).toContain('nope')
  })
})

describe('parseArtifactParams', () => {
  test('the documented shape, reading only the merge section', () => {
    const text = [
      'model:',
      '  text: |',
      '    block scalars elsewhere are fine',
      'merge:',
      '  strategy: merge  # default',
      '  key_columns: [experiment_version]',
      '  results: merge',
      '  data:',
      '    strategy: rebase',
      '    key_columns: id, split',
      '  model: promote',
      'train:',
      '  lr: 0.1',
    ].join('\n')
    expect(parseArtifactParams(text, 'params.yaml')).toEqual({
      strategy: 'merge',
      key: ['experiment_version'],
      results: { strategy: 'merge' },
      data: { strategy: 'rebase', key: ['id', 'split'] },
      model: { strategy: 'promote' },
    })
  })

  test('flow map form and xetrack template keys', () => {
    expect(parseArtifactParams('merge: {strategy: rebase, model: rebase}', 'p.yaml')).toEqual({
      strategy: 'rebase',
      model: { strategy: 'promote' },
    })
    const xetrack =
      'merge:\n  strategy: merge\n  table: events\n  key_columns: version\n  data_strategy: rebase\n  data_key_columns: id\n'
    expect(parseArtifactParams(xetrack, 'p.yaml')).toEqual({
      strategy: 'merge',
      tables: ['events'],
      key: ['version'],
      data: { strategy: 'rebase', key: ['id'] },
    })
  })

  test('gathers every issue into one VALIDATION_FAILED', () => {
    const text =
      'merge:\n  strategy: squash\n  key_columns: [1]\n  data: {strategy: rebase, key: id}\n  model: delete\n  stratgy: merge\n'
    let error: unknown
    try {
      parseArtifactParams(text, 'params.yaml')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DuckmergeError)
    expect((error as DuckmergeError).code).toBe('VALIDATION_FAILED')
    expect((error as DuckmergeError).message).toMatchInlineSnapshot(
      `"params.yaml: merge.stratgy: unknown setting (known: strategy, key_columns, tables, results, data, model); merge.strategy: must be merge or rebase, got "squash"; merge.key_columns: must be a list of column names like [a, b], got [1]; merge.data.key: unknown setting (known: strategy, key_columns); merge.model: must be merge or promote, got "delete"."`,
    )
    expect((error as DuckmergeError).details.issues).toHaveLength(5)
  })

  test('a params file without a merge section', () => {
    expect(() => parseArtifactParams('train:\n  lr: 1\n', 'params.yaml')).toThrow(
      'params.yaml has no top-level "merge:" section',
    )
  })
})
