/** CLI commands: duckmerge token create|revoke — API tokens of the HTTP service. */
import { createToken, revokeToken, revokeUserTokens } from '../../service/auth.js'
import { type Command, flag, requiredString, stringOption, usageError } from '../command.js'
import { rootFlags, rootUsage, withRoot } from './dataset.js'

const create: Command = {
  path: ['token', 'create'],
  summary: 'Create an API token for a user (the user too when new); the token is shown only once',
  usage: `--user NAME [--admin] [--service] [--label TEXT] ${rootUsage}`,
  options: {
    ...rootFlags,
    user: { type: 'string' },
    admin: { type: 'boolean' },
    service: { type: 'boolean' },
    label: { type: 'string' },
  },
  help: 'Only a salted scrypt hash is stored: keep the printed token, it cannot be shown again.\n--service makes a token that may call only POST /delta/merge-cr (acting as its requested_by).',
  async run(context) {
    const label = stringOption(context.values, 'label')
    const made = await withRoot(context, (root) =>
      createToken(root.store.db, {
        user: requiredString(context.values, 'user'),
        admin: flag(context.values, 'admin'),
        scope: flag(context.values, 'service') ? 'service' : 'user',
        ...(label !== undefined ? { label } : {}),
      }),
    )
    return {
      report: { token: made.token, id: made.id, user: made.user, scope: made.scope },
      text: made.token,
    }
  },
}

const revoke: Command = {
  path: ['token', 'revoke'],
  summary: 'Revoke an API token (by its text or public id), or every token of --user',
  usage: `[TOKEN] [--user NAME] ${rootUsage}`,
  positionals: ['[TOKEN]'],
  options: { ...rootFlags, user: { type: 'string' } },
  async run(context) {
    const token = context.positionals[0]
    const user = stringOption(context.values, 'user')
    if ((token === undefined) === (user === undefined))
      throw usageError('name either a TOKEN or --user NAME')
    const revoked = await withRoot(context, (root) =>
      token !== undefined
        ? revokeToken(root.store.db, token)
        : revokeUserTokens(root.store.db, user as string),
    )
    return { report: { revoked }, text: `revoked ${revoked} token(s)` }
  },
}

export const tokenCommands: readonly Command[] = [create, revoke]
