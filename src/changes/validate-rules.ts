/**
 * The validation gate: a dataset's rules run on the merged preview (the head with the resolved
 * change applied) before anything is written, each as one DuckDB query over the preview (no
 * row passes through JS except up to 20 samples per rule). Same meaning as Great Expectations'
 * expectations: a rule passes when its unexpected share is at most `1 - mostly` (0 by default).
 *
 *   not_null    c IS NULL
 *   unique      rows whose (columns) occur more than once
 *   between     c < min OR c > max (strict: <=, >=)
 *   in_set      c IS NOT NULL AND c NOT IN (values)
 *   regex       c IS NOT NULL AND NOT regexp_full_match(c::VARCHAR, pattern)   (RE2)
 *   castable    c IS NOT NULL AND TRY_CAST(c AS T) IS NULL
 *   type, row_count_between, row_count_change: one observed value for the table
 */
import type { DuckDb } from '../engine/duckdb.js'
import { ident, identList, join, type Sql, type SqlValue, sql } from '../engine/sql.js'
import { toCell } from '../merge/three-way-sql.js'
import { type Rule, typeSql } from './rules.js'

export const SAMPLE_LIMIT = 20

export interface RuleResult {
  readonly name: string
  readonly type: Rule['type']
  readonly severity: 'error' | 'warn'
  /** The rule's own fields (column, min, pattern, …). */
  readonly params: Readonly<Record<string, unknown>>
  readonly success: boolean
  /** Rows breaking the rule; null for table-level rules (row counts, type). */
  readonly unexpected_count: number | null
  /** unexpected_count of all preview rows, in percent. */
  readonly unexpected_percent: number | null
  /** For table-level rules: what was measured (a row count, a type, a change in percent). */
  readonly observed_value?: number | string | null
  /** Up to 20 breaking rows: their key and the value at fault. */
  readonly sample: readonly { readonly key: Record<string, unknown>; readonly value: unknown }[]
  readonly ms: number
}

export interface ValidationReport {
  /** False when an `error` rule failed (failed `warn` rules are only recorded). */
  readonly success: boolean
  readonly evaluated_at: string
  readonly preview: { readonly rows: number; readonly main_version: number }
  readonly errors: number
  readonly warnings: number
  readonly results: readonly RuleResult[]
}

export interface ValidateOptions {
  /** A relation (view or table) holding the merged preview. */
  readonly preview: Sql
  readonly key: readonly string[]
  readonly rules: readonly Rule[]
  /** The head's row count and version, for row_count_change and the report. */
  readonly headRows: number
  readonly headVersion: number
}

/**
 * Runs every rule on the preview and reports each one's result.
 *
 * @example
 * const report = await validateRules(db, { preview: ident('preview'), key: ['id'], rules,
 *   headRows: 1000, headVersion: 4 })
 * report.results[0].unexpected_count // 1
 */
export async function validateRules(
  db: DuckDb,
  options: ValidateOptions,
): Promise<ValidationReport> {
  const evaluatedAt = new Date().toISOString()
  const rows = Number(
    (await db.one<{ n: bigint }>(sql`SELECT count(*) AS n FROM ${options.preview}`))?.n ?? 0,
  )
  const results: RuleResult[] = []
  for (const rule of options.rules) {
    const started = performance.now()
    const measured = await measure(db, options, rule, rows)
    const { name, type, severity, ...params } = rule
    results.push({ name, type, severity, params, ...measured, ms: performance.now() - started })
  }
  const failed = (s: 'error' | 'warn') =>
    results.filter((r) => !r.success && r.severity === s).length
  return {
    success: failed('error') === 0,
    evaluated_at: evaluatedAt,
    preview: { rows, main_version: options.headVersion },
    errors: failed('error'),
    warnings: failed('warn'),
    results,
  }
}

type Measured = Pick<
  RuleResult,
  'success' | 'unexpected_count' | 'unexpected_percent' | 'observed_value' | 'sample'
>

async function measure(
  db: DuckDb,
  options: ValidateOptions,
  rule: Rule,
  rows: number,
): Promise<Measured> {
  const table = (success: boolean, observed: number | string | null): Measured => ({
    success,
    unexpected_count: null,
    unexpected_percent: null,
    observed_value: observed,
    sample: [],
  })
  switch (rule.type) {
    case 'row_count_between':
      return table((rule.min ?? 0) <= rows && rows <= (rule.max ?? Number.POSITIVE_INFINITY), rows)
    case 'row_count_change': {
      const change =
        options.headRows === 0
          ? rows === 0
            ? 0
            : 100
          : ((rows - options.headRows) / options.headRows) * 100
      const ok =
        (rule.max_increase_pct === undefined || change <= rule.max_increase_pct) &&
        (rule.max_decrease_pct === undefined || -change <= rule.max_decrease_pct)
      return table(ok, round(change))
    }
    case 'type': {
      const described = await db.all<{ column_name: string; column_type: string }>(
        sql`DESCRIBE SELECT ${ident(rule.column)} FROM ${options.preview}`,
      )
      const actual = described[0]?.column_type ?? null
      return table(normalType(actual ?? '') === normalType(rule.logical_type), actual)
    }
    case 'unique': {
      // Every row of a duplicated combination is unexpected (Great Expectations' compound unique).
      const cols = identList(rule.columns)
      const dup = sql`SELECT p.* FROM ${options.preview} p SEMI JOIN (
          SELECT ${cols} FROM ${options.preview} GROUP BY ALL HAVING count(*) > 1) d
        ON ${join(
          rule.columns.map((c) => sql`p.${ident(c)} IS NOT DISTINCT FROM d.${ident(c)}`),
          ' AND ',
        )}`
      return rowRule(db, options, rule, rows, dup, rule.columns)
    }
    default: {
      const c = sql`p.${ident(rule.column)}`
      const bad = sql`SELECT p.* FROM ${options.preview} p WHERE ${breaks(rule, c)}`
      return rowRule(db, options, rule, rows, bad, [rule.column])
    }
  }
}

/** The condition under which a row breaks a column rule. */
function breaks(rule: Exclude<Rule, { type: 'unique' | 'type' | `row_count_${string}` }>, c: Sql) {
  switch (rule.type) {
    case 'not_null':
      return sql`${c} IS NULL`
    case 'between': {
      const lt = rule.strict ? sql`<=` : sql`<`
      const gt = rule.strict ? sql`>=` : sql`>`
      const parts: Sql[] = []
      if (rule.min !== undefined) parts.push(sql`${c} ${lt} ${rule.min as SqlValue}`)
      if (rule.max !== undefined) parts.push(sql`${c} ${gt} ${rule.max as SqlValue}`)
      return parts.length === 0 ? sql`false` : sql`(${join(parts, ' OR ')})`
    }
    case 'in_set':
      return rule.values.length === 0
        ? sql`${c} IS NOT NULL`
        : sql`${c} IS NOT NULL AND ${c} NOT IN (${join(rule.values.map((v) => sql`${v as SqlValue}`))})`
    case 'regex':
      return sql`${c} IS NOT NULL AND NOT regexp_full_match(${c}::VARCHAR, ${rule.pattern})`
    case 'castable':
      return sql`${c} IS NOT NULL AND TRY_CAST(${c} AS ${typeSql(rule.to)}) IS NULL`
  }
}

/**
 * Counts the rows of `bad` and samples the first 20 by key: `{key, value}` with the value of
 * the rule's column (an object of the columns for `unique`), JSON-safe as conflicts are.
 */
async function rowRule(
  db: DuckDb,
  options: ValidateOptions,
  rule: Rule,
  rows: number,
  bad: Sql,
  columns: readonly string[],
): Promise<Measured> {
  const count = Number(
    (await db.one<{ n: bigint }>(sql`SELECT count(*) AS n FROM (${bad})`))?.n ?? 0,
  )
  const keys = options.key
  const picked = [
    ...keys.map((k, i) => sql`p.${ident(k)} AS ${ident(`__k${i}`)}`),
    ...columns.map((c, i) => sql`p.${ident(c)} AS ${ident(`__v${i}`)}`),
  ]
  const found =
    count === 0
      ? []
      : await db.all<Record<string, unknown>>(
          sql`SELECT ${join(picked)} FROM (${bad}) p ORDER BY ${join(keys.map((k) => sql`p.${ident(k)}`))} LIMIT ${SAMPLE_LIMIT}`,
        )
  const sample = found.map((r) => ({
    key: Object.fromEntries(keys.map((k, i) => [k, toCell(r[`__k${i}`])])),
    value:
      rule.type === 'unique'
        ? Object.fromEntries(columns.map((c, i) => [c, toCell(r[`__v${i}`])]))
        : toCell(r.__v0),
  }))
  const share = rows === 0 ? 0 : count / rows
  const allowed = 1 - (rule.mostly ?? 1)
  return {
    success: count === 0 || share <= allowed + 1e-12,
    unexpected_count: count,
    unexpected_percent: round(share * 100),
    sample,
  }
}

function normalType(type: string): string {
  const t = type.trim().toUpperCase()
  const aliases: Record<string, string> = {
    INT: 'INTEGER',
    INT4: 'INTEGER',
    INT8: 'BIGINT',
    LONG: 'BIGINT',
    STRING: 'VARCHAR',
    TEXT: 'VARCHAR',
    FLOAT8: 'DOUBLE',
    BOOL: 'BOOLEAN',
  }
  return aliases[t] ?? t
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6
}
