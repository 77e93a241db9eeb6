/**
 * Which column type changes between base and exp a merge may make silently: only widenings
 * that keep every value (INTEGER → BIGINT, FLOAT → DOUBLE, DATE → TIMESTAMP, a struct gaining a
 * field). DuckDB's UNION BY NAME would also turn INTEGER and VARCHAR into VARCHAR; we refuse that.
 */

const integers = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
])
const floats = new Set(['FLOAT', 'DOUBLE'])
const naiveTimes = new Set(['DATE', 'TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS'])

type Family = 'numeric' | 'naive-time' | 'list' | 'struct' | 'map' | 'other'

function family(type: string): Family {
  if (integers.has(type) || floats.has(type) || /^DECIMAL\(\d+,\s*\d+\)$/.test(type))
    return 'numeric'
  if (naiveTimes.has(type)) return 'naive-time'
  if (/\[\d*\]$/.test(type)) return 'list'
  if (type.startsWith('STRUCT(')) return 'struct'
  if (type.startsWith('MAP(')) return 'map'
  return 'other'
}

/**
 * True when a column typed `base` on one side and `exp` on the other may be read as `union`
 * (the type DuckDB's UNION BY NAME picks, as DESCRIBE prints it) without changing meaning.
 *
 * @example
 * isSafeWidening('INTEGER', 'BIGINT', 'BIGINT')    // true
 * isSafeWidening('INTEGER', 'VARCHAR', 'VARCHAR')  // false: numbers would become text
 * isSafeWidening('TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP WITH TIME ZONE') // false
 */
export function isSafeWidening(base: string, exp: string, union: string): boolean {
  if (base === exp) return true
  const f = family(base)
  if (f !== family(exp) || f !== family(union)) return false
  switch (f) {
    case 'numeric':
    case 'naive-time':
      return true
    case 'list':
    case 'struct':
    case 'map':
      // A nested type may widen when DuckDB's union is one of the two sides (a struct gaining
      // a field, a list of INTEGER read as a list of BIGINT), never a third type.
      return union === base || union === exp
    default:
      return false
  }
}
