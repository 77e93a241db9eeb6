/**
 * Which Delta protocol versions and table features duckmerge can read and write
 * (PROTOCOL.md, Protocol Evolution and Table Features), checked before any data file is touched.
 */
import { DuckmergeError } from '../../errors.js'
import type { Protocol } from './actions.js'

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
 * compatibility…) would need the writer to maintain extra state, so writes are refused.
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
 * Throws UNSUPPORTED_FEATURE, naming the version or feature, unless duckmerge can read the
 * table correctly.
 *
 * @example
 * assertReadable({ minReaderVersion: 99, minWriterVersion: 7 }, '/data/t')
 * // DuckmergeError UNSUPPORTED_FEATURE: Cannot read Delta table /data/t: unsupported reader version 99 …
 */
export function assertReadable(protocol: Protocol, table: string): void {
  const version = protocol.minReaderVersion
  if (!Number.isInteger(version) || version < 1 || version > MAX_READER_VERSION)
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot read Delta table ${table}: unsupported reader version ${version} (duckmerge reads protocol reader versions 1–${MAX_READER_VERSION}). Read it with a newer Delta engine.`,
      { table, minReaderVersion: version },
    )
  const missing = readerFeatures(protocol).filter((f) => !READABLE_FEATURES.has(f))
  if (missing.length > 0)
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot read Delta table ${table}: it requires reader feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which duckmerge does not implement (it reads ${[...READABLE_FEATURES].join(', ')}).`,
      { table, features: missing },
    )
}

/**
 * Throws UNSUPPORTED_FEATURE unless duckmerge can both read the table and write a commit that
 * keeps every required writer feature valid.
 *
 * @example
 * assertWritable({ minReaderVersion: 1, minWriterVersion: 4 }, '/data/t')
 * // UNSUPPORTED_FEATURE: … requires writer features changeDataFeed, generatedColumns …
 */
export function assertWritable(protocol: Protocol, table: string): void {
  assertReadable(protocol, table)
  const version = protocol.minWriterVersion
  if (!Number.isInteger(version) || version < 1 || version > MAX_WRITER_VERSION)
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot write Delta table ${table}: unsupported writer version ${version} (duckmerge writes protocol writer versions 1–${MAX_WRITER_VERSION}).`,
      { table, minWriterVersion: version },
    )
  const missing = writerFeatures(protocol).filter((f) => !WRITABLE_FEATURES.has(f))
  if (missing.length > 0)
    throw new DuckmergeError(
      'UNSUPPORTED_FEATURE',
      `Cannot write Delta table ${table}: it requires writer feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which duckmerge does not maintain. Write it with Spark or delta-rs.`,
      { table, features: missing },
    )
}
