/**
 * The `merge:` section of a DVC params.yaml: which strategy each artifact gets and its key.
 *
 *   merge:
 *     strategy: merge                 # default for every artifact: merge | rebase
 *     key_columns: [experiment_version]
 *     results: merge                  # a strategy, or {strategy, key_columns}
 *     data: { strategy: rebase, key_columns: [id] }
 *     model: promote                  # merge (keep as candidate) | promote (rebase)
 *
 * The file is read as full YAML 1.2 by the `yaml` package (anchors, aliases, `<<` merge keys,
 * block scalars, as DVC params files use them); only the top-level `merge:` section is checked.
 */
import { promises as fs } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import { DuckmergeError, type Issue, messageOf } from '../errors.js'
import type { Strategy } from './report.js'

/** A value of the parsed document (plain JS: maps are objects, sequences arrays). */
type YamlValue = unknown

export type ModelStrategy = 'merge' | 'promote'

export interface GroupParams {
  readonly strategy?: Strategy
  readonly key?: readonly string[]
}

export interface ArtifactParams {
  readonly strategy?: Strategy
  readonly key?: readonly string[]
  readonly tables?: readonly string[]
  readonly results?: GroupParams
  readonly data?: GroupParams
  readonly model?: { readonly strategy?: ModelStrategy }
}

/**
 * Reads the `merge:` section of a params.yaml file.
 *
 * @example
 * const params = await readArtifactParams('params.yaml')
 * params.data?.strategy // 'rebase'
 */
export async function readArtifactParams(path: string): Promise<ArtifactParams> {
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (error) {
    throw new DuckmergeError(
      'INPUT_NOT_FOUND',
      `params file not found: ${path} (${messageOf(error)})`,
      {
        path,
      },
    )
  }
  return parseArtifactParams(text, path)
}

/** Parses params.yaml text (see the module comment for the shape); `source` names it in errors. */
export function parseArtifactParams(text: string, source: string): ArtifactParams {
  const doc = parseYaml(text, source)
  if (!isMap(doc) || !Object.hasOwn(doc, 'merge'))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `${source} has no top-level "merge:" section. Add one (e.g. "merge:\\n  strategy: merge").`,
      { path: source, issues: [], hint: 'Or leave out {params}.' },
    )
  const issues: Issue[] = []
  const params = readMerge(doc.merge ?? null, issues)
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `${source}: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`,
      { path: source, issues },
    )
  return params
}

/**
 * The whole document as plain values; a syntax error is INPUT_UNREADABLE naming the file, line
 * and column (the first error: the ones after it are often its echoes).
 */
function parseYaml(text: string, source: string): YamlValue {
  // merge: `<<: *defaults` keys, which YAML 1.2 dropped from its core schema but DVC's ruamel
  // (and PyYAML) read.
  const lines = new LineCounter()
  const doc = parseDocument(text, {
    merge: true,
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter: lines,
  })
  const error = doc.errors[0]
  if (error) {
    const at = lines.linePos(error.pos[0])
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `${source} line ${at.line}, column ${at.col}: ${error.message.replace(/\.$/, '')}. Fix the YAML there.`,
      { path: source, line: at.line, column: at.col, yamlCode: error.code },
    )
  }
  try {
    return doc.toJS()
  } catch (error) {
    // An alias whose anchor is missing, or aliases expanding past the limit (billion laughs).
    throw new DuckmergeError(
      'INPUT_UNREADABLE',
      `${source}: ${messageOf(error)}. Fix the YAML.`,
      { path: source },
      { cause: error },
    )
  }
}

const known = [
  'strategy',
  'key_columns',
  'tables',
  'results',
  'data',
  'model',
  // xetrack's params template (merge_artifacts.py) spells these so; read them too.
  'table',
  'data_strategy',
  'data_key_columns',
]

function readMerge(value: YamlValue, issues: Issue[]): ArtifactParams {
  if (!isMap(value)) {
    issues.push({
      path: ['merge'],
      code: 'invalid_type',
      message: 'must be a map of settings (strategy, key_columns, …)',
    })
    return {}
  }
  for (const key of Object.keys(value))
    if (!known.includes(key))
      issues.push({
        path: ['merge', key],
        code: 'unknown_setting',
        message: `unknown setting (known: ${known.slice(0, 6).join(', ')})`,
      })
  const strategy = readStrategy(value.strategy, 'merge.strategy', issues)
  const key = readColumns(value.key_columns, 'merge.key_columns', issues)
  const tables =
    readColumns(value.tables, 'merge.tables', issues) ??
    readColumns(value.table, 'merge.table', issues)
  const results = readGroup(value.results, 'merge.results', issues)
  let data = readGroup(value.data, 'merge.data', issues)
  const dataStrategy = readStrategy(value.data_strategy, 'merge.data_strategy', issues)
  const dataKey = readColumns(value.data_key_columns, 'merge.data_key_columns', issues)
  if (dataStrategy || dataKey)
    data = {
      ...(dataStrategy && { strategy: dataStrategy }),
      ...(dataKey && { key: dataKey }),
      ...data,
    }
  const model = readModel(value.model, issues)
  return {
    ...(strategy && { strategy }),
    ...(key && { key }),
    ...(tables && { tables }),
    ...(results && { results }),
    ...(data && { data }),
    ...(model && { model }),
  }
}

function readGroup(
  value: YamlValue | undefined,
  path: string,
  issues: Issue[],
): GroupParams | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') {
    const strategy = readStrategy(value, path, issues)
    return strategy && { strategy }
  }
  if (!isMap(value)) {
    issues.push({
      path: pathOf(path),
      code: 'invalid_type',
      message: 'must be a strategy (merge | rebase) or a map {strategy, key_columns}',
    })
    return undefined
  }
  for (const key of Object.keys(value))
    if (key !== 'strategy' && key !== 'key_columns')
      issues.push({
        path: [...pathOf(path), key],
        code: 'unknown_setting',
        message: 'unknown setting (known: strategy, key_columns)',
      })
  const strategy = readStrategy(value.strategy, `${path}.strategy`, issues)
  const key = readColumns(value.key_columns, `${path}.key_columns`, issues)
  return { ...(strategy && { strategy }), ...(key && { key }) }
}

function readModel(value: YamlValue | undefined, issues: Issue[]): ArtifactParams['model'] {
  if (value === undefined || value === null) return undefined
  const raw = isMap(value) ? value.strategy : value
  const path = isMap(value) ? 'merge.model.strategy' : 'merge.model'
  if (raw === undefined || raw === null) return {}
  const strategy = parseModelStrategy(raw)
  if (!strategy) {
    issues.push({
      path: pathOf(path),
      code: 'invalid_value',
      message: `must be merge or promote, got ${JSON.stringify(raw)}`,
    })
    return undefined
  }
  return { strategy }
}

/** 'merge' keeps a candidate; 'promote' (or 'rebase', its synonym) replaces production. */
export function parseModelStrategy(value: unknown): ModelStrategy | undefined {
  if (value === 'merge') return 'merge'
  if (value === 'promote' || value === 'rebase') return 'promote'
  return undefined
}

function readStrategy(
  value: YamlValue | undefined,
  path: string,
  issues: Issue[],
): Strategy | undefined {
  if (value === undefined || value === null) return undefined
  if (value === 'merge' || value === 'rebase') return value
  issues.push({
    path: pathOf(path),
    code: 'invalid_value',
    message: `must be merge or rebase, got ${JSON.stringify(value)}`,
  })
  return undefined
}

/** A list of names, or one string of comma-separated names. */
function readColumns(
  value: YamlValue | undefined,
  path: string,
  issues: Issue[],
): string[] | undefined {
  if (value === undefined || value === null) return undefined
  const list =
    typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined
  if (!list || list.some((v) => typeof v !== 'string' || v.trim() === '') || list.length === 0) {
    issues.push({
      path: pathOf(path),
      code: 'invalid_value',
      message: `must be a list of column names like [a, b], got ${JSON.stringify(value)}`,
    })
    return undefined
  }
  return list.map((v) => String(v).trim())
}

/** 'merge.data.strategy' → ['merge', 'data', 'strategy'], an Issue's path. */
function pathOf(dotted: string): string[] {
  return dotted.split('.')
}

function isMap(value: YamlValue | undefined): value is { [key: string]: YamlValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
