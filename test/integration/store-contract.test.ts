/**
 * The metadata store's contract, run once on SQLite (a file under the data root) and once on
 * Postgres (a throwaway cluster, a fresh database per test): the same calls give the same
 * answers, types included (ids, versions and counts are numbers), and the same guarantees
 * (unique names, compare-and-set transitions with their audit event in one transaction, merge
 * locks). Everything above the store is real: Delta tables, DuckDB, the service's hono app.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import pino from 'pino'
import { afterEach, describe, expect, test } from 'vitest'
import {
  closeChangeRequest,
  createChangeRequest,
  getChangeRequest,
  listChangeRequests,
  reopenChangeRequest,
  transition,
} from '../../src/changes/change-requests.js'
import { type DataRoot, openDataRoot } from '../../src/changes/data-root.js'
import {
  createDataset,
  getDataset,
  listDatasets,
  setConflictRule,
} from '../../src/changes/datasets.js'
import { auditEventsOf } from '../../src/changes/events.js'
import { recoverMerges, writeManifestSync } from '../../src/changes/merge-recovery.js'
import { listRules, parseRules, setRules } from '../../src/changes/rules.js'
import { DuckmergeError } from '../../src/errors.js'
import { createApp } from '../../src/service/app.js'
import {
  createToken,
  ensureUser,
  revokeToken,
  revokeUserTokens,
  verifyToken,
} from '../../src/service/auth.js'
import {
  DATASET_LOCK_CLASS,
  tryDatasetLock,
  withDatasetLock,
} from '../../src/store/dataset-lock.js'
import { needsPostgres, usePostgres } from '../support/postgres.js'
import { tempDir } from '../support/temp.js'

const cluster = usePostgres()

const backends = [
  { name: 'sqlite', available: true, store: async (): Promise<string | undefined> => undefined },
  {
    name: needsPostgres('postgres'),
    available: cluster.available,
    store: async (): Promise<string | undefined> => cluster.database(),
  },
]

const opened: DataRoot[] = []
afterEach(async () => {
  for (const root of opened.splice(0)) await root.close()
})

async function rejection(promise: Promise<unknown>): Promise<DuckmergeError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof DuckmergeError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

describe.each(backends)('store contract on $name', (backend) => {
  /** A data root on this backend; `again()` opens a second one on the same store and folder. */
  async function setup() {
    const dir = tempDir()
    const store = await backend.store()
    const open = async (options: { recover?: boolean } = {}) => {
      const root = await openDataRoot({
        root: join(dir, 'root'),
        ...(store !== undefined ? { store } : {}),
        ...options,
      })
      opened.push(root)
      return root
    }
    const root = await open()
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text)
      return join(dir, name)
    }
    return { dir, root, store, again: open, file }
  }

  async function withProducts() {
    const s = await setup()
    await createDataset(s.root, {
      name: 'products',
      from: s.file('p.csv', 'id,price\n1,10\n2,20\n3,30\n'),
      key: ['id'],
      createdBy: 'ann',
    })
    return s
  }

  test.skipIf(!backend.available)(
    'the dialect, and a second open migrates nothing and sees the same rows',
    async () => {
      const { root, again } = await withProducts()
      expect(root.store.dialect).toBe(backend.name === 'sqlite' ? 'sqlite' : 'postgres')
      const second = await again()
      expect((await listDatasets(second)).map((d) => d.name)).toEqual(['products'])
    },
  )

  test.skipIf(!backend.available)(
    'datasets: numbers as numbers, one name once (also when created at the same time), the rule setting',
    async () => {
      const { root, file } = await withProducts()
      const products = await getDataset(root, 'products')
      expect(products).toMatchObject({
        id: 1,
        name: 'products',
        keyColumns: ['id'],
        currentVersion: 0,
        rowCount: 3,
        conflictRule: 'cell',
        createdBy: 'ann',
      })
      expect(products.schema.map((c) => [c.name, c.type, c.key])).toEqual([
        ['id', 'BIGINT', true],
        ['price', 'BIGINT', false],
      ])
      const twice = await rejection(
        createDataset(root, { name: 'products', from: file('q.csv', 'id\n1\n'), key: ['id'] }),
      )
      expect(twice.code).toBe('ALREADY_EXISTS')
      const racing = await Promise.allSettled([
        createDataset(root, { name: 'orders', from: file('o1.csv', 'id\n1\n'), key: ['id'] }),
        createDataset(root, { name: 'orders', from: file('o2.csv', 'id\n2\n'), key: ['id'] }),
      ])
      expect(racing.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
      const lost = racing.find((r) => r.status === 'rejected') as PromiseRejectedResult
      expect((lost.reason as DuckmergeError).code).toBe('ALREADY_EXISTS')
      expect((await listDatasets(root)).map((d) => [d.name, d.rowCount])).toEqual([
        ['orders', 1],
        ['products', 3],
      ])
      expect((await setConflictRule(root, 'products', 'row')).conflictRule).toBe('row')
      expect((await rejection(getDataset(root, 'nope'))).code).toBe('NOT_FOUND')
    },
  )

  test.skipIf(!backend.available)(
    'change requests: numbered 1, 2, 3 per dataset also when created at the same time; listed newest first, by status',
    async () => {
      const { root, file } = await withProducts()
      const made = await Promise.all(
        [1, 2, 3].map((n) =>
          createChangeRequest(root, {
            dataset: 'products',
            from: file(`c${n}.csv`, `id,price\n${n},${n * 11}\n`),
            title: `c${n}`,
            author: 'bob',
          }),
        ),
      )
      expect(made.map((c) => c.number).sort()).toEqual([1, 2, 3])
      const first = await getChangeRequest(root, made[0]?.id as string)
      expect(first).toMatchObject({
        dataset: 'products',
        datasetId: 1,
        title: 'c1',
        author: 'bob',
        baseVersion: 0,
        mode: 'patch',
        revision: 1,
        status: 'pending',
        staged: { rows: 1, upserts: 1, deletes: 0, new_columns: [], columns: ['id', 'price'] },
        failure: null,
        result: null,
        mergedVersion: null,
      })
      await closeChangeRequest(root, made[1]?.id as string, 'bob')
      expect((await listChangeRequests(root, 'products')).map((c) => c.number)).toEqual([3, 2, 1])
      expect(
        (await listChangeRequests(root, 'products', 'pending')).map((c) => c.title).sort(),
      ).toEqual(['c1', 'c3'])
      expect((await rejection(getChangeRequest(root, 'cr_0000000000000000'))).code).toBe(
        'NOT_FOUND',
      )
    },
  )

  test.skipIf(!backend.available)(
    'lifecycle: compare-and-set lets one of two racing transitions win; its audit event commits or rolls back with it',
    async () => {
      const { root, file } = await withProducts()
      const cr = await createChangeRequest(root, {
        dataset: 'products',
        from: file('c.csv', 'id,price\n1,11\n'),
        title: 'c',
      })
      const race = await Promise.allSettled(
        ['ann', 'bob'].map((actor) =>
          transition(root.store.db, cr, ['pending'], 'merging', {
            action: 'merge.requested',
            actor,
            deltaVersion: 0,
          }),
        ),
      )
      expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
      const lost = race.find((r) => r.status === 'rejected') as PromiseRejectedResult
      expect((lost.reason as DuckmergeError).code).toBe('INVALID_STATE')
      let events = await auditEventsOf(root.store.db, cr.id)
      expect(events.map((e) => e.action)).toEqual(['cr.create', 'merge.requested'])
      expect(events[1]).toMatchObject({ dataset_id: 1, cr_id: cr.id, delta_version: 0 })
      expect(typeof events[1]?.id).toBe('number')
      // The event cannot be written (BigInt is not JSON): the status change rolls back with it.
      const broken = transition(
        root.store.db,
        cr,
        ['merging'],
        'failed',
        { action: 'merge.failed', details: { bad: 1n } },
        { failure_json: '{"code":"x"}' },
      )
      await expect(broken).rejects.toThrow(/BigInt/)
      const after = await getChangeRequest(root, cr.id)
      expect(after).toMatchObject({ status: 'merging', failure: null })
      events = await auditEventsOf(root.store.db, cr.id)
      expect(events).toHaveLength(2)
      await transition(
        root.store.db,
        after,
        ['merging'],
        'merged',
        { action: 'merge.succeeded' },
        {
          merged_version: 1,
          merged_by: 'ann',
          merged_at: Date.now(),
          result_json: '{"merged_version":1}',
        },
      )
      expect(await getChangeRequest(root, cr.id)).toMatchObject({
        status: 'merged',
        mergedVersion: 1,
        result: { merged_version: 1 },
      })
      expect((await rejection(closeChangeRequest(root, cr.id))).code).toBe('INVALID_STATE')
      const other = await createChangeRequest(root, {
        dataset: 'products',
        from: file('d.csv', 'id,price\n2,22\n'),
        title: 'd',
      })
      expect((await closeChangeRequest(root, other.id, 'bob')).status).toBe('closed')
      expect((await rejection(closeChangeRequest(root, other.id))).code).toBe('INVALID_STATE')
      expect((await reopenChangeRequest(root, other.id, 'bob')).status).toBe('pending')
      expect((await auditEventsOf(root.store.db, other.id)).map((e) => e.action)).toEqual([
        'cr.create',
        'cr.close',
        'cr.reopen',
      ])
    },
  )

  test.skipIf(!backend.available)('rules: replaced as a whole, listed in order', async () => {
    const { root } = await withProducts()
    const dataset = await getDataset(root, 'products')
    const rules = await parseRules(
      dataset,
      [
        { name: 'price present', type: 'not_null', column: 'price' },
        {
          name: 'price sane',
          type: 'between',
          column: 'price',
          min: 0,
          max: 100,
          severity: 'warn',
        },
        { name: 'ids unique', type: 'unique', columns: ['id'] },
      ],
      'rules.json',
    )
    await setRules(root, dataset, rules, 'ann')
    expect((await listRules(root, dataset)).map((r) => r.name)).toEqual([
      'price present',
      'price sane',
      'ids unique',
    ])
    await setRules(root, dataset, rules.slice(1, 2), 'ann')
    expect(await listRules(root, dataset)).toEqual([
      { name: 'price sane', type: 'between', column: 'price', min: 0, max: 100, severity: 'warn' },
    ])
  })

  test.skipIf(!backend.available)(
    'users and tokens: created once per name (also at the same time), admin flag, revoke by token and by user',
    async () => {
      const { root } = await setup()
      const db = root.store.db
      const [a, b] = await Promise.all([
        createToken(db, { user: 'ann' }),
        createToken(db, { user: 'ann' }),
      ])
      const callerA = await verifyToken(db, a?.token as string)
      const callerB = await verifyToken(db, b?.token as string)
      expect(callerA).toMatchObject({ name: 'ann', isAdmin: false, scope: 'user' })
      expect(callerB.userId).toBe(callerA.userId)
      expect(typeof callerA.userId).toBe('number')
      expect(await ensureUser(db, 'ann', true)).toBe(callerA.userId)
      const admin = await createToken(db, { user: 'ann', admin: true, scope: 'service' })
      expect(await verifyToken(db, admin.token)).toMatchObject({ isAdmin: true, scope: 'service' })
      expect(await revokeToken(db, a?.token as string)).toBe(1)
      expect(await revokeToken(db, a?.token as string)).toBe(0)
      expect((await rejection(verifyToken(db, a?.token as string))).code).toBe('UNAUTHORIZED')
      expect(await revokeUserTokens(db, 'ann')).toBe(2)
      expect((await rejection(verifyToken(db, admin.token))).code).toBe('UNAUTHORIZED')
    },
  )

  test.skipIf(!backend.available)(
    'projects, members and operations rows through the service app',
    async () => {
      const { root } = await setup()
      const app = createApp({ root, log: pino({ enabled: false }) })
      const ann = (await createToken(root.store.db, { user: 'ann' })).token
      const bob = (await createToken(root.store.db, { user: 'bob' })).token
      const call = async (
        method: string,
        path: string,
        token: string,
        body?: unknown,
        headers = {},
      ) => {
        const res = await app.request(path, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(typeof body === 'string' ? { 'content-type': 'text/csv' } : {}),
            ...(body !== undefined && typeof body !== 'string'
              ? { 'content-type': 'application/json' }
              : {}),
            ...headers,
          },
          ...(body !== undefined
            ? { body: typeof body === 'string' ? body : JSON.stringify(body) }
            : {}),
        })
        return {
          status: res.status,
          body: (await res.json().catch(() => ({}))) as Record<string, unknown>,
        }
      }
      const project = await call('POST', '/api/v1/projects', ann, { name: 'shop' })
      expect(project).toMatchObject({ status: 201, body: { id: 1, name: 'shop', role: 'owner' } })
      expect((await call('POST', '/api/v1/projects', bob, { name: 'shop' })).status).toBe(409)
      expect((await call('GET', '/api/v1/projects/1', bob)).status).toBe(404)
      expect(
        (await call('PUT', '/api/v1/projects/1/members/bob', ann, { role: 'viewer' })).status,
      ).toBe(200)
      expect(
        (await call('PUT', '/api/v1/projects/1/members/bob', ann, { role: 'contributor' })).status,
      ).toBe(200)
      expect((await call('GET', '/api/v1/projects/1', bob)).body).toMatchObject({
        role: 'contributor',
        members: [
          { user: 'ann', role: 'owner' },
          { user: 'bob', role: 'contributor' },
        ],
      })
      // The last owner stays.
      expect((await call('DELETE', '/api/v1/projects/1/members/ann', ann)).status).toBe(409)
      const created = await call(
        'POST',
        '/api/v1/projects/1/datasets?name=products&primary_keys=id',
        ann,
        'id,price\n1,10\n2,20\n',
      )
      expect(created).toMatchObject({
        status: 201,
        body: { id: 1, current_version: 0, row_count: 2 },
      })
      const cr = await call('POST', '/api/v1/datasets/1/change_requests', bob, {
        title: 'up',
        upserts: [{ id: 2, price: 21 }],
      })
      expect(cr.status).toBe(201)
      const merge = (key: string) =>
        call(
          'POST',
          `/api/v1/change_requests/${cr.body.id}/merge`,
          bob,
          {},
          { 'idempotency-key': key },
        )
      const [first, again] = [await merge('k1'), await merge('k1')]
      expect(first).toMatchObject({
        status: 200,
        body: { merged_version: 1, idempotent_replay: false },
      })
      expect({ ...again.body, request_id: 'x' }).toEqual({ ...first.body, request_id: 'x' })
      const rows = await root.store.db.selectFrom('operations').selectAll().execute()
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({
        kind: 'merge',
        cr_id: cr.body.id,
        dataset_id: 1,
        status: 'succeeded',
        phase: 'done',
        idempotency_key: 'k1',
      })
      const op = await call('GET', `/api/v1/operations/${rows[0]?.id}`, bob)
      expect(op.body).toMatchObject({
        status: 'succeeded',
        dataset_id: 1,
        result: { merged_version: 1 },
      })
    },
  )

  test.skipIf(!backend.available)(
    'merge locks: one holder per dataset, re-entrant in its own call chain, free again after',
    async () => {
      const { root } = await setup()
      const order: string[] = []
      let inside = 0
      const hold = (name: string) =>
        withDatasetLock(root.store, 7, async () => {
          inside++
          expect(inside).toBe(1)
          order.push(`${name}+`)
          expect(await tryDatasetLock(root.store, 7, async () => 're-entered')).toEqual({
            ran: true,
            value: 're-entered',
          })
          await new Promise((resolve) => setTimeout(resolve, 50))
          order.push(`${name}-`)
          inside--
        })
      const a = hold('a')
      const b = hold('b')
      // Taken (and b waiting): a try gives up at once.
      expect(await tryDatasetLock(root.store, 7, async () => 'x')).toEqual({ ran: false })
      await Promise.all([a, b])
      expect(order).toEqual(['a+', 'a-', 'b+', 'b-'])
      expect(await tryDatasetLock(root.store, 7, async () => 'free')).toEqual({
        ran: true,
        value: 'free',
      })
      expect(await tryDatasetLock(root.store, 8, async () => 'other dataset')).toMatchObject({
        ran: true,
      })
    },
  )

  test.skipIf(!backend.available)(
    'recovery leaves a merging change request alone while its holder lives, and settles it when gone',
    async () => {
      const { root, file, store } = await withProducts()
      const cr = await createChangeRequest(root, {
        dataset: 'products',
        from: file('c.csv', 'id,price\n1,11\n'),
        title: 'c',
      })
      await transition(root.store.db, cr, ['pending'], 'merging', { action: 'merge.requested' })
      const manifest = {
        cr_id: cr.id,
        dataset_id: 1,
        revision: 1,
        host: (await import('node:os')).hostname(),
        started_at: Date.now(),
        read_version: 0,
        phase: 'validate',
        requested_by: 'ann',
        files_before: [],
        updated_at: Date.now(),
      }
      const stillMerging = async (holder: Record<string, unknown>) => {
        writeManifestSync(root, { ...manifest, pid: 1, ...holder })
        expect(await recoverMerges(root)).toEqual([])
        expect((await getChangeRequest(root, cr.id)).status).toBe('merging')
      }
      const { spawnSync } = await import('node:child_process')
      const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
      const minutes = (n: number) => Date.now() - n * 60_000
      // A live pid on this host (pid 1), and another host's holder renewing its lease.
      await stillMerging({})
      await stillMerging({ host: 'elsewhere', pid: dead, updated_at: minutes(1) })
      if (store !== undefined) {
        // Postgres: its lease looks dead, but a session (another instance, any host) holds the
        // dataset's merge lock: still alive.
        const other = new pg.Client({ connectionString: store })
        await other.connect()
        await other.query('SELECT pg_advisory_lock($1::int4, 1)', [DATASET_LOCK_CLASS])
        await stillMerging({ pid: dead })
        await stillMerging({ host: 'elsewhere', updated_at: minutes(10) })
        await other.end()
      }
      // Another host's holder silent for minutes, lock free: gone.
      writeManifestSync(root, { ...manifest, pid: dead, host: 'elsewhere', updated_at: minutes(4) })
      expect(await recoverMerges(root)).toMatchObject([
        { cr_id: cr.id, outcome: 'interrupted', phase: 'validate', merged_version: null },
      ])
      expect(await getChangeRequest(root, cr.id)).toMatchObject({
        status: 'failed',
        failure: { code: 'interrupted', phase: 'validate' },
      })
    },
  )
})
