/**
 * Validation rules of a dataset (Great Expectations' expectations, Soda's checks): the JSON
 * shape, checked with zod and against the dataset's columns, and their storage in the store.
 *
 * @example
 * [{ "name": "price present", "type": "not_null", "column": "price", "severity": "error" },
 *  { "name": "sane price", "type": "between", "column": "price", "min": 0, "max": 10000, "mostly": 0.99 }]
 */
import { z } from 'zod'
import { DuckDb } from '../engine/duckdb.js'
import { raw, sql } from '../engine/sql.js'
import { DuckmergeError, type Issue } from '../errors.js'
import type { DataRoot } from './data-root.js'
import type { Dataset } from './datasets.js'
import { addAuditEvent } from './events.js'

const common = {
  name: z.string().min(1).max(200),
  severity: z.enum(['error', 'warn']).default('error'),
  mostly: z.number().min(0).max(1).optional(),
}
const scalar = z.union([z.number(), z.string(), z.boolean()])

export const ruleSchema = z.discriminatedUnion('type', [
  z.object({ ...common, type: z.literal('not_null'), column: z.string() }),
  z.object({ ...common, type: z.literal('unique'), columns: z.array(z.string()).min(1) }),
  z.object({
    ...common,
    type: z.literal('between'),
    column: z.string(),
    min: scalar.optional(),
    max: scalar.optional(),
    strict: z.boolean().optional(),
  }),
  z.object({ ...common, type: z.literal('in_set'), column: z.string(), values: z.array(scalar) }),
  z.object({ ...common, type: z.literal('regex'), column: z.string(), pattern: z.string() }),
  z.object({
    ...common,
    type: z.literal('row_count_between'),
    min: z.number().int().min(0).optional(),
    max: z.number().int().min(0).optional(),
  }),
  z.object({
    ...common,
    type: z.literal('row_count_change'),
    max_decrease_pct: z.number().min(0).optional(),
    max_increase_pct: z.number().min(0).optional(),
  }),
  z.object({
    ...common,
    type: z.literal('type'),
    column: z.string(),
    logical_type: z.string().min(1),
  }),
  z.object({ ...common, type: z.literal('castable'), column: z.string(), to: z.string().min(1) }),
])

export type Rule = z.infer<typeof ruleSchema>

/** Parses and checks a rules document (a JSON array); VALIDATION_FAILED listing every issue. */
export async function parseRules(
  dataset: Dataset,
  document: unknown,
  label: string,
): Promise<Rule[]> {
  const parsed = z.array(ruleSchema).safeParse(document)
  if (!parsed.success)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `${label} is not a valid rules file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}.`,
      {
        file: label,
        issues: parsed.error.issues.map((i) => ({
          path: i.path as (string | number)[],
          code: i.code,
          message: i.message,
        })),
      },
    )
  const rules = parsed.data
  const issues: Issue[] = []
  const names = new Set(dataset.schema.map((c) => c.name))
  const seen = new Set<string>()
  const db = await DuckDb.open()
  try {
    for (const [i, rule] of rules.entries()) {
      if (seen.has(rule.name))
        issues.push({
          path: [i, 'name'],
          code: 'duplicate_name',
          message: `rule name "${rule.name}" is used twice`,
        })
      seen.add(rule.name)
      const columns = 'columns' in rule ? rule.columns : 'column' in rule ? [rule.column] : []
      for (const c of columns)
        if (!names.has(c))
          issues.push({
            path: [i, 'column'],
            code: 'unknown_column',
            message: `rule "${rule.name}" names column "${c}", which dataset "${dataset.name}" lacks (columns: ${[...names].join(', ')})`,
          })
      // Patterns and type names are tried once now, so a typo fails here and not at merge time.
      try {
        if (rule.type === 'regex') await db.run(sql`SELECT regexp_full_match('', ${rule.pattern})`)
        if (rule.type === 'castable')
          await db.run(sql`SELECT TRY_CAST(NULL AS ${typeSql(rule.to)})`)
      } catch (error) {
        issues.push({
          path: [i, rule.type === 'regex' ? 'pattern' : 'to'],
          code: 'invalid_rule',
          message: `rule "${rule.name}": ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        })
      }
    }
  } finally {
    db.close()
  }
  if (issues.length > 0)
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `${label}: ${issues.map((i) => i.message).join('; ')}.`,
      { file: label, issues },
    )
  return rules
}

/** A DuckDB type name from a rule, allowed only when it is plain type syntax (no SQL). */
export function typeSql(type: string) {
  if (!/^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])?$/.test(type))
    throw new DuckmergeError('VALIDATION_FAILED', `"${type}" is not a type name.`, { type })
  return raw(type)
}

/** Replaces the dataset's rules (one store transaction, with a `rules.update` event). */
export async function setRules(
  root: DataRoot,
  dataset: Dataset,
  rules: readonly Rule[],
  actor?: string,
): Promise<void> {
  const now = Date.now()
  await root.store.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('validation_rules').where('dataset_id', '=', dataset.id).execute()
    for (const [position, rule] of rules.entries())
      await tx
        .insertInto('validation_rules')
        .values({
          dataset_id: dataset.id,
          position,
          name: rule.name,
          type: rule.type,
          severity: rule.severity,
          rule_json: JSON.stringify(rule),
          updated_at: now,
        })
        .execute()
    await addAuditEvent(tx, {
      action: 'rules.update',
      actor: actor ?? null,
      datasetId: dataset.id,
      details: { rules: rules.map((r) => r.name) },
    })
  })
}

/** The dataset's rules in the order they were set. */
export async function listRules(root: DataRoot, dataset: Dataset): Promise<Rule[]> {
  const rows = await root.store.db
    .selectFrom('validation_rules')
    .select('rule_json')
    .where('dataset_id', '=', dataset.id)
    .orderBy('position')
    .execute()
  return rows.map((r) => JSON.parse(r.rule_json) as Rule)
}
