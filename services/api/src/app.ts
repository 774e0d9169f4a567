// The API's Koa app: where every public request enters. Order: errors → security headers →
// client address → metrics → ops routes → web page → CORS / cross-site guard → rate limits →
// WHIP/WHEP relay → /api/v1 routes.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import {
  errorMiddleware,
  metricsMiddleware,
  opsMiddleware,
  tracingMiddleware,
  type Cidr,
  type Metrics,
  type ReadinessCheck,
} from '@live-webrtc/shared';
import type { ApiDeps } from './deps.js';
import { sfuProxy } from './http/proxy.js';
import { rateLimit, type RateLimits } from './http/rateLimit.js';
import { clientAddress, corsAndOrigin, securityHeaders } from './http/security.js';
import { webPage } from './http/web.js';
import { validateRequests } from './http/contract.js';
import { openApiDocument, routeSpecs } from './routes/openapi.js';
import { recordingRoutes } from './routes/recordings.js';
import { roomRoutes } from './routes/rooms.js';
import { tokenRoutes } from './routes/tokens.js';

export interface ApiHttpOptions {
  sfuUrl: string;
  metrics: Metrics;
  checks: Record<string, ReadinessCheck>;
  trustedProxies?: Cidr[];
  corsOrigins?: string[];
  rateLimits?: RateLimits;
  /** REDIS_PREFIX: rate-limit counters live under it. */
  redisPrefix?: string;
  metricsToken?: string | undefined;
  maxJsonBytes?: number;
  maxRelayBytes?: number;
}

export function createApiApp(d: ApiDeps, o: ApiHttpOptions): Koa {
  const app = new Koa();
  // The client address comes from clientAddress() (X-Forwarded-For from TRUSTED_PROXIES only).
  app.proxy = false;
  app.use(tracingMiddleware('api'));
  app.use(errorMiddleware(d.logger));
  app.use(securityHeaders(o.corsOrigins ?? []));
  app.use(clientAddress(o.trustedProxies ?? []));
  app.use(metricsMiddleware(o.metrics));
  app.use(
    opsMiddleware({
      metrics: o.metrics,
      checks: o.checks,
      metricsToken: o.metricsToken,
      showDetails: async (ctx) =>
        d.auth.enabled &&
        (await d.auth.authenticate(ctx.headers).then(
          (p) => p.kind === 'token',
          () => false,
        )),
    }),
  );
  app.use(webPage());
  app.use(corsAndOrigin(o.corsOrigins ?? []));
  if (o.rateLimits) app.use(rateLimit(d.redis, o.redisPrefix ?? 'lw', o.rateLimits));
  app.use(sfuProxy(o.sfuUrl, o.maxRelayBytes ?? 256 * 1024, d.logger));
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: o.maxJsonBytes ?? 64 * 1024 }));
  app.use(validateRequests(routeSpecs));
  const meta = new Router();
  meta.get('/api/v1/openapi.json', (ctx) => {
    ctx.body = openApiDocument;
  });
  for (const r of [meta, roomRoutes(d), recordingRoutes(d), tokenRoutes(d)]) {
    app.use(r.routes());
    app.use(r.allowedMethods());
  }
  return app;
}
