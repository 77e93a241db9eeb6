/**
 * The OpenAPI 3.1 document at /api/v1/openapi.json, built from the same zod schemas the routes
 * validate with (zod 4's `z.toJSONSchema`), so it cannot drift from what the server accepts.
 * Multipart and raw upload bodies are described by hand.
 */
import { z } from 'zod'

export interface ApiOperation {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete'
  /** OpenAPI path with `{param}` placeholders. */
  readonly path: string
  readonly summary: string
  readonly tag: string
  readonly body?: z.ZodType
  /** Extra request content types described by hand (multipart, raw uploads). */
  readonly uploads?: Readonly<Record<string, Record<string, unknown>>>
  readonly query?: z.ZodObject
  /** Status → description. */
  readonly responses: Readonly<Record<number, string>>
  /** No bearer token needed. */
  readonly isPublic?: boolean
}

const operations = new Map<string, ApiOperation>()

/** Adds an operation to the document (route modules call this beside each route). */
export function documented(operation: ApiOperation): void {
  operations.set(`${operation.method} ${operation.path}`, operation)
}

const errorSchema = {
  type: 'object',
  required: ['code', 'message', 'request_id'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object' },
    request_id: { type: 'string' },
  },
}

/** The whole document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of operations.values()) {
    const parameters = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...(op.query
        ? Object.entries(
            (z.toJSONSchema(op.query, { io: 'input' }) as { properties?: Record<string, unknown> })
              .properties ?? {},
          ).map(([name, schema]) => ({ name, in: 'query', required: false, schema }))
        : []),
    ]
    const content: Record<string, unknown> = {}
    if (op.body) content['application/json'] = { schema: z.toJSONSchema(op.body, { io: 'input' }) }
    for (const [type, schema] of Object.entries(op.uploads ?? {})) content[type] = { schema }
    const responses: Record<string, unknown> = {}
    for (const [status, description] of Object.entries(op.responses))
      responses[status] =
        Number(status) >= 400
          ? { description, content: { 'application/json': { schema: errorSchema } } }
          : { description }
    paths[op.path] ??= {}
    ;(paths[op.path] as Record<string, unknown>)[op.method] = {
      summary: op.summary,
      tags: [op.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(Object.keys(content).length > 0 ? { requestBody: { content } } : {}),
      responses,
      ...(op.isPublic ? { security: [] } : {}),
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'duckmerge change-request service',
      version,
      description:
        'Datasets (Delta tables), change requests, three-way merges. Errors are {code, message, details?, request_id}.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorSchema },
    },
    security: [{ bearer: [] }],
    paths,
  }
}
