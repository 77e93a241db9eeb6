import { describe, expect, test } from 'vitest'
import { DuckmergeError } from '../errors.js'
import { parseArtifactParams } from './artifacts-params.js'
import { parseYamlSubset } from './artifacts-yaml.js'

describe('parseYamlSubset', () => {
  test.each([
    {
      name: 'scalars',
      yaml: 'a: 1\nb: 2.5\nc: true\nd: null\ne: ~\nf: text here\ng: -3e2',
      value: { a: 1, b: 2.5, c: true, d: null, e: null, f: 'text here', g: -300 },
    },
    {
      name: 'quoted strings keep their type and #',
      yaml: `a: "1"\nb: 'it''s # not a comment'\nc: "tab\\tx"`,
      value: { a: '1', b: "it's # not a comment", c: 'tab\tx' },
    },
    {
      name: 'comments and blank lines',
      yaml: '# top\n\na: 1 # trailing\n  # indented comment\nb: x#y',
      value: { a: 1, b: 'x#y' },
    },
    {
      name: 'nested maps',
      yaml: 'a:\n  b:\n    c: 1\n  d: 2\ne: 3',
      value: { a: { b: { c: 1 }, d: 2 }, e: 3 },
    },
    {
      name: 'block lists, indented or not',
      yaml: 'a:\n  - x\n  - 2\nb:\n- y\n- z',
      value: { a: ['x', 2], b: ['y', 'z'] },
    },
    {
      name: 'flow lists and maps',
      yaml: 'a: [x, "y, z", 3]\nb: {c: merge, d: [1, 2], e: {f: g}}\nh: []',
      value: { a: ['x', 'y, z', 3], b: { c: 'merge', d: [1, 2], e: { f: 'g' } }, h: [] },
    },
    {
      name: 'list of maps',
      yaml: 'runs:\n  - name: a\n    lr: 0.1\n  - name: b',
      value: { runs: [{ name: 'a', lr: 0.1 }, { name: 'b' }] },
    },
    { name: 'empty value is null', yaml: 'a:\nb: 1', value: { a: null, b: 1 } },
    { name: 'document marker', yaml: '---\na: 1', value: { a: 1 } },
  ])('$name', ({ yaml, value }) => {
    expect(parseYamlSubset(yaml, 'params.yaml')).toEqual(value)
  })

  test.each([
    {
      name: 'block scalar',
      yaml: 'a: |\n  text',
      message:
        'params.yaml line 1: "|" uses a YAML feature duckmerge does not read (anchors, tags, block scalars); write the value plainly.',
    },
    {
      name: 'anchor',
      yaml: 'a: &x 1',
      message:
        'params.yaml line 1: "&x 1" uses a YAML feature duckmerge does not read (anchors, tags, block scalars); write the value plainly.',
    },
    {
      name: 'unclosed flow list',
      yaml: 'a: [x, y',
      message: 'params.yaml line 1: missing "]" in [x, y.',
    },
    {
      name: 'duplicate key',
      yaml: 'a: 1\na: 2',
      message: 'params.yaml line 2: key "a" appears twice.',
    },
    {
      name: 'bad indentation',
      yaml: 'a: 1\n    b: 2',
      message: 'params.yaml line 2: unexpected indentation at "b: 2".',
    },
    {
      name: 'not key: value',
      yaml: 'just text',
      message: 'params.yaml line 1: expected "key: value", got "just text".',
    },
  ])('refuses $name, naming the line', ({ yaml, message }) => {
    expect(() => parseYamlSubset(yaml, 'params.yaml')).toThrow(message)
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
      keyColumns: ['experiment_version'],
      results: { strategy: 'merge' },
      data: { strategy: 'rebase', keyColumns: ['id', 'split'] },
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
      keyColumns: ['version'],
      data: { strategy: 'rebase', keyColumns: ['id'] },
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
