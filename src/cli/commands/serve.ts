/** CLI command: duckmerge serve — the change-request HTTP service over a data root. */
import { resolve } from 'node:path'
import { openDataRoot } from '../../changes/data-root.js'
import { serviceLogger } from '../../service/logger.js'
import { webRoutes } from '../../service/routes/index.js'
import { startServer } from '../../service/server.js'
import { type Command, intOption, stringOption } from '../command.js'
import { rootFlags } from './dataset.js'

const serve: Command = {
  path: ['serve'],
  summary: 'Serve the change-request HTTP API (datasets, change requests, merges) over a data root',
  usage:
    '[--root DIR] [--store URL] [--host 127.0.0.1] [--port 8080] [--max-upload-bytes N] [--max-upload-rows N] [--max-upload-columns N] [--log-level info] [--results FILE]...',
  options: {
    ...rootFlags,
    host: { type: 'string' },
    port: { type: 'string' },
    'log-level': { type: 'string' },
    'max-upload-bytes': { type: 'string' },
    'max-upload-rows': { type: 'string' },
    'max-upload-columns': { type: 'string' },
    results: { type: 'string', multiple: true },
  },
  help: 'Prints "listening on http://HOST:PORT" as its first line (--port 0 picks a free port), then\nserves until Ctrl-C or SIGTERM, which stop accepting, finish the requests in flight and exit.\nRequests carry "Authorization: Bearer <token>" (duckmerge token create). Logs (JSON, no secrets)\ngo to stderr. Uploads are limited to 1 GiB, 50,000,000 rows and 1,000 columns unless\n--max-upload-bytes, --max-upload-rows and --max-upload-columns say otherwise. The API is described at /api/v1/openapi.json; see docs/service.md.\nThe web UI is at / (sign in with a token). Its Experiments page shows the results databases\nnamed by --results (repeatable) and those in the data root\'s results/ folder.',
  onInterrupt: 'finishing the requests in flight',
  async run(context) {
    const host = stringOption(context.values, 'host') ?? '127.0.0.1'
    const port = intOption(context.values, 'port') ?? 8080
    const rootFlag = stringOption(context.values, 'root')
    const store = stringOption(context.values, 'store')
    const log = serviceLogger(stringOption(context.values, 'log-level') ?? 'info')
    const root = await openDataRoot({
      cwd: context.cwd,
      ...(rootFlag !== undefined ? { root: rootFlag } : {}),
      ...(store !== undefined ? { store } : {}),
    })
    try {
      const limits = {
        uploadBytes: intOption(context.values, 'max-upload-bytes', 1),
        uploadRows: intOption(context.values, 'max-upload-rows', 1),
        uploadColumns: intOption(context.values, 'max-upload-columns', 1),
      }
      const results = ((context.values.results as string[] | undefined) ?? []).map((f) =>
        resolve(context.cwd, f),
      )
      const server = await startServer({
        root,
        log,
        host,
        port,
        routes: webRoutes(results),
        readablePaths: results,
        limits: Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
      })
      process.stdout.write(`listening on ${server.url}\n`)
      log.info({ url: server.url, root: root.path, store: root.store.label }, 'listening')
      await new Promise<void>((resolve) => {
        if (context.signal.aborted) resolve()
        else context.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      await server.close()
      log.info('stopped')
      return { report: { status: 'stopped', url: server.url }, text: 'stopped' }
    } finally {
      await root.close()
    }
  },
}

export const serveCommands: readonly Command[] = [serve]
