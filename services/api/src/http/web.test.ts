// How the API serves the built web app: HTML no-cache, hashed assets immutable, the embed
// player loadable cross-origin, nothing outside the build directory, and a typed error when the
// app was never built.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Koa from 'koa';
import { webPage } from './web.js';

describe('webPage', () => {
  let dir: string;
  let base: string;
  let server: ReturnType<Koa['listen']>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lw-web-'));
    await mkdir(join(dir, 'public/assets'), { recursive: true });
    await mkdir(join(dir, 'public/embed'), { recursive: true });
    await writeFile(join(dir, 'public/index.html'), '<!doctype html><title>x</title>');
    await writeFile(join(dir, 'public/assets/app-ABCDEFGH.js'), 'export {};');
    await writeFile(join(dir, 'public/embed/player.js'), 'export {};');
    await writeFile(join(dir, 'secret.txt'), 'outside');
    const app = new Koa();
    app.use(webPage(join(dir, 'public') + '/'));
    app.use((ctx) => {
      ctx.status = 404;
      ctx.body = 'next';
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('index.html is no-cache, hashed assets are immutable, the embed is cross-origin', async () => {
    const html = await fetch(`${base}/`);
    assert.equal(html.headers.get('cache-control'), 'no-cache');
    assert.match(html.headers.get('content-type') ?? '', /text\/html/);
    const js = await fetch(`${base}/assets/app-ABCDEFGH.js`);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const embed = await fetch(`${base}/embed/player.js`);
    assert.equal(embed.headers.get('access-control-allow-origin'), '*');
    assert.equal(embed.headers.get('cache-control'), 'public, max-age=300');
  });

  test('unknown files and paths outside the build fall through; POST is not served', async () => {
    assert.equal(await (await fetch(`${base}/assets/nope.js`)).text(), 'next');
    assert.equal(await (await fetch(`${base}/assets/..%2F..%2Fsecret.txt`)).text(), 'next');
    assert.equal(await (await fetch(`${base}/secret.txt`)).text(), 'next');
    assert.equal(await (await fetch(`${base}/`, { method: 'POST' })).text(), 'next');
  });

  test('a missing build answers 503 web_not_built', async () => {
    const app = new Koa();
    app.use(webPage(join(dir, 'none') + '/'));
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/`);
      assert.equal(res.status, 503);
      assert.deepEqual(((await res.json()) as { error: { code: string } }).error.code, 'web_not_built');
    } finally {
      s.close();
    }
  });
});
