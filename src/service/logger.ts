/** The service's logger: pino JSON lines on stderr (stdout carries only the "listening" line). */
import pino, { type Logger } from 'pino'

/** Header and body fields that may hold secrets, censored wherever they appear in a log object. */
const REDACT = [
  'authorization',
  'token',
  '*.authorization',
  '*.token',
  'req.headers.authorization',
  'headers.authorization',
]

export function serviceLogger(level: string): Logger {
  return pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.destination({ fd: 2, sync: false }),
  )
}
