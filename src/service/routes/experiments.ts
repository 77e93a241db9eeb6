/**
 * Experiments for the web UI: the results databases named on `serve --results FILE` and those in
 * the data root's `results/` folder, listed, ranked, compared and charted by the same library
 * functions as `exp list`, `exp diff` and `exp plot`, so the numbers are the same.
 *
 * A source is addressed by its position in that list, never by a path from the request.
 */
import { existsSync, readdirSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { z } from 'zod'
import { DuckmergeError } from '../../errors.js'
import { diffExperiments } from '../../track/explorer-diff.js'
import { listExperiments } from '../../track/explorer-list.js'
import { metricSeries } from '../../track/metric-series.js'
import { plotMetric } from '../../track/plot.js'
import type { RouteModule } from '../context.js'
import { documented } from '../openapi.js'
import { parseWith } from '../validate.js'

const RESULTS_FILE = /\.(db|sqlite|sqlite3|duckdb)$/i

interface Source {
  readonly id: string
  readonly name: string
  readonly path: string
}

function sourcesOf(files: readonly string[], rootPath: string): Source[] {
  const found = files.map((f) => resolve(f))
  const folder = join(rootPath, 'results')
  if (existsSync(folder))
    for (const name of readdirSync(folder).sort())
      if (RESULTS_FILE.test(name)) found.push(join(folder, name))
  return [...new Set(found)].map((path, i) => ({ id: String(i), name: basename(path), path }))
}

const text = z.string().max(2000)
const listQuery = z
  .object({
    sort: text.optional(),
    descending: z.enum(['true', 'false']).optional(),
    where: text.optional(),
  })
  .strict()
const diffQuery = z.object({ base: text, exp: text, where: text.optional() }).strict()
const plotQuery = z
  .object({
    metric: text,
    by: text,
    band: z.enum(['std', 'minmax', 'none']).optional(),
    where: text.optional(),
  })
  .strict()
const seriesQuery = z
  .object({
    metric: text,
    where: text.optional(),
    limit: z.coerce.number().int().min(1).max(50_000).optional(),
  })
  .strict()

const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v)

/** `files`: the databases named on the command line, in that order. */
export function experimentRoutes(files: readonly string[] = []): RouteModule {
  return (app, deps) => {
    const sources = () => sourcesOf(files, deps.root.path)
    const sourceOf = (id: string): Source => {
      const source = sources().find((s) => s.id === id)
      if (!source)
        throw new DuckmergeError('INPUT_NOT_FOUND', `No results database ${JSON.stringify(id)}.`, {
          source: id,
        })
      return source
    }

    documented({
      method: 'get',
      path: '/api/v1/experiments',
      summary: 'Results databases the server knows (serve --results, and <root>/results/)',
      tag: 'experiments',
      responses: { 200: '{sources:[{id, name}]}' },
    })
    app.get('/api/v1/experiments', (c) =>
      c.json({ sources: sources().map((s) => ({ id: s.id, name: s.name })) }),
    )

    documented({
      method: 'get',
      path: '/api/v1/experiments/{source}/list',
      summary: 'Experiments ranked by a metric (exp list)',
      tag: 'experiments',
      query: listQuery,
      responses: { 200: 'As exp list --json', 404: 'No such source' },
    })
    app.get('/api/v1/experiments/:source/list', async (c) => {
      const q = parseWith(listQuery, c.req.query(), 'query')
      const sort = blank(q.sort)
      const where = blank(q.where)
      const list = await listExperiments({
        db: sourceOf(c.req.param('source')).path,
        ...(sort ? { sort, descending: q.descending !== 'false' } : {}),
        ...(where ? { where } : {}),
      })
      return c.json({ ...list, db: basename(list.db) })
    })

    documented({
      method: 'get',
      path: '/api/v1/experiments/{source}/diff',
      summary: 'Two experiments compared (exp diff)',
      tag: 'experiments',
      query: diffQuery,
      responses: { 200: 'As exp diff --json', 404: 'No such source or version' },
    })
    app.get('/api/v1/experiments/:source/diff', async (c) => {
      const q = parseWith(diffQuery, c.req.query(), 'query')
      const where = blank(q.where)
      const diff = await diffExperiments({
        db: sourceOf(c.req.param('source')).path,
        base: q.base,
        exp: q.exp,
        ...(where ? { where } : {}),
      })
      return c.json({ ...diff, db: basename(diff.db) })
    })

    documented({
      method: 'get',
      path: '/api/v1/experiments/{source}/plot',
      summary: 'A metric against a param: mean, std, min, max per point (exp plot)',
      tag: 'experiments',
      query: plotQuery,
      responses: { 200: '{points, xAxis, series}', 404: 'No such source' },
    })
    app.get('/api/v1/experiments/:source/plot', async (c) => {
      const q = parseWith(plotQuery, c.req.query(), 'query')
      const where = blank(q.where)
      const plot = await plotMetric({
        db: sourceOf(c.req.param('source')).path,
        metric: q.metric,
        by: q.by,
        ...(q.band ? { band: q.band } : {}),
        ...(where ? { where } : {}),
      })
      const { svg: _svg, ...data } = plot
      return c.json(data)
    })

    documented({
      method: 'get',
      path: '/api/v1/experiments/{source}/series',
      summary: "A metric's values in logging order",
      tag: 'experiments',
      query: seriesQuery,
      responses: { 200: '{metric, orderedBy, points}', 404: 'No such source' },
    })
    app.get('/api/v1/experiments/:source/series', async (c) => {
      const q = parseWith(seriesQuery, c.req.query(), 'query')
      const where = blank(q.where)
      return c.json(
        await metricSeries({
          db: sourceOf(c.req.param('source')).path,
          metric: q.metric,
          ...(where ? { where } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      )
    })
  }
}
