/** CLI commands: duckmerge cr … (create, list, show, merge, close, reopen, audit) on a data root. */

import {
  AUDIT_FILES,
  type AuditFileName,
  listAuditFiles,
  readAuditFile,
} from '../../changes/audit-files.js'
import {
  type ChangeRequest,
  type CrMode,
  type CrStatus,
  changeRequestJson,
  closeChangeRequest,
  createChangeRequest,
  getChangeRequest,
  listChangeRequests,
  reopenChangeRequest,
} from '../../changes/change-requests.js'
import { auditEventsOf } from '../../changes/events.js'
import { mergeChangeRequest } from '../../changes/merge-change-request.js'
import { readResolutions } from '../../merge/merge3.js'
import {
  type Command,
  flag,
  intOption,
  requiredString,
  stringOption,
  usageError,
} from '../command.js'
import { formatTable } from '../output.js'
import { rootFlags, rootUsage, withRoot } from './dataset.js'

/** The JSON shape of a change request (the service's too). */
export const crReport = changeRequestJson

function crText(cr: ChangeRequest): string {
  const s = cr.staged
  return `${cr.id} #${cr.number} on ${cr.dataset}@${cr.baseVersion}: ${cr.status} — ${cr.title}\n  staged ${s.rows} rows (${s.upserts} upserts, ${s.deletes} deletes)${s.new_columns.length ? `, new columns ${s.new_columns.map((c) => c.name).join(', ')}` : ''}`
}

const create: Command = {
  path: ['cr', 'create'],
  summary:
    'Propose a change to a dataset: a patch (rows to upsert, _op=delete rows) or a whole snapshot',
  usage: `DATASET --from FILE --title T [--base-version N] [--mode patch|snapshot] [--author NAME] ${rootUsage}`,
  positionals: ['DATASET'],
  options: {
    ...rootFlags,
    from: { type: 'string' },
    title: { type: 'string' },
    'base-version': { type: 'string' },
    mode: { type: 'string' },
    author: { type: 'string' },
  },
  async run(context) {
    const mode = stringOption(context.values, 'mode') ?? 'patch'
    if (mode !== 'patch' && mode !== 'snapshot')
      throw usageError(`--mode must be patch or snapshot, got "${mode}"`)
    const baseVersion = intOption(context.values, 'base-version')
    const author = stringOption(context.values, 'author')
    const cr = await withRoot(context, (root) =>
      createChangeRequest(root, {
        dataset: String(context.positionals[0]),
        from: requiredString(context.values, 'from'),
        title: requiredString(context.values, 'title'),
        mode: mode as CrMode,
        ...(baseVersion !== undefined ? { baseVersion } : {}),
        ...(author !== undefined ? { author } : {}),
      }),
    )
    return { report: crReport(cr), text: `created ${crText(cr)}` }
  },
}

const list: Command = {
  path: ['cr', 'list'],
  summary: 'List the change requests of a dataset, newest first',
  usage: `DATASET [--status S] ${rootUsage}`,
  positionals: ['DATASET'],
  options: { ...rootFlags, status: { type: 'string' } },
  async run(context) {
    const status = stringOption(context.values, 'status') as CrStatus | undefined
    const crs = await withRoot(context, (root) =>
      listChangeRequests(root, String(context.positionals[0]), status),
    )
    const text =
      crs.length === 0
        ? 'no change requests'
        : formatTable(
            crs.map((c) => ({
              id: c.id,
              number: c.number,
              status: c.status,
              base: c.baseVersion,
              title: c.title,
            })),
          )
    return { report: { change_requests: crs.map(crReport) }, text }
  },
}

const show: Command = {
  path: ['cr', 'show'],
  summary: 'Show a change request',
  usage: `CR ${rootUsage}`,
  positionals: ['CR'],
  options: rootFlags,
  async run(context) {
    const cr = await withRoot(context, (root) =>
      getChangeRequest(root, String(context.positionals[0])),
    )
    return { report: crReport(cr), text: crText(cr) }
  },
}

const mergeCommand: Command = {
  path: ['cr', 'merge'],
  summary:
    'Merge a change request: three-way conflict check against its base, then one Delta commit',
  usage: `CR [--take ours|theirs] [--resolutions FILE] [--force | --skip-conflict-check] [--rule cell|row] [--merge-schema] [--requested-by NAME] [--dry-run] ${rootUsage}`,
  help: `Conflicts (a cell base, ours and theirs all give different values; any key both sides changed under --rule row) exit 1 with MERGE_CONFLICT and write nothing; --take, --resolutions FILE or --force settle them.
--force checks and records the conflicts, then takes theirs on each one under the rule in force: under --rule row theirs' whole row replaces the head's, dropping others' changes to its other cells.
--skip-conflict-check never stops on a conflict: the change's cells that differ from its base are written over the head, cell by cell, whatever the dataset's rule, so others' changes to other cells stay (the cells it overrode are counted in conflicts.total, none listed; resolution "skipped"). It cannot be combined with --take, --resolutions, --force or --rule.`,
  positionals: ['CR'],
  options: {
    ...rootFlags,
    take: { type: 'string' },
    resolutions: { type: 'string' },
    force: { type: 'boolean' },
    'skip-conflict-check': { type: 'boolean' },
    rule: { type: 'string' },
    'merge-schema': { type: 'boolean' },
    'requested-by': { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  async run(context) {
    const take = stringOption(context.values, 'take')
    if (take !== undefined && take !== 'ours' && take !== 'theirs')
      throw usageError(`--take must be ours or theirs, got "${take}"`)
    const rule = stringOption(context.values, 'rule')
    if (rule !== undefined && rule !== 'cell' && rule !== 'row')
      throw usageError(`--rule must be cell or row, got "${rule}"`)
    const requestedBy = stringOption(context.values, 'requested-by')
    const resolutionsFile = stringOption(context.values, 'resolutions')
    const skipConflictCheck = flag(context.values, 'skip-conflict-check')
    // The library ignores these when skipping; refusing them says so instead of dropping them.
    const ignored = ['take', 'resolutions', 'force', 'rule'].filter(
      (name) => context.values[name] !== undefined && context.values[name] !== false,
    )
    if (skipConflictCheck && ignored.length > 0)
      throw usageError(
        `--skip-conflict-check takes the change's cells whatever the head holds, so ${ignored.map((n) => `--${n}`).join(', ')} cannot apply; pass one or the other`,
      )
    // A JSON array of {key, column?, take: ours|theirs} or {key, column, value}, as merge3 reads.
    const resolutions =
      resolutionsFile === undefined ? undefined : await readResolutions(resolutionsFile)
    const result = await withRoot(context, (root) =>
      mergeChangeRequest(root, String(context.positionals[0]), {
        ...(take !== undefined ? { take } : {}),
        ...(resolutions !== undefined ? { resolutions } : {}),
        ...(rule !== undefined ? { rule } : {}),
        ...(requestedBy !== undefined ? { requestedBy } : {}),
        force: flag(context.values, 'force'),
        skipConflictCheck,
        mergeSchema: flag(context.values, 'merge-schema'),
        dryRun: flag(context.values, 'dry-run'),
      }),
    )
    const d = result.diff
    return {
      report: result,
      text: `${result.status}${result.idempotent_replay ? ' (replay)' : ''} ${result.cr_id}: version ${d.version_before} → ${d.version_after}, ${d.rows_added} added, ${d.rows_updated} updated, ${d.rows_deleted} deleted`,
    }
  },
}

const close: Command = {
  path: ['cr', 'close'],
  summary: 'Close a change request without merging it',
  usage: `CR ${rootUsage}`,
  positionals: ['CR'],
  options: rootFlags,
  async run(context) {
    const cr = await withRoot(context, (root) =>
      closeChangeRequest(root, String(context.positionals[0])),
    )
    return { report: crReport(cr), text: crText(cr) }
  },
}

const reopen: Command = {
  path: ['cr', 'reopen'],
  summary: 'Reopen a closed change request',
  usage: `CR ${rootUsage}`,
  positionals: ['CR'],
  options: rootFlags,
  async run(context) {
    const cr = await withRoot(context, (root) =>
      reopenChangeRequest(root, String(context.positionals[0])),
    )
    return { report: crReport(cr), text: crText(cr) }
  },
}

const audit: Command = {
  path: ['cr', 'audit'],
  summary:
    'The audit trail of a change request: its events and audit files, or one file (--file NAME [--history N])',
  usage: `CR [--file merge_result|diff|conflicts|validation] [--history N] ${rootUsage}`,
  positionals: ['CR'],
  options: { ...rootFlags, file: { type: 'string' }, history: { type: 'string' } },
  async run(context) {
    const file = stringOption(context.values, 'file')
    if (file !== undefined && !(AUDIT_FILES as readonly string[]).includes(file))
      throw usageError(`--file must be one of ${AUDIT_FILES.join(', ')}, got "${file}"`)
    const history = intOption(context.values, 'history')
    return withRoot(context, async (root) => {
      const cr = await getChangeRequest(root, String(context.positionals[0]))
      if (file !== undefined) {
        const body = await readAuditFile(root, cr.id, file as AuditFileName, history)
        return { report: body, text: JSON.stringify(body, null, 2) }
      }
      const events = await auditEventsOf(root.store.db, cr.id)
      const listing = await listAuditFiles(root, cr.id)
      const files = Object.fromEntries(
        await Promise.all(
          listing.files.map(
            async (name) => [name, await readAuditFile(root, cr.id, name)] as const,
          ),
        ),
      )
      const table = formatTable(
        events.map((e) => ({
          at: e.at,
          action: e.action,
          actor: e.actor ?? '',
          version: e.delta_version ?? '',
        })),
      )
      const listed = listing.files.length
        ? `\nfiles in ${listing.dir}: ${listing.files.map((f) => `${f}.json`).join(', ')}${listing.history.length ? ` (earlier attempts: history/${listing.history.join(', history/')})` : ''}`
        : ''
      return {
        report: { events, dir: listing.dir, files, history: listing.history },
        text: `${table}${listed}`,
      }
    })
  },
}

export const crCommands: readonly Command[] = [
  create,
  list,
  show,
  mergeCommand,
  close,
  reopen,
  audit,
]
