import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import Koa from 'koa';
import { AppError } from './errors.js';
import { errorMiddleware } from './http.js';
import { createLogger } from './logging.js';

test('a 503 that says when to retry carries Retry-After; other errors do not', async () => {
  const app = new Koa();
  app.use(errorMiddleware(createLogger('test', 'silent')));
  app.use((ctx) => {
    if (ctx.path === '/full') throw new AppError(503, 'recorders_full', 'no room', true, { retryAfterSeconds: 7 });
    throw new AppError(503, 'no_recorder', 'none', true);
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const full = await fetch(`${base}/full`);
    assert.equal(full.status, 503);
    assert.equal(full.headers.get('retry-after'), '7');
    assert.equal(((await full.json()) as { error: { code: string } }).error.code, 'recorders_full');
    const none = await fetch(`${base}/none`);
    assert.equal(none.status, 503);
    assert.equal(none.headers.get('retry-after'), null);
  } finally {
    server.close();
  }
});
