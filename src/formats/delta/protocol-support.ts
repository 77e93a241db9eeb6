/**
 * Which Delta protocol versions and table features duckmerge can read and write
 * (PROTOCOL.md, Protocol Evolution and Table Features), checked before any data file is touched.
 */
import { DuckmergeError } from '../../errors.js'
import type { Metadata, Protocol } from './actions.js'
import type { DataType, StructType } from './schema.js'

/**
 * Reader features we implement. columnMapping, deletionVectors, timestampNtz and v2Checkpoint
 * change how data is read and are handled by the scan and the checkpoint reader; typeWidening
 * holds because the scan casts every column to its current schema type (older files may hold a
 * narrower one); vacuumProtocolCheck only constrains vacuum, so a reader accepts it as is.
 */
export const READABLE_FEATURES: ReadonlySet<string> = new Set([
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'typeWidening',
  'typeWidening-preview',
  'v2Checkpoint',
  'vacuumProtocolCheck',
])

/**
 * Writer features a duckmerge commit keeps valid. A feature missing here (generated columns,
 * identity columns, CHECK constraints, row tracking, change data feed, clustering, Iceberg
 * compatibility…) would need the writer to maintain extra state, so writes are refused (the
 * first four only while the table uses them: UNLESS_UNUSED).
 */
export const WRITABLE_FEATURES: ReadonlySet<string> = new Set([
  'appendOnly',
  'invariants',
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'v2Checkpoint',
  'vacuumProtocolCheck',
  'domainMetadata',
])

/** The newest legacy (pre-features) and feature-based versions. */
const MAX_READER_VERSION = 3
const MAX_WRITER_VERSION = 7

/** PROTOCOL.md, Table Features: what each legacy writer version implies. */
const LEGACY_WRITER_FEATURES: readonly (readonly string[])[] = [
  [],
  [],
  ['appendOnly', 'invariants'],
  ['checkConstraints'],
  ['changeDataFeed', 'generatedColumns'],
  ['columnMapping'],
  ['identityColumns'],
]

/** The reader features a protocol requires (legacy reader 2 means column mapping). */
export function readerFeatures(protocol: Protocol): readonly string[] {
  if (protocol.minReaderVersion >= 3) return protocol.readerFeatures ?? []
  return protocol.minReaderVersion === 2 ? ['columnMapping'] : []
}

/** The writer features a protocol requires (legacy versions imply cumulative features). */
export function writerFeatures(protocol: Protocol): readonly string[] {
  if (protocol.minWriterVersion >= 7) return protocol.writerFeatures ?? []
  return LEGACY_WRITER_FEATURES.slice(0, protocol.minWriterVersion + 1).flat()
}

/**
 * Throws UNSUPPORTED_FEATURE unless duckmerge can read the table correctly. The message names
 * the table's reader version and every reader feature duckmerge does not implement.
 *
 * @example
 * assertReadable({ minReaderVersion: 99, minWriterVersion: 7, readerFeatures: ['x'] }, '/data/t')
 * // UNSUPPORTED_FEATURE: Cannot read Delta table /data/t: it requires reader version 99 (…) and reader feature x (…)
 */
export function assertReadable(protocol: Protocol, table: string): void {
  const version = protocol.minReaderVersion
  const knownVersion = Number.isInteger(version) && version >= 1 && version <= MAX_READER_VERSION
  // An unknown version may still list features; name the ones we lack too.
  const listed = knownVersion ? readerFeatures(protocol) : (protocol.readerFeatures ?? [])
  const missing = listed.filter((f) => !READABLE_FEATURES.has(f))
  if (knownVersion && missing.length === 0) return
  const why = [
    knownVersion
      ? `reader version ${version}`
      : `reader version ${version}, which duckmerge does not support (it reads protocol reader versions 1–${MAX_READER_VERSION})`,
    ...(missing.length > 0
      ? [
          `reader feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which duckmerge does not implement (it reads ${[...READABLE_FEATURES].join(', ')})`,
        ]
      : []),
  ]
  throw new DuckmergeError(
    'UNSUPPORTED_FEATURE',
    `Cannot read Delta table ${table}: it requires ${why.join(' and ')}. Read it with a newer Delta engine.`,
    { table, minReaderVersion: version, features: missing },
  )
}

/** What a write must see of the table to decide which writer features are in use. */
export interface TableUse {
  readonly metadata: Pick<Metadata, 'configuration'>
  readonly schema: StructType
}

/**
 * Throws UNSUPPORTED_FEATURE unless duckmerge can both read the table and write a commit that
 * keeps every writer feature valid. A feature duckmerge does not maintain is refused only when
 * the table uses it (`featuresInUse`): a legacy writer 2–6 table (Databricks' common 2/5) or a
 * table-features table that merely allows CHECK constraints, change data feed, generated or
 * identity columns, but has none, takes plain writes. Without `use`, every such feature counts.
 *
 * @example
 * assertWritable({ minReaderVersion: 1, minWriterVersion: 4 }, '/data/t', snapshot)
 * // UNSUPPORTED_FEATURE: … uses writer feature changeDataFeed (delta.enableChangeDataFeed=true) …
 */
export function assertWritable(protocol: Protocol, table: string, use?: TableUse): void {
  assertReadable(protocol, table)
  const version = protocol.minWriterVersion
  if (!Number.isInteger(version) || version < 1 || version > MAX_WRITER_VERSION)
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot write Delta table ${table}: unsupported writer version ${version} (duckmerge writes protocol writer versions 1–${MAX_WRITER_VERSION}).`,
      { table, minWriterVersion: version },
    )
  const inUse = use ? featuresInUse(use) : undefined
  const missing = writerFeatures(protocol).filter(
    (f) =>
      !WRITABLE_FEATURES.has(f) && (!UNLESS_UNUSED.has(f) || inUse === undefined || inUse.has(f)),
  )
  if (missing.length > 0) {
    const evidence = (f: string) => {
      const where = inUse?.get(f)
      return where ? `${f} (${where})` : f
    }
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot write Delta table ${table} (writer version ${version}): it uses writer feature${missing.length > 1 ? 's' : ''} ${missing.map(evidence).join(', ')}, which duckmerge does not maintain. Write it with Spark or delta-rs.`,
      { table, minWriterVersion: version, features: missing },
    )
  }
}

/**
 * Writer features a commit needs to maintain only while the table uses them (PROTOCOL.md: CHECK
 * constraints live in delta.constraints.*, change data is written only with
 * delta.enableChangeDataFeed=true, generated and identity columns are marked in the schema).
 */
const UNLESS_UNUSED: ReadonlySet<string> = new Set([
  'checkConstraints',
  'changeDataFeed',
  'generatedColumns',
  'identityColumns',
])

/** The UNLESS_UNUSED features the table uses, each with what shows it (a property, a column). */
export function featuresInUse(use: TableUse): Map<string, string> {
  const out = new Map<string, string>()
  const config = use.metadata.configuration
  const constraints = Object.keys(config).filter((k) => k.startsWith('delta.constraints.'))
  if (constraints.length > 0) out.set('checkConstraints', constraints.join(', '))
  if (config['delta.enableChangeDataFeed']?.toLowerCase() === 'true')
    out.set('changeDataFeed', 'delta.enableChangeDataFeed=true')
  const generated: string[] = []
  const identity: string[] = []
  const visit = (type: DataType, prefix: string) => {
    if (typeof type === 'string') return
    if (type.type === 'array') return visit(type.elementType, `${prefix}[]`)
    if (type.type === 'map') {
      visit(type.keyType, `${prefix}.key`)
      return visit(type.valueType, `${prefix}.value`)
    }
    for (const field of type.fields) {
      const name = prefix ? `${prefix}.${field.name}` : field.name
      const keys = Object.keys(field.metadata)
      if (keys.includes('delta.generationExpression')) generated.push(`column ${name}`)
      if (keys.some((k) => k.startsWith('delta.identity.'))) identity.push(`column ${name}`)
      visit(field.type, name)
    }
  }
  visit(use.schema, '')
  if (generated.length > 0) out.set('generatedColumns', generated.join(', '))
  if (identity.length > 0) out.set('identityColumns', identity.join(', '))
  return out
}
