import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../test/support/temp.js'
import { dvcCacheDir, dvcCachedObject, parseDvcFile, setDvcOut } from './dvc.js'

const MD5 = '3b5d5c3712955042212316173ccf37be'

describe('parseDvcFile', () => {
  test.each([
    {
      name: 'DVC 3 (hash: md5)',
      text: `outs:\n- md5: ${MD5}\n  size: 12\n  hash: md5\n  path: model.pt\n`,
      outs: [{ md5: MD5, size: 12, hash: 'md5', path: 'model.pt' }],
    },
    {
      name: 'DVC 2 (no hash field), CRLF line ends',
      text: `outs:\r\n- md5: ${MD5}\r\n  size: 12\r\n  path: model.pt\r\n`,
      outs: [{ md5: MD5, size: 12, path: 'model.pt' }],
    },
    {
      name: 'indented list, quoted values, comments, other keys around it',
      text: `# written by dvc\nmd5: ffff\nouts:\n  - path: 'my model.pt' # the weights\n    md5: "${MD5}"\n    cache: true\ndeps:\n- path: data.csv\n  md5: aaaa\n`,
      outs: [{ md5: MD5, path: 'my model.pt' }],
    },
    {
      name: 'several outs',
      text: `outs:\n- md5: ${MD5}\n  path: a.bin\n- md5: ${MD5.replace('3', '4')}\n  path: b.bin\n`,
      outs: [
        { md5: MD5, path: 'a.bin' },
        { md5: MD5.replace('3', '4'), path: 'b.bin' },
      ],
    },
    { name: 'no outs', text: 'deps:\n- path: x\n  md5: y\n', outs: [] },
  ])('$name', ({ text, outs }) => {
    expect(parseDvcFile(text)).toEqual(outs)
  })

  test('an out without md5 is INPUT_UNREADABLE naming the file', () => {
    expect(() => parseDvcFile('outs:\n- path: model.pt\n  size: 3\n', 'model.pt.dvc')).toThrow(
      'model.pt.dvc: an entry of outs has no md5 (fields: path, size). Expected "- md5: …" and "path: …".',
    )
  })
})

describe('the DVC cache', () => {
  test('.dvc/cache by default; [cache] dir of config.local over config, relative to .dvc/', async () => {
    const root = tempDir()
    expect(await dvcCacheDir(root)).toBe(join(root, '.dvc', 'cache'))
    mkdirSync(join(root, '.dvc'))
    writeFileSync(
      join(root, '.dvc', 'config'),
      "[core]\n    remote = s3\n['cache']\n    dir = ../shared\n",
    )
    expect(await dvcCacheDir(root)).toBe(join(root, 'shared'))
    writeFileSync(join(root, '.dvc', 'config.local'), '[cache]\ndir = /mnt/cache\n')
    expect(await dvcCacheDir(root)).toBe('/mnt/cache')
  })

  test('finds DVC 3 and DVC 2 objects, preferring the layout the hash field names', async () => {
    const cache = tempDir()
    expect(await dvcCachedObject(cache, { md5: MD5, path: 'm' })).toBeUndefined()
    const v2 = join(cache, MD5.slice(0, 2), MD5.slice(2))
    const v3 = join(cache, 'files', 'md5', MD5.slice(0, 2), MD5.slice(2))
    mkdirSync(join(cache, MD5.slice(0, 2)), { recursive: true })
    writeFileSync(v2, 'old')
    expect(await dvcCachedObject(cache, { md5: MD5, path: 'm', hash: 'md5' })).toEqual({
      path: v2,
      layout: 'dvc2',
    })
    mkdirSync(join(cache, 'files', 'md5', MD5.slice(0, 2)), { recursive: true })
    writeFileSync(v3, 'new')
    expect(await dvcCachedObject(cache, { md5: MD5, path: 'm', hash: 'md5' })).toEqual({
      path: v3,
      layout: 'dvc3',
    })
    expect(await dvcCachedObject(cache, { md5: MD5, path: 'm' })).toEqual({
      path: v2,
      layout: 'dvc2',
    })
  })

  test('folders (.dir) are UNSUPPORTED_FEATURE; a malformed md5 is INPUT_UNREADABLE', async () => {
    const cache = tempDir()
    await expect(dvcCachedObject(cache, { md5: `${MD5}.dir`, path: 'data' })).rejects.toMatchObject(
      {
        code: 'UNSUPPORTED_FEATURE',
      },
    )
    await expect(dvcCachedObject(cache, { md5: '../../etc', path: 'x' })).rejects.toMatchObject({
      code: 'INPUT_UNREADABLE',
    })
  })
})

describe('setDvcOut', () => {
  const NEW = 'b'.repeat(32)
  test.each([
    {
      name: 'DVC 3: md5 and size replaced, other fields kept',
      text: `outs:\n- md5: ${MD5}\n  size: 12\n  hash: md5\n  path: results.db\n`,
      out: `outs:\n- md5: ${NEW}\n  size: 99\n  hash: md5\n  path: results.db\n`,
    },
    {
      name: 'no size line: added after md5; CRLF kept',
      text: `outs:\r\n- md5: ${MD5}\r\n  path: results.db\r\n`,
      out: `outs:\r\n- md5: ${NEW}\r\n  size: 99\r\n  path: results.db\r\n`,
    },
    {
      name: 'only the named output of several, comments and deps untouched',
      text: `outs:\n- md5: ${MD5} # old\n  size: 12\n  path: a.db\n- md5: ${MD5}\n  size: 12\n  path: results.db\ndeps:\n- md5: ${MD5}\n  path: results.db\n`,
      out: `outs:\n- md5: ${MD5} # old\n  size: 12\n  path: a.db\n- md5: ${NEW}\n  size: 99\n  path: results.db\ndeps:\n- md5: ${MD5}\n  path: results.db\n`,
    },
  ])('$name', ({ text, out }) => {
    expect(setDvcOut(text, 'results.db', { md5: NEW, size: 99 })).toBe(out)
    expect(parseDvcFile(out).find((o) => o.path === 'results.db')).toMatchObject({
      md5: NEW,
      size: 99,
    })
  })

  test('an output the file does not have is NOT_FOUND', () => {
    expect(() =>
      setDvcOut(`outs:\n- md5: ${MD5}\n  path: a.db\n`, 'b.db', { md5: MD5, size: 1 }),
    ).toThrow('The .dvc file has no output named b.db.')
  })
})
