// Koa pieces every service uses: JSON errors, request metrics and logs, health/readiness/
// metrics routes, bounded raw-body reading and listening on an HTTP_ADDR.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import getRawBody from 'raw-body';
import type { Logger } from 'pino';
import type { ListenAddress } from './config.js';
import type { z } from 'zod';
import { credentialsFrom, safeEqual } from './auth.js';
import { AppError, badRequest, payloadTooLarge, toErrorResponse, unauthorized, unsupportedMediaType } from './errors.js';
import { routeLabel, type Metrics } from './metrics.js';
import { withTimeout } from './timeout.js';

/** Turns every thrown error into `{"error":{"code","message"}}`; logs unexpected ones. */
export function errorMiddleware(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: { code: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` } };
      } else if (ctx.status >= 400 && (ctx.body === undefined || ctx.body === null || typeof ctx.body === 'string')) {
        // Koa's own answers (405 from allowedMethods, 501) are JSON errors too.
        const status = ctx.status;
        const code = status === 405 ? 'method_not_allowed' : status === 501 ? 'not_implemented' : 'bad_request';
        ctx.body = { error: { code, message: `${ctx.method} ${ctx.path}: ${code.replace(/_/g, ' ')}` } };
        ctx.status = status;
      }
    } catch (err) {
      const { status, body, expected } = toErrorResponse(err);
      if (!expected) logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      ctx.status = status;
      ctx.body = body;
      if (status === 401) ctx.set('WWW-Authenticate', 'Bearer');
      const retryAfter = err instanceof AppError ? err.details?.['retryAfterSeconds'] : undefined;
      if (status === 503 && typeof retryAfter === 'number') ctx.set('Retry-After', String(retryAfter));
    }
  };
}

/** Records request duration by route template (never the raw path: ids would explode cardinality). */
export function metricsMiddleware(metrics: Metrics): Koa.Middleware {
  return async (ctx, next) => {
    const end = metrics.httpRequests.startTimer();
    try {
      await next();
    } finally {
      const route = routeLabel((ctx as unknown as { _matchedRoute?: unknown })._matchedRoute, ctx.path);
      end({ method: ctx.method, route, status: String(ctx.status) });
    }
  };
}

export type ReadinessCheck = () => Promise<void>;

/**
 * /healthz, /readyz (every check must pass) and /metrics. `showDetails` decides whether a
 * failing check's own error text is shown (only to authenticated callers: it can name hosts and
 * internals); `metricsToken` puts /metrics behind a Bearer token.
 */
export function opsMiddleware(opts: {
  metrics: Metrics;
  checks: Record<string, ReadinessCheck>;
  showDetails?: (ctx: Koa.Context) => Promise<boolean>;
  metricsToken?: string | undefined;
}): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz') {
      const results: Record<string, string> = {};
      let ok = true;
      await Promise.all(
        Object.entries(opts.checks).map(async ([name, check]) => {
          try {
            await withTimeout(check(), 2000, name);
            results[name] = 'ok';
          } catch (err) {
            ok = false;
            results[name] = err instanceof Error ? err.message : String(err);
          }
        }),
      );
      if (!ok && !(await (opts.showDetails?.(ctx) ?? Promise.resolve(false)))) {
        for (const name of Object.keys(results)) if (results[name] !== 'ok') results[name] = 'unavailable';
      }
      ctx.status = ok ? 200 : 503;
      ctx.body = { status: ok ? 'ready' : 'not_ready', checks: results };
      return;
    }
    if (ctx.path === '/metrics') {
      if (opts.metricsToken !== undefined && !safeEqual(credentialsFrom(ctx.headers) ?? '', opts.metricsToken)) {
        throw unauthorized('/metrics requires METRICS_TOKEN (Authorization: Bearer <token>)');
      }
      ctx.set('Content-Type', opts.metrics.registry.contentType);
      ctx.body = await opts.metrics.registry.metrics();
      return;
    }
    return next();
  };
}

/** `value` parsed by `schema`, or a 400 `invalid_<what>` naming the first problem. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw badRequest(`invalid_${what}`, `${i?.path.join('.') || what}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** Reads the request body as text after checking its content type; 413 past `limit` bytes. */
export async function readTextBody(ctx: Koa.Context, opts: { types: string[]; limit: number }): Promise<string> {
  const type = (ctx.get('Content-Type').split(';')[0] ?? '').trim().toLowerCase();
  if (!opts.types.includes(type)) {
    throw unsupportedMediaType(`expected Content-Type ${opts.types.join(' or ')}, got "${type || 'none'}"`);
  }
  try {
    return await getRawBody(ctx.req, { limit: opts.limit, encoding: 'utf8' });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') {
      await discardBody(ctx.req);
      throw payloadTooLarge(`body larger than ${opts.limit} bytes`);
    }
    throw err;
  }
}

/**
 * Reads and drops the rest of a refused request body (up to `maxBytes`), so the client gets
 * the 413 instead of a connection reset while it is still sending. Past `maxBytes` the
 * connection is closed after the answer.
 */
export async function discardBody(req: Koa.Context['req'], maxBytes = 16 * 1024 * 1024): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.socket.once('finish', () => req.socket.destroy());
    return;
  }
  let seen = 0;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > maxBytes) stop();
    };
    req.on('data', onData);
    req.once('end', stop);
    req.once('error', stop);
    req.once('close', stop);
    req.resume();
  });
}

/** Listens on `addr`; resolves with the server once bound (port 0 picks a free port). */
export async function listen(app: Koa, addr: ListenAddress): Promise<Server> {
  const server = app.listen(addr.port, addr.host);
  await once(server, 'listening');
  return server;
}

export const boundPort = (server: Server): number => (server.address() as AddressInfo).port;

/** Stops accepting connections and closes idle keep-alive sockets. */
export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
