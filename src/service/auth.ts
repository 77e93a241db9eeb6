/**
 * Users and API tokens. A token is `dm_<id>_<secret>`: the id (public, 12 characters) finds the
 * row, the secret is checked against a salted scrypt hash (the secret itself is never stored and
 * is shown once, at creation). Verified tokens are remembered for a few seconds, since scrypt
 * costs tens of milliseconds by design.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import type { MiddlewareHandler } from 'hono'
import { DuckmergeError } from '../errors.js'
import type { StoreDb } from '../store/store.js'
import type { ServiceEnv } from './context.js'
import { RATES, RateLimiter } from './rate-limit.js'

const scryptAsync = promisify(scrypt) as (
  secret: string,
  salt: Buffer,
  length: number,
  options: { N: number; r: number; p: number },
) => Promise<Buffer>

const SCRYPT = { N: 16384, r: 8, p: 1 } as const
const TOKEN_PATTERN = /^dm_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/
/**
 * How long a verified token is trusted without hashing again (a revoke elsewhere takes this long
 * at most; one in this process clears the cache). A check costs ~50 ms of CPU: with 10 s, 200
 * clients with their own tokens kept a core busy re-hashing (bench/service.bench.ts).
 */
const CACHE_MS = 60_000

export type TokenScope = 'user' | 'service'

/** Who is calling: the user behind the bearer token. */
export interface Caller {
  readonly userId: number
  readonly name: string
  readonly isAdmin: boolean
  readonly scope: TokenScope
  readonly tokenId: string
}

/** Users by name; created when new. */
export async function ensureUser(db: StoreDb, name: string, isAdmin = false): Promise<number> {
  const existing = await db
    .selectFrom('users')
    .select(['id', 'is_admin'])
    .where('name', '=', name)
    .executeTakeFirst()
  if (existing) {
    if (isAdmin && Number(existing.is_admin) !== 1)
      await db.updateTable('users').set({ is_admin: 1 }).where('id', '=', existing.id).execute()
    return Number(existing.id)
  }
  const row = await db
    .insertInto('users')
    .values({ name, is_admin: isAdmin ? 1 : 0, created_at: Date.now(), disabled_at: null })
    // Created meanwhile by another request or instance: theirs is the user.
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst()
  return row ? Number(row.id) : ensureUser(db, name, isAdmin)
}

/** The id of user `name`; NOT_FOUND when there is none. */
export async function userIdOf(db: StoreDb, name: string): Promise<number> {
  const row = await db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst()
  if (!row) throw new DuckmergeError('NOT_FOUND', `No user named "${name}".`, { user: name })
  return Number(row.id)
}

export const USER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/

/**
 * Creates a token for `user` (the user too when new) and returns it: the only time the secret
 * is ever visible.
 *
 * @example
 * const { token } = await createToken(store.db, { user: 'ann', admin: true })
 * // 'dm_Qk3v…_…' — send as `Authorization: Bearer <token>`
 */
export async function createToken(
  db: StoreDb,
  options: { user: string; admin?: boolean; scope?: TokenScope; label?: string },
): Promise<{ token: string; id: string; user: string; scope: TokenScope }> {
  if (!USER_NAME_PATTERN.test(options.user))
    throw new DuckmergeError(
      'VALIDATION_FAILED',
      `User name ${JSON.stringify(options.user)} is not allowed: use 1-64 letters, digits, ".", "_", "@" or "-".`,
      { user: options.user },
    )
  const userId = await ensureUser(db, options.user, options.admin === true)
  const id = randomBytes(9).toString('base64url')
  const secret = randomBytes(32).toString('base64url')
  const salt = randomBytes(16)
  const hash = await scryptAsync(secret, salt, 32, SCRYPT)
  const scope = options.scope ?? 'user'
  await db
    .insertInto('api_tokens')
    .values({
      id,
      user_id: userId,
      label: options.label ?? null,
      salt: salt.toString('hex'),
      hash: hash.toString('hex'),
      scope,
      created_at: Date.now(),
      last_used_at: null,
      revoked_at: null,
    })
    .execute()
  return { token: `dm_${id}_${secret}`, id, user: options.user, scope }
}

/** Revokes a token by its public id or whole text; returns how many were revoked. */
export async function revokeToken(db: StoreDb, token: string): Promise<number> {
  const id = TOKEN_PATTERN.exec(token)?.[1] ?? token
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: Date.now() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  cache.clear()
  return Number(result.numUpdatedRows)
}

/** Revokes every token of a user; returns how many. */
export async function revokeUserTokens(db: StoreDb, user: string): Promise<number> {
  const userId = await userIdOf(db, user)
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: Date.now() })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  cache.clear()
  return Number(result.numUpdatedRows)
}

const cache = new Map<string, { caller: Caller; until: number }>()

/** The caller a bearer token stands for; UNAUTHORIZED when it does not check out. */
export async function verifyToken(db: StoreDb, token: string): Promise<Caller> {
  const digest = createHash('sha256').update(token).digest('hex')
  const hit = cache.get(digest)
  if (hit && hit.until > Date.now()) return hit.caller
  const match = TOKEN_PATTERN.exec(token)
  if (!match) throw unauthorized('The bearer token is malformed.')
  const [, id, secret] = match as unknown as [string, string, string]
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select([
      'api_tokens.salt',
      'api_tokens.hash',
      'api_tokens.scope',
      'api_tokens.revoked_at',
      'users.id as user_id',
      'users.name',
      'users.is_admin',
      'users.disabled_at',
    ])
    .where('api_tokens.id', '=', id)
    .executeTakeFirst()
  // Hash even when the id is unknown, so timing does not tell which ids exist.
  const salt = row ? Buffer.from(row.salt, 'hex') : randomBytes(16)
  const hash = await scryptAsync(secret, salt, 32, SCRYPT)
  const expected = row ? Buffer.from(row.hash, 'hex') : randomBytes(32)
  if (
    !timingSafeEqual(hash, expected) ||
    !row ||
    row.revoked_at !== null ||
    row.disabled_at !== null
  )
    throw unauthorized('The bearer token is unknown or revoked.')
  const caller: Caller = {
    userId: Number(row.user_id),
    name: row.name,
    isAdmin: Number(row.is_admin) === 1,
    scope: row.scope === 'service' ? 'service' : 'user',
    tokenId: id,
  }
  if (cache.size > 10_000) cache.clear()
  cache.set(digest, { caller, until: Date.now() + CACHE_MS })
  return caller
}

function unauthorized(message: string): DuckmergeError {
  return new DuckmergeError('UNAUTHORIZED', message)
}

/**
 * Requires `Authorization: Bearer <token>` and sets `caller`. `scope` is the token scope the
 * routes behind it accept: service tokens may only call the seed's endpoint. A client address
 * with too many failed attempts gets 429 before its token is even checked; each token has a read
 * and a write budget.
 */
export function bearerAuth(db: StoreDb, scope: TokenScope): MiddlewareHandler<ServiceEnv> {
  const failures = new RateLimiter(RATES.failedAuth)
  const reads = new RateLimiter(RATES.reads)
  const writes = new RateLimiter(RATES.writes)
  return async (c, next) => {
    const address = clientAddress(c.env)
    if (!failures.allows(address))
      throw new DuckmergeError('RATE_LIMITED', 'Too many failed logins from this address.', {
        retry_after: failures.retryAfter(address),
      })
    let caller: Caller
    try {
      const header = c.req.header('authorization') ?? ''
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (!match?.[1]) throw unauthorized('Send an API token as "Authorization: Bearer <token>".')
      caller = await verifyToken(db, match[1])
    } catch (error) {
      failures.note(address)
      throw error
    }
    if (caller.scope !== scope)
      throw new DuckmergeError(
        'FORBIDDEN',
        scope === 'user'
          ? 'A service token may only call POST /delta/merge-cr.'
          : 'This endpoint takes a service token.',
        { required_scope: scope, scope: caller.scope },
      )
    const isRead = c.req.method === 'GET' || c.req.method === 'HEAD'
    ;(isRead ? reads : writes).take(caller.tokenId, isRead ? 'reads' : 'writes')
    c.set('caller', caller)
    await next()
  }
}

/** The peer address on a Node server; one shared key where there is none (app.request tests). */
function clientAddress(env: unknown): string {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)
    ?.incoming
  return incoming?.socket?.remoteAddress ?? 'local'
}
