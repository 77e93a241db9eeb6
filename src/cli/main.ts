#!/usr/bin/env node
/** duckmerge CLI entry: finds the command, parses its flags, prints its report, sets the exit code. */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DuckmergeError, hintOf, messageOf } from '../errors.js'
import { type Command, type CommandContext, flagForField, type OptionSpecs } from './command.js'
import { commands } from './commands/index.js'
import { ExitCode, exitCodeFor } from './exit-codes.js'
import { withInterrupt } from './interrupt.js'
import { progressBar, toJson } from './output.js'

export async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json')
  let command: Command | undefined
  try {
    const found = findCommand(argv)
    if (!found) {
      process.stdout.write(helpText(argv))
      return argv.length === 0 || argv.includes('--help') || argv.includes('-h')
        ? ExitCode.ok
        : ExitCode.usage
    }
    command = found.command
    const { rest } = found
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(commandHelp(command))
      return ExitCode.ok
    }
    const { onInterrupt } = command
    const announce = (signal: NodeJS.Signals) => {
      if (onInterrupt && !json)
        process.stderr.write(`duckmerge: ${signal} received, ${onInterrupt}\n`)
    }
    const run = command.run.bind(command)
    const result = await withInterrupt(
      (signal) => run(parseContext(command as Command, rest, json, signal)),
      announce,
    )
    process.stdout.write(json ? `${toJson(result.report)}\n` : `${result.text}\n`)
    return result.exitCode ?? ExitCode.ok
  } catch (error) {
    const code = exitCodeFor(error)
    const known = error instanceof DuckmergeError
    const label = known ? error.code : 'INTERNAL'
    const hint = hintOf(error, (field) => flagForField(command, field))
    const message = hint ? `${messageOf(error)} ${hint}` : messageOf(error)
    process.stderr.write(`duckmerge: error [${label}]: ${oneLine(message)}\n`)
    if (!known && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`)
    if (json)
      process.stdout.write(
        `${toJson({ error: { code: label, message, ...(known ? { details: cliDetails(command, error.details) } : {}) } })}\n`,
      )
    return code
  }
}

/**
 * An error's details with `side` in this command's words (`theirs` → `exp` where theirs is
 * `--exp`), as its --json errors have always said; a command without such flags keeps `ours`/`theirs`.
 */
function cliDetails(
  command: Command | undefined,
  details: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  const flag = typeof details.side === 'string' ? command?.hintFlags?.[details.side] : undefined
  return flag === undefined ? details : { ...details, side: flag }
}

function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  const words = argv.filter((a) => !a.startsWith('-'))
  let best: Command | undefined
  for (const command of commands) {
    const matches = command.path.every((p, i) => words[i] === p)
    if (matches && (!best || command.path.length > best.path.length)) best = command
  }
  if (!best) return undefined
  // Remove the command words (their first occurrences, in order) and keep everything else.
  const rest = [...argv]
  for (const word of best.path) rest.splice(rest.indexOf(word), 1)
  return { command: best, rest }
}

function parseContext(
  command: Command,
  args: string[],
  json: boolean,
  signal: AbortSignal,
): CommandContext {
  const options: OptionSpecs = { json: { type: 'boolean' }, ...command.options }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args, options),
      options,
      allowPositionals: true,
      strict: true,
      tokens: true,
    })
  } catch (error) {
    throw new DuckmergeError(
      'USAGE',
      `${messageOf(error)} (usage: duckmerge ${command.path.join(' ')} ${command.usage})`,
    )
  }
  // parseArgs keeps the last of a repeated single-value flag; two values is a mistake to report.
  const seen = new Set<string>()
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option' || options[token.name]?.multiple) continue
    if (seen.has(token.name) && options[token.name]?.type === 'string')
      throw new DuckmergeError(
        'USAGE',
        `--${token.name} was given more than once; it takes one value (usage: duckmerge ${command.path.join(' ')} ${command.usage})`,
      )
    seen.add(token.name)
  }
  const names = command.positionals ?? []
  const variadic = names.at(-1)?.endsWith('...') ?? false
  const required = names.filter((n) => !n.startsWith('[') && !n.endsWith('...')).length
  if (
    parsed.positionals.length < required ||
    (!variadic && parsed.positionals.length > names.length)
  )
    throw new DuckmergeError(
      'USAGE',
      `expected ${names.join(' ') || 'no arguments'}, got ${parsed.positionals.length ? parsed.positionals.join(' ') : 'none'} (usage: duckmerge ${command.path.join(' ')} ${command.usage})`,
    )
  return {
    values: parsed.values as CommandContext['values'],
    positionals: parsed.positionals,
    json,
    progress: progressBar({ json }),
    cwd: process.cwd(),
    signal,
  }
}

/**
 * `--limit -5` as `--limit=-5`: parseArgs reads a value starting with "-" as a flag and refuses it
 * as ambiguous, so the command's own check can say what a valid number is.
 */
function joinNegativeValues(args: readonly string[], options: OptionSpecs): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ''
    const next = args[i + 1]
    const name = arg.startsWith('--') ? arg.slice(2) : undefined
    if (name && options[name]?.type === 'string' && next && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

function helpText(argv: readonly string[]): string {
  const prefix = argv.filter((a) => !a.startsWith('-'))
  const shown = commands.filter((c) => prefix.every((p, i) => c.path[i] === p))
  const list = (shown.length > 0 ? shown : commands)
    .map((c) => `  duckmerge ${c.path.join(' ').padEnd(20)} ${c.summary}`)
    .join('\n')
  const unknown =
    prefix.length > 0 && shown.length === 0 ? `Unknown command: ${prefix.join(' ')}\n\n` : ''
  return `${unknown}duckmerge: git-style merge and rebase for data artifacts.\n\nCommands:\n${list}\n\nEvery command takes --json (one JSON object on stdout) and --help.\nExit codes: 0 ok, 1 failed, 2 usage error.\nCtrl-C or SIGTERM stops at the next safe point, removes or rolls back what the command wrote and\nexits 1 (INTERRUPTED); a second one exits at once. A single-value flag may be given only once.\n`
}

function commandHelp(command: Command): string {
  const flags = Object.entries(command.options)
    .map(
      ([name, spec]) =>
        `  --${name}${spec.type === 'string' ? ' VALUE' : ''}${spec.multiple ? ' (repeatable)' : ''}`,
    )
    .join('\n')
  const more = command.help === undefined ? '' : `\n\n${command.help}`
  return `duckmerge ${command.path.join(' ')} ${command.usage}\n\n${command.summary}${more}\n\nFlags:\n${flags}\n  --json\n`
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ')
}

// Run when executed directly (also through the npx/bin symlink), not when imported.
const invoked = process.argv[1] ? realpathSync(process.argv[1]) : ''
if (invoked === realpathSync(fileURLToPath(import.meta.url))) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
      // The work is done and reported: a signal while the process winds down (engines closing)
      // must not turn a finished run into a killed one.
      const finish = () => process.exit(code)
      process.once('SIGINT', finish)
      process.once('SIGTERM', finish)
    },
    (error: unknown) => {
      process.stderr.write(`duckmerge: ${messageOf(error)}\n`)
      process.exitCode = ExitCode.internal
    },
  )
}
