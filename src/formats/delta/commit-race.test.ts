import { describe, expect, test } from 'vitest'
import type { Action, AddFile } from './actions.js'
import { type ConcurrentCommit, checkCommitRace, type ReadSet } from './commit-race.js'

const add = (path: string, partitionValues: Record<string, string | null> = {}): AddFile => ({
  path,
  partitionValues,
  size: 1,
  modificationTime: 0,
  dataChange: true,
})
const remove = (path: string): Action => ({
  remove: { path, dataChange: true, deletionTimestamp: 0 },
})
const info = (isBlindAppend: boolean): Action => ({ commitInfo: { isBlindAppend } })
const winner = (actions: Action[], version = 5): ConcurrentCommit[] => [{ version, actions }]
const nothingRead: ReadSet = { files: [], scope: 'none' }

interface Case {
  name: string
  ours: Action[]
  reads: ReadSet
  winners: ConcurrentCommit[]
  reason?: string
}

describe('checkCommitRace', () => {
  test.each<Case>([
    {
      name: 'two blind appends never invalidate each other',
      ours: [{ add: add('a') }],
      reads: nothingRead,
      winners: winner([info(true), { add: add('b') }]),
    },
    {
      name: 'a winner that changed the protocol invalidates ours',
      ours: [{ add: add('a') }],
      reads: nothingRead,
      winners: winner([{ protocol: { minReaderVersion: 1, minWriterVersion: 3 } }]),
      reason: 'protocol-changed',
    },
    {
      name: 'a winner that changed the metadata invalidates ours',
      ours: [{ add: add('a') }],
      reads: nothingRead,
      winners: winner([
        {
          metaData: {
            id: 'x',
            format: { provider: 'parquet' },
            schemaString: '{}',
            partitionColumns: [],
            configuration: {},
          },
        },
      ]),
      reason: 'metadata-changed',
    },
    {
      name: 'the same txn appId invalidates ours',
      ours: [{ txn: { appId: 'job', version: 3 } }, { add: add('a') }],
      reads: nothingRead,
      winners: winner([info(true), { txn: { appId: 'job', version: 3 } }, { add: add('b') }]),
      reason: 'concurrent-transaction',
    },
    {
      name: 'another txn appId does not invalidate ours',
      ours: [{ txn: { appId: 'job', version: 3 } }, { add: add('a') }],
      reads: nothingRead,
      winners: winner([info(true), { txn: { appId: 'other', version: 9 } }]),
    },
    {
      name: 'a winner removing a file we read invalidates ours',
      ours: [remove('f1'), { add: add('a') }],
      reads: { files: [add('f1'), add('f2')], scope: 'all' },
      winners: winner([info(false), remove('f2')]),
      reason: 'concurrent-delete-read',
    },
    {
      name: 'the same file removed twice invalidates ours',
      ours: [remove('f1')],
      reads: { files: [], scope: 'none' },
      winners: winner([info(false), remove('f1')]),
      reason: 'concurrent-delete-delete',
    },
    {
      name: 'a non-blind winner adding into what we read invalidates ours',
      ours: [remove('f1')],
      reads: { files: [add('f1')], scope: (a) => a.partitionValues.day === '1' },
      winners: winner([info(false), { add: add('g', { day: '1' }) }]),
      reason: 'concurrent-append',
    },
    {
      name: 'a non-blind winner adding outside what we read does not invalidate ours',
      ours: [remove('f1')],
      reads: { files: [add('f1')], scope: (a) => a.partitionValues.day === '1' },
      winners: winner([info(false), { add: add('g', { day: '2' }) }]),
    },
    {
      name: 'a blind append into what we read does not invalidate ours (WriteSerializable)',
      ours: [remove('f1')],
      reads: { files: [add('f1')], scope: 'all' },
      winners: winner([info(true), { add: add('g') }]),
    },
    {
      name: 'a blind append invalidates a transaction that changes the metadata and read all',
      ours: [
        {
          metaData: {
            id: 'x',
            format: { provider: 'parquet' },
            schemaString: '{}',
            partitionColumns: [],
            configuration: {},
          },
        },
        remove('f1'),
      ],
      reads: { files: [add('f1')], scope: 'all' },
      winners: winner([info(true), { add: add('g') }]),
      reason: 'concurrent-append',
    },
    {
      name: 'a removal with dataChange=false (compaction) of another file does not invalidate ours',
      ours: [remove('f1')],
      reads: { files: [add('f1')], scope: 'none' },
      winners: winner([{ remove: { path: 'f9', dataChange: false } }]),
    },
  ])('$name', (c) => {
    const race = checkCommitRace(c.ours, c.reads, c.winners)
    expect(race?.reason).toBe(c.reason)
    if (c.reason) expect(race?.version).toBe(5)
  })

  test('reports the first invalidating winner in version order', () => {
    const race = checkCommitRace([remove('f1')], { files: [add('f1')], scope: 'none' }, [
      { version: 3, actions: [info(true), { add: add('x') }] },
      { version: 4, actions: [remove('f1')] },
    ])
    expect(race).toEqual({
      version: 4,
      reason: 'concurrent-delete-delete',
      detail: 'it removed f1, which this transaction removes too',
    })
  })
})
