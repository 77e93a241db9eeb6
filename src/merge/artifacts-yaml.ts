/**
 * The small part of YAML that params.yaml files use: `key: value`, nested maps by indentation,
 * `- item` lists, flow `[a, b]` and `{a: b}`, quoted strings, numbers, booleans, null, comments.
 * Anchors, tags, multi-line and block scalars (`|`, `>`) are refused with the line at fault.
 */
import { DuckmergeError } from '../errors.js'

export type YamlValue =
  | string
  | number
  | boolean
  | null
  | YamlValue[]
  | { [key: string]: YamlValue }

interface Line {
  readonly number: number
  readonly indent: number
  readonly text: string
}

/**
 * Parses a YAML document of the subset above; `source` names the file in errors.
 *
 * @example
 * parseYamlSubset('merge:\n  strategy: rebase\n  key_columns: [a, b]\n', 'params.yaml')
 * // { merge: { strategy: 'rebase', key_columns: ['a', 'b'] } }
 */
export function parseYamlSubset(text: string, source: string): YamlValue {
  const lines: Line[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const content = stripComment(raw).trimEnd()
    if (content.trim() === '' || content === '---') return
    if (/^\t/.test(content)) throw fail(source, i + 1, 'tabs cannot indent YAML; use spaces')
    lines.push({
      number: i + 1,
      indent: content.length - content.trimStart().length,
      text: content.trim(),
    })
  })
  if (lines.length === 0) return null
  const state = { lines, at: 0, source }
  const value = parseBlock(state, lines[0]?.indent ?? 0)
  const extra = lines[state.at]
  if (extra) throw fail(source, extra.number, `unexpected indentation at "${extra.text}"`)
  return value
}

interface State {
  /** Mutable: a `- key: value` item is re-read as a map line indented to its key. */
  readonly lines: Line[]
  at: number
  readonly source: string
}

function parseBlock(state: State, indent: number): YamlValue {
  const first = state.lines[state.at]
  if (!first) return null
  return isListItem(first.text) ? parseList(state, indent) : parseMap(state, indent)
}

function parseMap(state: State, indent: number): YamlValue {
  const map: Record<string, YamlValue> = {}
  for (
    let line = state.lines[state.at];
    line && line.indent === indent;
    line = state.lines[state.at]
  ) {
    if (isListItem(line.text))
      throw fail(
        state.source,
        line.number,
        `a list item "${line.text}" where a "key: value" was expected`,
      )
    const [key, rest] = splitKey(line.text, state.source, line.number)
    if (Object.hasOwn(map, key)) throw fail(state.source, line.number, `key "${key}" appears twice`)
    state.at++
    map[key] =
      rest === '' ? parseNested(state, indent) : parseScalar(rest, state.source, line.number)
  }
  return map
}

/** The value after `key:` on its own lines: deeper indentation, or a list at the same indent. */
function parseNested(state: State, indent: number): YamlValue {
  const next = state.lines[state.at]
  if (!next) return null
  if (next.indent > indent) return parseBlock(state, next.indent)
  if (next.indent === indent && isListItem(next.text)) return parseList(state, indent)
  return null
}

function parseList(state: State, indent: number): YamlValue[] {
  const list: YamlValue[] = []
  for (
    let line = state.lines[state.at];
    line && line.indent === indent && isListItem(line.text);
    line = state.lines[state.at]
  ) {
    const rest = line.text.slice(1).trim()
    state.at++
    if (rest === '') {
      list.push(parseNested(state, indent))
    } else if (/^[^'"[{][^:]*:(\s|$)/.test(rest)) {
      // `- key: value` starts a map whose keys sit two columns right of the dash.
      const inner = indent + line.text.length - rest.length
      state.at--
      state.lines[state.at] = { number: line.number, indent: inner, text: rest }
      list.push(parseMap(state, inner))
    } else {
      list.push(parseScalar(rest, state.source, line.number))
    }
  }
  return list
}

function isListItem(text: string): boolean {
  return text === '-' || text.startsWith('- ')
}

function splitKey(text: string, source: string, number: number): [string, string] {
  let key: string
  let rest: string
  if (text.startsWith('"') || text.startsWith("'")) {
    const { value, end } = readQuoted(text, 0, source, number)
    key = value
    rest = text.slice(end).trimStart()
    if (!rest.startsWith(':'))
      throw fail(source, number, `expected ":" after key ${text.slice(0, end)}`)
    rest = rest.slice(1)
  } else {
    const match = /^([^:]+?)\s*:(?:\s+|$)(.*)$/.exec(text)
    if (!match) throw fail(source, number, `expected "key: value", got "${text}"`)
    key = match[1] ?? ''
    rest = match[2] ?? ''
  }
  return [key, rest.trim()]
}

function parseScalar(text: string, source: string, number: number): YamlValue {
  if (/^[&*!|>]/.test(text))
    throw fail(
      source,
      number,
      `"${text}" uses a YAML feature duckmerge does not read (anchors, tags, block scalars); write the value plainly`,
    )
  if (text.startsWith('[') || text.startsWith('{')) {
    const parser = { text, at: 0, source, number }
    const value = parseFlow(parser)
    skipSpaces(parser)
    if (parser.at !== text.length)
      throw fail(
        source,
        number,
        `unexpected "${text.slice(parser.at)}" after ${text.slice(0, parser.at)}`,
      )
    return value
  }
  if (text.startsWith('"') || text.startsWith("'")) {
    const { value, end } = readQuoted(text, 0, source, number)
    if (text.slice(end).trim() !== '')
      throw fail(source, number, `unexpected text after the quoted string in "${text}"`)
    return value
  }
  return plainScalar(text)
}

function plainScalar(text: string): YamlValue {
  if (/^(true|True|TRUE)$/.test(text)) return true
  if (/^(false|False|FALSE)$/.test(text)) return false
  if (/^(null|Null|NULL|~)$/.test(text)) return null
  if (/^[-+]?(\d[\d_]*)?(\.\d+)?([eE][-+]?\d+)?$/.test(text) && /\d/.test(text))
    return Number(text.replaceAll('_', ''))
  return text
}

interface FlowParser {
  readonly text: string
  at: number
  readonly source: string
  readonly number: number
}

function parseFlow(p: FlowParser): YamlValue {
  skipSpaces(p)
  const open = p.text[p.at]
  if (open === '[' || open === '{') {
    const close = open === '[' ? ']' : '}'
    p.at++
    const list: YamlValue[] = []
    const map: Record<string, YamlValue> = {}
    skipSpaces(p)
    while (p.text[p.at] !== close) {
      if (p.at >= p.text.length) throw fail(p.source, p.number, `missing "${close}" in ${p.text}`)
      if (open === '[') list.push(parseFlow(p))
      else {
        const key = flowItem(p, ':')
        if (p.text[p.at] !== ':')
          throw fail(p.source, p.number, `expected ":" after "${String(key)}" in ${p.text}`)
        p.at++
        map[String(key)] = parseFlow(p)
      }
      skipSpaces(p)
      if (p.at >= p.text.length) throw fail(p.source, p.number, `missing "${close}" in ${p.text}`)
      if (p.text[p.at] === ',') p.at++
      else if (p.text[p.at] !== close)
        throw fail(p.source, p.number, `expected "," or "${close}" in ${p.text}`)
      skipSpaces(p)
    }
    p.at++
    return open === '[' ? list : map
  }
  return flowItem(p, '')
}

/** A scalar inside flow brackets: quoted, or plain text up to `,`, `]`, `}` (or `stop`). */
function flowItem(p: FlowParser, stop: string): YamlValue {
  skipSpaces(p)
  const c = p.text[p.at]
  if (c === '"' || c === "'") {
    const { value, end } = readQuoted(p.text, p.at, p.source, p.number)
    p.at = end
    skipSpaces(p)
    return value
  }
  const start = p.at
  while (p.at < p.text.length && !`,]}${stop}`.includes(p.text[p.at] ?? '')) p.at++
  return plainScalar(p.text.slice(start, p.at).trim())
}

function skipSpaces(p: FlowParser): void {
  while (p.text[p.at] === ' ') p.at++
}

function readQuoted(
  text: string,
  start: number,
  source: string,
  number: number,
): { value: string; end: number } {
  const quote = text[start]
  let i = start + 1
  let value = ''
  for (;;) {
    const c = text[i]
    if (c === undefined)
      throw fail(
        source,
        number,
        `unterminated ${quote === '"' ? 'double' : 'single'}-quoted string`,
      )
    if (quote === "'" && c === "'") {
      if (text[i + 1] === "'") {
        value += "'"
        i += 2
        continue
      }
      return { value, end: i + 1 }
    }
    if (quote === '"' && c === '\\') {
      const escaped = text[i + 1] ?? ''
      value +=
        ({ n: '\n', t: '\t', '"': '"', '\\': '\\' } as Record<string, string>)[escaped] ?? escaped
      i += 2
      continue
    }
    if (quote === '"' && c === '"') return { value, end: i + 1 }
    value += c
    i++
  }
}

/** Drops a `#` comment: at the line start or after a space, outside quotes. */
function stripComment(line: string): string {
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote) {
      if (quote === '"' && c === '\\') i++
      else if (quote === "'" && c === "'" && line[i + 1] === "'") i++
      else if (c === quote) quote = undefined
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s[{,:]/.test(line[i - 1] ?? '')) quote = c
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) {
      return line.slice(0, i)
    }
  }
  return line
}

function fail(source: string, line: number, message: string): DuckmergeError {
  return new DuckmergeError('INPUT_UNREADABLE', `${source} line ${line}: ${message}.`, {
    path: source,
    line,
  })
}
