// One schema per route: the same zod objects validate every /api/v1 request (params, query,
// body: a 400 naming the first problem) and generate the OpenAPI 3.1 document (zod's own
// JSON Schema output, draft 2020-12, which OpenAPI 3.1 uses). A test checks that every route
// the routers serve has its entry here, so the document cannot drift from the code.
import type Koa from 'koa';
import { z } from 'zod';
import { parseInput, roomFromPath } from '@live-webrtc/shared';

type Method = 'get' | 'post' | 'patch' | 'delete' | 'options';

export interface ResponseSpec {
  description: string;
  /** JSON body schema (application/json) unless `contentType` says otherwise. */
  schema?: z.ZodType;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteSpec {
  method: Method;
  /** Koa-style path: /api/v1/rooms/:room */
  path: string;
  tag: string;
  summary: string;
  /** Longer text (OpenAPI `description`): behaviour a summary cannot say. */
  description?: string;
  /** Request headers the route reads, by name: their description (optional header parameters). */
  requestHeaders?: Record<string, string>;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** JSON body; `rawBody` documents a non-JSON one (SDP) that the route reads itself. */
  body?: z.ZodType;
  rawBody?: { contentType: string; description: string };
  responses: Record<number, ResponseSpec>;
  /** false: no credentials needed. Default true. */
  auth?: boolean;
}

export interface ValidatedInput {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
}

const compiled = new WeakMap<RouteSpec, RegExp>();
function pattern(spec: RouteSpec): RegExp {
  let re = compiled.get(spec);
  if (!re) {
    re = new RegExp(`^${spec.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`, 'i');
    compiled.set(spec, re);
  }
  return re;
}

/** The spec serving `method path`, with its decoded path parameters. */
export function matchRoute(
  specs: RouteSpec[],
  method: string,
  path: string,
): { spec: RouteSpec; params: Record<string, string> } | undefined {
  for (const spec of specs) {
    if (spec.method !== method.toLowerCase()) continue;
    const m = pattern(spec).exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.groups ?? {})) {
      try {
        params[k] = decodeURIComponent(v);
      } catch {
        params[k] = v;
      }
    }
    return { spec, params };
  }
  return undefined;
}

/**
 * Validates /api/v1 requests by their spec before any route runs (after the body parser):
 * path parameters, query and JSON body. The parsed input is kept in ctx.state.input.
 */
export function validateRequests(specs: RouteSpec[]): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.toLowerCase().startsWith('/api/v1/')) return next();
    const found = matchRoute(specs, ctx.method, ctx.path);
    if (!found) return next(); // the routers answer 404/405
    const { spec, params } = found;
    const input: ValidatedInput = {
      params: spec.params ? parseParams(spec.params, params) : params,
      query: spec.query ? parseInput(spec.query, ctx.query, 'query') : {},
      body: spec.body ? parseInput(spec.body, (ctx.request as { body?: unknown }).body, 'body') : undefined,
    };
    ctx.state['input'] = input;
    await next();
  };
}

/** Each path parameter by its own schema, so errors keep their codes (invalid_id, bad_room_name). */
function parseParams(schema: z.ZodObject, params: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(schema.shape)) {
    if (name === 'room') out[name] = roomFromPath(params[name]);
    else out[name] = parseInput(s as z.ZodType, params[name], name);
  }
  return out;
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  void _drop;
  return rest;
};

function parameters(spec: RouteSpec) {
  const out: Record<string, unknown>[] = [];
  for (const [where, obj] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!obj) continue;
    const s = jsonSchema(obj, 'input') as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, schema] of Object.entries(s.properties ?? {})) {
      out.push({ name, in: where, required: where === 'path' || (s.required ?? []).includes(name), schema });
    }
  }
  for (const [name, description] of Object.entries(spec.requestHeaders ?? {})) {
    out.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });
  }
  return out;
}

export const ErrorSchema = z.object({
  error: z.looseObject({ code: z.string().regex(/^[a-z][a-z0-9_]*$/), message: z.string() }),
});

/** The OpenAPI 3.1 document of `specs`. */
export function openApiFrom(specs: RouteSpec[], info: { title: string; version: string; description: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const path = spec.path.replace(/:(\w+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      const schema = r.schema ?? (Number(status) >= 400 ? ErrorSchema : undefined);
      responses[status] = {
        description: r.description,
        ...(r.headers
          ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) }
          : {}),
        ...(schema
          ? { content: { [r.contentType ?? 'application/json']: { schema: jsonSchema(schema, 'output') } } }
          : r.contentType
            ? { content: { [r.contentType]: { schema: { type: 'string' } } } }
            : {}),
      };
    }
    const params = parameters(spec);
    (paths[path] ??= {})[spec.method] = {
      tags: [spec.tag],
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(spec.body
        ? {
            requestBody: {
              required: !spec.body.safeParse(undefined).success,
              content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } },
            },
          }
        : {}),
      ...(spec.rawBody
        ? {
            requestBody: {
              required: true,
              description: spec.rawBody.description,
              content: { [spec.rawBody.contentType]: { schema: { type: 'string' } } },
            },
          }
        : {}),
      ...(spec.auth === false ? { security: [] } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info,
    security: [{ bearer: [] }, { xAuthToken: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'AUTH_TOKEN or a room JWT from POST /api/v1/tokens' },
        xAuthToken: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
      },
    },
    paths,
  };
}
