/**
 * The actions of the Delta transaction log, as PROTOCOL.md defines them ("Actions"), typed as
 * they appear in the JSON commit files: one action per line, a single-key object.
 */

/** PROTOCOL.md, Protocol Evolution. Feature lists exist only at reader 3 / writer 7. */
export interface Protocol {
  readonly minReaderVersion: number
  readonly minWriterVersion: number
  readonly readerFeatures?: readonly string[] | null
  readonly writerFeatures?: readonly string[] | null
}

export interface Format {
  readonly provider: string
  readonly options?: Readonly<Record<string, string>>
}

/** PROTOCOL.md, Change Metadata. The latest metaData action wins. */
export interface Metadata {
  readonly id: string
  readonly name?: string | null
  readonly description?: string | null
  readonly format: Format
  readonly schemaString: string
  readonly partitionColumns: readonly string[]
  readonly configuration: Readonly<Record<string, string>>
  readonly createdTime?: number | null
}

/** PROTOCOL.md, Deletion Vector Descriptor. */
export interface DeletionVectorDescriptor {
  /** 'u': relative path from a UUID (Z85), 'i': inline (Z85 bitmap), 'p': absolute path. */
  readonly storageType: 'u' | 'i' | 'p'
  readonly pathOrInlineDv: string
  readonly offset?: number | null
  readonly sizeInBytes: number
  readonly cardinality: number
}

/** PROTOCOL.md, Add File and Remove File. File identity is (path, deletionVector id). */
export interface AddFile {
  /** URI-encoded, relative to the table root (or absolute). Decode exactly once. */
  readonly path: string
  readonly partitionValues: Readonly<Record<string, string | null>>
  readonly size: number
  readonly modificationTime: number
  readonly dataChange: boolean
  /** JSON string: numRecords, minValues, maxValues, nullCount (and tightBounds). */
  readonly stats?: string | null
  readonly tags?: Readonly<Record<string, string>> | null
  readonly deletionVector?: DeletionVectorDescriptor | null
  readonly baseRowId?: number | null
  readonly defaultRowCommitVersion?: number | null
  readonly clusteringProvider?: string | null
}

export interface RemoveFile {
  readonly path: string
  readonly deletionTimestamp?: number | null
  readonly dataChange: boolean
  readonly extendedFileMetadata?: boolean | null
  readonly partitionValues?: Readonly<Record<string, string | null>> | null
  readonly size?: number | null
  readonly stats?: string | null
  readonly tags?: Readonly<Record<string, string>> | null
  readonly deletionVector?: DeletionVectorDescriptor | null
  readonly baseRowId?: number | null
  readonly defaultRowCommitVersion?: number | null
}

/** PROTOCOL.md, Add CDC File. Ignored by ordinary reads. */
export interface AddCdcFile {
  readonly path: string
  readonly partitionValues: Readonly<Record<string, string | null>>
  readonly size: number
  readonly dataChange: boolean
  readonly tags?: Readonly<Record<string, string>> | null
}

/** PROTOCOL.md, Transaction Identifiers: the latest version per appId wins. */
export interface Txn {
  readonly appId: string
  readonly version: number
  readonly lastUpdated?: number | null
}

/** PROTOCOL.md, Domain Metadata: the latest per domain wins; `removed` deletes it. */
export interface DomainMetadata {
  readonly domain: string
  readonly configuration: string
  readonly removed: boolean
}

/** PROTOCOL.md, V2 Checkpoint: checkpointMetadata and sidecar actions. */
export interface CheckpointMetadata {
  readonly version: number
  readonly tags?: Readonly<Record<string, string>> | null
}

export interface Sidecar {
  readonly path: string
  readonly sizeInBytes: number
  readonly modificationTime: number
  readonly tags?: Readonly<Record<string, string>> | null
}

/** Free-form provenance; Spark writes operation, operationParameters, operationMetrics. */
export type CommitInfo = Readonly<Record<string, unknown>> & {
  readonly timestamp?: number
  readonly operation?: string
  readonly operationParameters?: Readonly<Record<string, unknown>>
  readonly operationMetrics?: Readonly<Record<string, unknown>>
  readonly inCommitTimestamp?: number
  /** Spark's free-text field for the writer's caller (delta.commitInfo.userMetadata). */
  readonly userMetadata?: string
}

/** One line of a commit file. */
export type Action =
  | { readonly protocol: Protocol }
  | { readonly metaData: Metadata }
  | { readonly add: AddFile }
  | { readonly remove: RemoveFile }
  | { readonly cdc: AddCdcFile }
  | { readonly txn: Txn }
  | { readonly commitInfo: CommitInfo }
  | { readonly domainMetadata: DomainMetadata }
  | { readonly checkpointMetadata: CheckpointMetadata }
  | { readonly sidecar: Sidecar }

/** Parsed `stats` of an add action (PROTOCOL.md, Per-file Statistics). */
export interface FileStats {
  readonly numRecords?: number
  readonly minValues?: Readonly<Record<string, unknown>>
  readonly maxValues?: Readonly<Record<string, unknown>>
  readonly nullCount?: Readonly<Record<string, unknown>>
  readonly tightBounds?: boolean
}
