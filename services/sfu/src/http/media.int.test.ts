// GET /internal/v1/media on a real mediasoup worker: what the leak checks (the soak, the
// back-to-baseline test) read. The counts follow sessions as they open and close, from the
// worker's own dumps, and the route answers internal callers only.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CALLER_CREDENTIAL_HEADER, createLogger } from '@live-webrtc/shared';
import { loadSfuConfig } from '../config.js';
import { CHROMIUM_156_PUBLISH, CHROMIUM_156_VIEW } from '../media/sdp/fixtures/chromium.js';
import { startSfu, type RunningSfu } from '../service.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/** tests/support/redis.ts, loaded at run time: the tests/ project is built after this one. */
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../../tests/dist/support/redis.js', import.meta.url).href;
  return ((await import(url)) as { startRedis(): Promise<RedisServer> }).startRedis();
}

const TOKEN = 'media-int-token-0123456789abcdef0123456789';
const INTERNAL = 'media-int-internal-0123456789abcdef012345';

interface Census {
  rooms: number;
  sessions: number;
  workers: { pid: number; routers: number; transports: number; producers: number; consumers: number }[];
}

describe('GET /internal/v1/media', () => {
  let redis: RedisServer;
  let dataDir: string;
  let sfu: RunningSfu;
  let url: string;

  before(async () => {
    redis = await startRedis();
    dataDir = await mkdtemp(join(tmpdir(), 'lw-sfu-media-int-'));
    const base = 30000 + Math.floor(Math.random() * 50) * 200;
    const config = loadSfuConfig({
      REDIS_URL: redis.url,
      REDIS_PREFIX: `mi${process.pid}`,
      RECORD_DIR: join(dataDir, 'records'),
      SFU_HTTP_ADDR: '127.0.0.1:0',
      RTC_LISTEN_IP: '127.0.0.1',
      RTC_MIN_PORT: String(base),
      RTC_MAX_PORT: String(base + 199),
      SFU_WORKERS: '1',
      AUTH_TOKEN: TOKEN,
      INTERNAL_TOKEN: INTERNAL,
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    });
    sfu = await startSfu(config, { logger: createLogger('sfu', config.LOG_LEVEL) });
    url = `http://127.0.0.1:${sfu.port}`;
  });
  after(async () => {
    await sfu?.close();
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const census = async (): Promise<Census> => {
    const r = await fetch(`${url}/internal/v1/media`, { headers: { Authorization: `Bearer ${INTERNAL}` } });
    assert.equal(r.status, 200);
    return (await r.json()) as Census;
  };
  const total = (c: Census, k: 'routers' | 'transports' | 'producers' | 'consumers'): number => c.workers.reduce((n, w) => n + w[k], 0);
  const open = async (path: string, sdp: string): Promise<string> => {
    const r = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/sdp' },
      body: sdp,
    });
    assert.equal(r.status, 201, await r.clone().text());
    return r.headers.get('location') ?? '';
  };

  test('internal callers only: no token 401, a user token 401, a forwarded user 403', async () => {
    assert.equal((await fetch(`${url}/internal/v1/media`)).status, 401);
    assert.equal((await fetch(`${url}/internal/v1/media`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 401);
    const forwarded = await fetch(`${url}/internal/v1/media`, {
      headers: { Authorization: `Bearer ${INTERNAL}`, [CALLER_CREDENTIAL_HEADER]: TOKEN },
    });
    assert.equal(forwarded.status, 403);
    assert.equal(((await forwarded.json()) as { error: { code: string } }).error.code, 'forbidden');
  });

  test('counts follow a publisher and a viewer in and out, back to zero', async () => {
    const idle = await census();
    assert.equal(idle.rooms, 0);
    assert.equal(idle.workers.length, 1);
    assert.ok(idle.workers[0]!.pid > 0);
    assert.deepEqual([total(idle, 'routers'), total(idle, 'transports'), total(idle, 'producers'), total(idle, 'consumers')], [0, 0, 0, 0]);

    const pub = await open('/api/whip/publish/census', CHROMIUM_156_PUBLISH);
    const one = await census();
    assert.equal(one.rooms, 1);
    assert.equal(one.sessions, 1);
    assert.equal(total(one, 'routers'), 1);
    assert.equal(total(one, 'transports'), 1);
    assert.equal(total(one, 'producers'), 2, 'audio + video');
    assert.equal(total(one, 'consumers'), 0);

    const view = await open('/api/whep/play/census', CHROMIUM_156_VIEW);
    const two = await census();
    assert.equal(two.sessions, 2);
    assert.ok(total(two, 'transports') >= 2);
    assert.ok(total(two, 'consumers') >= 2, 'the viewer consumes audio + video');

    for (const loc of [view, pub])
      assert.equal((await fetch(`${url}${loc}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
    const after = await census();
    assert.equal(after.rooms, 0);
    assert.deepEqual(
      [total(after, 'routers'), total(after, 'transports'), total(after, 'producers'), total(after, 'consumers')],
      [0, 0, 0, 0],
    );
  });
});

describe('RTC ports exhausted', () => {
  let redis: RedisServer;
  let dataDir: string;
  let sfu: RunningSfu;
  let url: string;

  before(async () => {
    redis = await startRedis();
    dataDir = await mkdtemp(join(tmpdir(), 'lw-sfu-ports-int-'));
    const base = 30000 + Math.floor(Math.random() * 50) * 200 + 100;
    const config = loadSfuConfig({
      REDIS_URL: redis.url,
      REDIS_PREFIX: `mp${process.pid}`,
      RECORD_DIR: join(dataDir, 'records'),
      SFU_HTTP_ADDR: '127.0.0.1:0',
      RTC_LISTEN_IP: '127.0.0.1',
      // Two ports: two sessions, then none.
      RTC_MIN_PORT: String(base),
      RTC_MAX_PORT: String(base + 1),
      SFU_WORKERS: '1',
      AUTH_TOKEN: TOKEN,
      INTERNAL_TOKEN: INTERNAL,
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'error',
    });
    sfu = await startSfu(config, { logger: createLogger('sfu', config.LOG_LEVEL) });
    url = `http://127.0.0.1:${sfu.port}`;
  });
  after(async () => {
    await sfu?.close();
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('a publish with no free port left is a 503 no_free_ports, not a 500', async () => {
    const statuses: number[] = [];
    let refused: { status: number; body: { error: { code: string } } } | undefined;
    for (let i = 0; i < 5 && !refused; i++) {
      const r = await fetch(`${url}/api/whip/publish/ports-${i}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/sdp' },
        body: CHROMIUM_156_PUBLISH,
      });
      statuses.push(r.status);
      if (r.status !== 201) refused = { status: r.status, body: (await r.json()) as { error: { code: string } } };
    }
    assert.ok(statuses[0] === 201, `the first publish takes a port (${statuses.join(', ')})`);
    assert.ok(refused, 'a publish is refused once the ports are taken');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'no_free_ports');
  });
});
