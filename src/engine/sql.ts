/**
 * SQL built from fragments: values are always bound as `?` parameters, identifiers always go
 * through `ident()`. Both DuckDB and SQLite accept `?`, so one fragment serves both engines.
 */

export type SqlValue = null | boolean | number | bigint | string | Uint8Array

/** A piece of SQL text with the values bound to its `?` placeholders, in order. */
export class Sql {
  constructor(
    readonly text: string,
    readonly values: readonly SqlValue[],
  ) {}
}

/**
 * Template tag: static text stays as written, `${Sql}` is spliced with its values, any other
 * `${value}` becomes a bound `?` parameter.
 *
 * @example
 * sql`select * from ${ident(table)} where ${ident(key)} = ${value}`
 * // DuckDB and SQLite: select * from "runs" where "run_id" = ?   -- values: [value]
 */
export function sql(strings: TemplateStringsArray, ...parts: readonly (Sql | SqlValue)[]): Sql {
  let text = strings[0] ?? ''
  const values: SqlValue[] = []
  parts.forEach((part, i) => {
    if (part instanceof Sql) {
      text += part.text
      values.push(...part.values)
    } else {
      text += '?'
      values.push(part)
    }
    text += strings[i + 1] ?? ''
  })
  return new Sql(text, values)
}

/** A quoted identifier: `ident('a"b')` is `"a""b"`. Valid in DuckDB and SQLite. */
export function ident(name: string): Sql {
  return new Sql(`"${name.replaceAll('"', '""')}"`, [])
}

/** `schema.table` (or `catalog.schema.table`) with every part quoted. */
export function qualified(...parts: readonly string[]): Sql {
  return join(parts.map(ident), '.')
}

/**
 * A quoted string literal, for the few places an engine takes no bound parameter (the target
 * path of DuckDB's COPY, ATTACH, a view body). Never use it where a `?` would do.
 */
export function literal(value: string): Sql {
  if (value.includes('\0')) throw new TypeError('SQL string literal must not contain NUL')
  return new Sql(`'${value.replaceAll("'", "''")}'`, [])
}

/** Fragments separated by `separator` (itself static text). */
export function join(fragments: readonly Sql[], separator = ', '): Sql {
  return new Sql(
    fragments.map((f) => f.text).join(separator),
    fragments.flatMap((f) => f.values),
  )
}

/** `"a", "b", "c"` */
export function identList(names: readonly string[]): Sql {
  return join(names.map(ident))
}

/**
 * Static SQL written by duckmerge itself (keywords, type names from a fixed list). Never pass
 * user text: that is what `ident`, `literal` and bound values are for.
 */
export function raw(text: string): Sql {
  return new Sql(text, [])
}

export const empty = raw('')
