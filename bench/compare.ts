/**
 * Before/after benchmarks: runs the same benches at a reference commit and at this work tree,
 * interleaved (ref, head, ref, head, …) so that a change in the machine's load hits both sides
 * alike, and prints each figure side by side with head/ref.
 *
 *   npm run bench:compare -- [--ref c58be38] [--rounds 3] [name...]
 *
 * The reference is checked out (detached) into a temporary git worktree with this tree's
 * node_modules linked in, and removed afterwards. Each bench runs as its own process, with the
 * environment passed through, so sizes are set as usual (DATA_BENCH_ROWS=1000000 …). A figure is
 * a `name: 123 ms` printed by bench/support.ts `report()`; its floor's `floor (label): 99 ms`
 * and a `cpu 45 ms` line are figures too. Each side keeps its fastest of the rounds.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  options: {
    ref: { type: 'string', default: 'c58be38' },
    rounds: { type: 'string', default: '3' },
  },
  allowPositionals: true,
})
const rounds = Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a whole number ≥ 1')

const head = join(dirname(fileURLToPath(import.meta.url)), '..')
const git = (...args: string[]) =>
  execFileSync('git', ['-C', head, ...args], { encoding: 'utf8' }).trim()
const refCommit = git('rev-parse', '--verify', `${values.ref}^{commit}`)
const headCommit = git('rev-parse', '--short', 'HEAD')

const refTree = join(mkdtempSync(join(tmpdir(), 'duckmerge-bench-ref-')), 'tree')
git('worktree', 'add', '--detach', refTree, refCommit)
symlinkSync(realpathSync(join(head, 'node_modules')), join(refTree, 'node_modules'))

const benchesOf = (tree: string) =>
  readdirSync(join(tree, 'bench')).filter((f) => f.endsWith('.bench.ts'))
const inRef = new Set(benchesOf(refTree))
const benches = benchesOf(head)
  .filter((f) => inRef.has(f))
  .filter((f) => positionals.length === 0 || positionals.some((name) => f.includes(name)))
  .sort()

type Figures = Map<string, number>

/**
 * A subject's name without the timings some benches print inside it: `backfill … (70000
 * inserted; batch 2842 ms of 4356 ms)` is `backfill … (70000 inserted)` in every run.
 */
const nameOf = (text: string) =>
  text
    .replace(/\(([^()]*?)[;,][^();]*\d ms[^()]*\)/g, '($1)')
    .replace(/\s+/g, ' ')
    .trim()

/** Every `label: N ms` in a bench's output, keyed by the subject line and, for floors, its label. */
function figuresOf(output: string): Figures {
  const figures: Figures = new Map()
  let subject = ''
  for (const line of output.split('\n')) {
    const main = /^\s*(\S[^:]*): (\d+(?:\.\d+)?) ms/.exec(line)
    if (main?.[1] && main[2]) {
      subject = nameOf(main[1])
      figures.set(subject, Number(main[2]))
      const floor = /floor \(([^)]*)\): (\d+(?:\.\d+)?) ms/.exec(line)
      if (floor?.[1] && floor[2]) figures.set(`${subject} | floor: ${floor[1]}`, Number(floor[2]))
      continue
    }
    const cpu = /^\s+cpu (\d+(?:\.\d+)?) ms/.exec(line)
    if (cpu?.[1] && subject) figures.set(`${subject} | cpu`, Number(cpu[1]))
  }
  return figures
}

function runBench(tree: string, file: string): Figures {
  const tsx = join(tree, 'node_modules', 'tsx', 'dist', 'cli.mjs')
  const result = spawnSync(process.execPath, [tsx, join(tree, 'bench', file)], {
    cwd: tree,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (result.status !== 0) {
    process.stdout.write(`  ${file} failed in ${tree}:\n${result.stderr.slice(-2000)}\n`)
    return new Map()
  }
  return figuresOf(result.stdout)
}

function keepFastest(into: Figures, from: Figures): void {
  for (const [name, ms] of from) into.set(name, Math.min(into.get(name) ?? Infinity, ms))
}

const pad = (text: string, width: number) => text.padStart(width)

try {
  process.stdout.write(
    `before/after: ref ${values.ref} (${refCommit.slice(0, 7)}) vs head ${headCommit} (work tree), ${rounds} interleaved rounds, fastest of each side\n`,
  )
  for (const file of benches) {
    process.stdout.write(`\n== ${file}\n`)
    const ref: Figures = new Map()
    const now: Figures = new Map()
    for (let round = 0; round < rounds; round++) {
      keepFastest(ref, runBench(refTree, file))
      keepFastest(now, runBench(head, file))
    }
    const names = [...new Set([...ref.keys(), ...now.keys()])]
    const width = Math.max(10, ...names.map((n) => n.length))
    process.stdout.write(
      `${'figure'.padEnd(width)}  ${pad('ref ms', 9)}  ${pad('head ms', 9)}  head/ref\n`,
    )
    for (const name of names) {
      const a = ref.get(name)
      const b = now.get(name)
      const ratio = a !== undefined && b !== undefined && a > 0 ? `${(b / a).toFixed(2)}x` : '—'
      process.stdout.write(
        `${name.padEnd(width)}  ${pad(a?.toFixed(0) ?? '—', 9)}  ${pad(b?.toFixed(0) ?? '—', 9)}  ${ratio}\n`,
      )
    }
  }
} finally {
  git('worktree', 'remove', '--force', refTree)
  rmSync(dirname(refTree), { recursive: true, force: true })
  if (existsSync(refTree)) process.stdout.write(`could not remove ${refTree}\n`)
}
