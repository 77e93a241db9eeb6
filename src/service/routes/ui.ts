/**
 * The web app at `/`: index.html and the hashed assets Vite built into dist/ui/static.
 *
 * Only files listed when the module mounts are served (a fixed map from URL to file), so no
 * request path ever reaches the file system. The app is a single page with hash routes, so `/`
 * is the only HTML entry point.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RouteModule } from '../context.js'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

// Same origin as the API, no inline scripts, no framing: the token in sessionStorage is only
// reachable by our own script.
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
}

/** dist/ui/static beside this module once built (dist/service/routes → dist/ui/static). */
export function uiDirectory(): string {
  return fileURLToPath(new URL('../../ui/static/', import.meta.url))
}

interface Asset {
  readonly body: Buffer
  readonly type: string
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  const add = (url: string, file: string) => {
    const type = TYPES[extname(file)]
    if (type) assets.set(url, { body: readFileSync(file), type })
  }
  if (!existsSync(join(dir, 'index.html'))) return assets
  add('/', join(dir, 'index.html'))
  const assetDir = join(dir, 'assets')
  if (existsSync(assetDir))
    for (const name of readdirSync(assetDir)) add(`/assets/${name}`, join(assetDir, name))
  return assets
}

export function uiRoutes(dir = uiDirectory()): RouteModule {
  return (app) => {
    const assets = loadAssets(dir)
    app.get('/', (c) => {
      const index = assets.get('/')
      if (!index)
        return c.text(
          'The web UI is not built: run `npm run build` (it needs the dev dependency vite).',
          503,
        )
      return c.body(new Uint8Array(index.body), 200, {
        'Content-Type': index.type,
        'Cache-Control': 'no-cache',
        ...SECURITY_HEADERS,
      })
    })
    app.get('/assets/:name', (c) => {
      const asset = assets.get(`/assets/${c.req.param('name')}`)
      if (!asset) return c.notFound()
      // File names carry a content hash, so a cached copy is never stale.
      return c.body(new Uint8Array(asset.body), 200, {
        'Content-Type': asset.type,
        'Cache-Control': 'public, max-age=31536000, immutable',
        ...SECURITY_HEADERS,
      })
    })
  }
}
