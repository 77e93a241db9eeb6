/** How long-running library calls report progress. Library code never prints; the CLI draws. */

export interface Progress {
  /** What is being done, e.g. 'merging predictions' or 'batch 3/10'. */
  readonly phase: string
  readonly done: number
  /** Omitted when unknown (the CLI then shows a spinner-like counter). */
  readonly total?: number
  /** Unit of done/total, e.g. 'rows', 'files', 'batches'. */
  readonly unit?: string
}

export type ProgressCallback = (progress: Progress) => void
