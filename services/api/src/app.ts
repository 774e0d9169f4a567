// The API's Koa app: where every public request enters. Order: errors → metrics → ops routes →
// web page → WHIP/WHEP relay → /api/v1 routes.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import {
  errorMiddleware,
  metricsMiddleware,
  opsMiddleware,
  tracingMiddleware,
  type Metrics,
  type ReadinessCheck,
} from '@live-webrtc/shared';
import type { ApiDeps } from './deps.js';
import { sfuProxy } from './http/proxy.js';
import { webPage } from './http/web.js';
import { openApiDocument } from './routes/openapi.js';
import { recordingRoutes } from './routes/recordings.js';
import { roomRoutes } from './routes/rooms.js';
import { tokenRoutes } from './routes/tokens.js';

export function createApiApp(d: ApiDeps, o: { sfuUrl: string; metrics: Metrics; checks: Record<string, ReadinessCheck> }): Koa {
  const app = new Koa();
  app.proxy = true;
  app.use(tracingMiddleware('api'));
  app.use(errorMiddleware(d.logger));
  app.use(metricsMiddleware(o.metrics));
  app.use(opsMiddleware({ metrics: o.metrics, checks: o.checks }));
  app.use(webPage());
  app.use(sfuProxy(o.sfuUrl, 256 * 1024));
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb' }));
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
