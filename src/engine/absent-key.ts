/**
 * "Rows whose key is absent": the one SQL piece behind every accumulate step (results merge,
 * Parquet data merge and rebase, Delta backfill). Keys match with IS NOT DISTINCT FROM, so a
 * NULL key equals a NULL key, as people expect of "the same row".
 */
import type { Dialect } from './dialect.js'
import { ident, identList, join, type Sql, sql } from './sql.js'

export interface AbsentKeyInput {
  readonly dialect: Dialect
  /** The rows offered, as a table name or a parenthesised query. */
  readonly source: Sql
  /** The rows (or only the key columns) already present. */
  readonly target: Sql
  readonly key: readonly string[]
  /** Select list over the source alias; default every source column (`s.*`). */
  readonly columns?: Sql
  /** An extra condition on source rows (over the source alias). */
  readonly where?: Sql
  /** Default `s`. */
  readonly sourceAlias?: string
  /** Default `t`. */
  readonly targetAlias?: string
}

/** `t."k1" IS NOT DISTINCT FROM s."k1" AND …` */
export function keyMatch(key: readonly string[], target: string, source: string): Sql {
  return join(
    key.map(
      (k) => sql`${ident(target)}.${ident(k)} is not distinct from ${ident(source)}.${ident(k)}`,
    ),
    ' and ',
  )
}

/**
 * The source rows whose key the target lacks. DuckDB (`dialect.antiJoins`) gets an anti join,
 * which it runs as one hash join; SQLite a correlated NOT EXISTS, which it probes through an
 * index on the target's key (the caller provides one: see merge/table-plan.ts).
 *
 * @example
 * absentKeyRows({ dialect, source: ident('theirs'), target: ident('ours'), key: ['id'] })
 * // DuckDB: select s.* from "theirs" s anti join "ours" t on t."id" is not distinct from s."id"
 * // SQLite: select s.* from "theirs" s where not exists
 * //           (select 1 from "ours" t where t."id" is not distinct from s."id")
 */
export function absentKeyRows(input: AbsentKeyInput): Sql {
  const s = input.sourceAlias ?? 's'
  const t = input.targetAlias ?? 't'
  const columns = input.columns ?? sql`${ident(s)}.*`
  const match = keyMatch(input.key, t, s)
  if (input.dialect.antiJoins) {
    const where = input.where ? sql` where ${input.where}` : sql``
    return sql`select ${columns} from ${input.source} ${ident(s)} anti join ${input.target} ${ident(t)} on ${match}${where}`
  }
  const absent = sql`not exists (select 1 from ${input.target} ${ident(t)} where ${match})`
  const where = input.where ? sql`(${input.where}) and ${absent}` : absent
  return sql`select ${columns} from ${input.source} ${ident(s)} where ${where}`
}

/**
 * Inserts the source rows whose key the target lacks into `into` (by column name); returns the
 * statement. `into` is often the target itself.
 *
 * @example
 * insertAbsentKeyRows({ dialect, into: qualified('ours', 't'), columns: ['id', 'v'],
 *   source: qualified('theirs', 't'), target: qualified('ours', 't'), key: ['id'] })
 * // insert into "ours"."t" ("id", "v") select s."id", s."v" from "theirs"."t" s anti join … (DuckDB)
 */
export function insertAbsentKeyRows(
  input: Omit<AbsentKeyInput, 'columns'> & {
    readonly into: Sql
    readonly columns: readonly string[]
  },
): Sql {
  const s = input.sourceAlias ?? 's'
  const selected = join(input.columns.map((c) => sql`${ident(s)}.${ident(c)}`))
  return sql`insert into ${input.into} (${identList(input.columns)}) ${absentKeyRows({ ...input, columns: selected })}`
}
