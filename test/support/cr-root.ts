/** A data root driven through the CLI as a user would: dataset `products`, change requests on it. */
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { type CliResult, runCli } from './cli.js'
import { tempDir } from './temp.js'

/** The change request fields the tests read from `cr create --json`. */
export interface CreatedCr {
  readonly id: string
  readonly number: number
  readonly staged: Record<string, unknown>
}

export interface ProductsRoot {
  readonly dir: string
  readonly root: string
  /** `duckmerge ARGS --root ROOT --json`. */
  cli(...args: string[]): CliResult
  /** `duckmerge ARGS --root ROOT` (text output). */
  text(...args: string[]): CliResult
  /** Writes `content` to `name` in the test folder; returns its path. */
  file(name: string, content: string): string
  /** `cr create products --from NAME --title NAME` with `content` as NAME; checks it exits 0. */
  cr(name: string, content: string, ...more: string[]): CreatedCr
  /** The commit files of the dataset's Delta log. */
  log(): string[]
}

/**
 * A fresh root holding dataset `products` (key `id`) created from the CSV text `csv`.
 *
 * @example
 * const { cli, cr } = productsRoot()
 * cli('cr', 'merge', cr('a.csv', 'id,price\n7,11\n').id)
 */
export function productsRoot(csv = 'id,price,qty\n1,10,1\n2,20,2\n7,10,7\n'): ProductsRoot {
  const dir = tempDir()
  const root = join(dir, 'root')
  const cli = (...args: string[]) => runCli([...args, '--root', root, '--json'])
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content)
    return join(dir, name)
  }
  const created = cli('dataset', 'create', 'products', '--from', file('p.csv', csv), '--key', 'id')
  expect(created.code, created.stderr).toBe(0)
  return {
    dir,
    root,
    cli,
    text: (...args) => runCli([...args, '--root', root]),
    file,
    cr(name, content, ...more) {
      const r = cli(
        'cr',
        'create',
        'products',
        '--from',
        file(name, content),
        '--title',
        name,
        ...more,
      )
      expect(r.code, r.stderr).toBe(0)
      return r.json<CreatedCr>()
    },
    log: () =>
      readdirSync(join(root, 'datasets', '1', 'table', '_delta_log')).filter((f) =>
        f.endsWith('.json'),
      ),
  }
}
