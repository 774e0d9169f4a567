// The control plane over HTTP against a real Redis and real local storage: the recording
// index, paging and filters, downloads with ranges, stop and delete, auth with AUTH_TOKEN and
// room JWTs, and the errors a client can provoke. Recordings are made with the shared store,
// as the SFU and recorder make them; the media path itself is covered by tests/e2e.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import {
  Authenticator,
  createLogger,
  createRedis,
  LocalStorage,
  publicFailureMessage,
  recordingKeys,
  RecordingStore,
  redisKeys,
  transition,
  type Recording,
  type Redis,
} from '@live-webrtc/shared';
import { loadApiConfig } from './config.js';
import { openApiDocument } from './routes/openapi.js';
import { startApi, type RunningApi } from './service.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/** tests/support/redis.ts, loaded at run time: the tests/ project is built after this one. */
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../tests/dist/support/redis.js', import.meta.url).href;
  return ((await import(url)) as { startRedis(): Promise<RedisServer> }).startRedis();
}

const TOKEN = 'api-int-token-0123456789abcdef0123456789';
const JWT_SECRET = 'api-int-jwt-secret-0123456789abcdef012345';
const admin = { Authorization: `Bearer ${TOKEN}` };
const RAW = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

let redis: RedisServer;
let dir: string;
let api: RunningApi;
let url: string;
let conn: Redis;
let store: RecordingStore;
let storage: LocalStorage;

/** A recording moved through its lifecycle to `status`, with a stored raw output when ready. */
async function recording(room: string, status: 'active' | 'ready' | 'failed'): Promise<Recording> {
  const rec = await store.create(room, 'api');
  await store.transition(rec.id, 'active');
  if (status === 'active') return (await store.get(rec.id))!;
  if (status === 'failed') return store.fail(rec.id, 'no_media', 'nothing arrived');
  await store.transition(rec.id, 'stopping', { stoppedAt: new Date().toISOString() });
  await store.transition(rec.id, 'processing');
  await storage.putBytes(recordingKeys.output(rec.id, 'raw.webm'), RAW, 'video/webm');
  return store.update(rec.id, (r) =>
    transition(
      {
        ...r,
        outputs: [
          { name: 'raw', file: 'raw.webm', contentType: 'video/webm', size: RAW.length, status: 'ready', progress: 1, durationMs: 1000 },
          { name: 'mp4', file: 'out.mp4', contentType: 'video/mp4', size: null, status: 'processing', progress: 0.5, durationMs: null },
        ],
      },
      'ready',
      new Date(),
    ),
  );
}

async function get(path: string, headers: Record<string, string> = admin): Promise<Response> {
  return fetch(`${url}${path}`, { headers });
}

async function errorOf(res: Response): Promise<{ status: number; code: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.message, 'string');
  return { status: res.status, code: body.error.code };
}

/** Every API response these tests receive, checked against the OpenAPI document at the end. */
const seen: { method: string; path: string; status: number; type: string; body: string }[] = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const res = await realFetch(input, init);
  const u = new URL(input instanceof Request ? input.url : String(input));
  if (u.hostname === '127.0.0.1' && !u.pathname.startsWith('/internal/')) {
    const type = res.headers.get('content-type') ?? '';
    const body = type.includes('json') ? await res.clone().text() : '';
    seen.push({ method: (init?.method ?? 'GET').toLowerCase(), path: u.pathname, status: res.status, type, body });
  }
  return res;
};

before(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'lw-api-int-'));
  const prefix = `ai${process.pid}`;
  const config = loadApiConfig({
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    RECORD_DIR: join(dir, 'records'),
    HTTP_ADDR: '127.0.0.1:0',
    AUTH_TOKEN: TOKEN,
    JWT_SECRET,
    // Nothing listens there: WHIP/WHEP relays must fail cleanly.
    SFU_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
  });
  api = await startApi(config, { logger: createLogger('api', config.LOG_LEVEL) });
  url = `http://127.0.0.1:${api.port}`;
  conn = createRedis(redis.url, 'test');
  storage = new LocalStorage(config.RECORD_DIR);
  store = new RecordingStore(conn, redisKeys(prefix), storage);
});

after(async () => {
  await api?.close();
  conn?.disconnect();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the recordings API', () => {
  test('lists newest first, pages with a cursor and filters by room and status', async () => {
    const made: Recording[] = [];
    for (let i = 0; i < 12; i++) made.push(await recording(i % 3 === 0 ? 'list-b' : 'list-a', i % 4 === 0 ? 'failed' : 'ready'));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/api/v1/recordings?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      const page = (await res.json()) as { items: { id: string }[]; nextCursor: string | null };
      assert.ok(page.items.length <= 5);
      seen.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    const ours = seen.filter((id) => made.some((m) => m.id === id));
    assert.deepEqual(ours, made.map((m) => m.id).reverse(), 'every recording once, newest first');
    assert.equal(new Set(seen).size, seen.length, 'no duplicates across pages');

    const roomB = (await (await get('/api/v1/recordings?room=list-b&limit=100')).json()) as { items: { room: string }[] };
    assert.equal(roomB.items.length, 4);
    assert.ok(roomB.items.every((r) => r.room === 'list-b'));
    const failed = (await (await get('/api/v1/recordings?status=failed&limit=100')).json()) as { items: { status: string }[] };
    assert.equal(failed.items.filter((r) => r.status === 'failed').length, failed.items.length);
    assert.ok(failed.items.length >= 3);
  });

  test('the recording object has the fields API.md promises', async () => {
    const rec = await recording('shape', 'ready');
    const body = (await (await get(`/api/v1/recordings/${rec.id}`)).json()) as Record<string, unknown>;
    for (const k of ['id', 'room', 'status', 'error', 'startedAt', 'stoppedAt', 'durationMs', 'tracks', 'outputs']) assert.ok(k in body, k);
    assert.equal(body['status'], 'ready');
    const outputs = body['outputs'] as Record<string, unknown>[];
    assert.deepEqual(Object.keys(outputs[0]!).sort(), [
      'contentType',
      'durationMs',
      'error',
      'etaSeconds',
      'name',
      'progress',
      'size',
      'status',
    ]);
    assert.ok(!('file' in outputs[0]!) && !('segments' in body) && !('version' in body), 'internal bookkeeping stays internal');
  });

  test('a failed recording says why, and its unfinished outputs are failed too', async () => {
    const rec = await store.create('fails', 'api');
    await store.update(rec.id, (r) => ({
      ...r,
      outputs: [
        { name: 'raw', file: 'raw.webm', contentType: 'video/webm', size: null, status: 'processing', progress: 0, durationMs: null },
      ],
    }));
    // The stored detail is the operator's (paths, hosts): the API shows the code's own message.
    await store.fail(rec.id, 'no_media', 'no RTP on 127.0.0.1:50002 within 15000 ms (/var/lib/lw/.work/x)');
    const body = (await (await get(`/api/v1/recordings/${rec.id}`)).json()) as {
      status: string;
      error: { code: string; message: string };
      outputs: { status: string }[];
    };
    assert.equal(body.status, 'failed');
    assert.deepEqual(body.error, { code: 'no_media', message: publicFailureMessage('no_media') });
    assert.deepEqual(
      body.outputs.map((o) => o.status),
      ['failed'],
    );
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/raw`)), { status: 409, code: 'output_not_ready' });
  });

  test('downloads the raw output whole and by range; other outputs answer what they are', async () => {
    const rec = await recording('dl', 'ready');
    const whole = await get(`/api/v1/recordings/${rec.id}/outputs/raw`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'video/webm');
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.match(whole.headers.get('content-disposition') ?? '', /attachment; filename="dl-.*raw\.webm"/);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), RAW);
    const part = await get(`/api/v1/recordings/${rec.id}/outputs/raw`, { ...admin, Range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-19/${RAW.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), RAW.subarray(10, 20));
    const tail = await get(`/api/v1/recordings/${rec.id}/outputs/raw`, { ...admin, Range: 'bytes=-5' });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), RAW.subarray(RAW.length - 5));
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/raw`, { ...admin, Range: 'bytes=5000-' })), {
      status: 416,
      code: 'range_not_satisfiable',
    });
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/mp4`)), { status: 409, code: 'output_not_ready' });
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/hls`)), { status: 404, code: 'output_not_found' });
  });

  test('stop is idempotent; delete refuses a live recording and removes every stored object of a finished one', async () => {
    const live = await recording('stopdel', 'active');
    const stop = await fetch(`${url}/api/v1/recordings/${live.id}/stop`, { method: 'POST', headers: admin });
    assert.equal(stop.status, 202);
    assert.equal(((await stop.json()) as { status: string }).status, 'stopping');
    const again = await fetch(`${url}/api/v1/recordings/${live.id}/stop`, { method: 'POST', headers: admin });
    assert.equal(again.status, 202);
    assert.deepEqual(await errorOf(await fetch(`${url}/api/v1/recordings/${live.id}`, { method: 'DELETE', headers: admin })), {
      status: 409,
      code: 'recording_in_progress',
    });

    const done = await recording('deleted', 'ready');
    assert.ok((await storage.list(recordingKeys.prefix(done.id))).length >= 2, 'manifest and raw output are stored');
    assert.equal((await fetch(`${url}/api/v1/recordings/${done.id}`, { method: 'DELETE', headers: admin })).status, 204);
    assert.deepEqual(await storage.list(recordingKeys.prefix(done.id)), []);
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${done.id}`)), { status: 404, code: 'recording_not_found' });
  });

  test('pause and resume: 409 invalid_state in the wrong state; pauses listed; a paused recording stops straight to processing', async () => {
    const post = (id: string, op: string, headers: Record<string, string> = admin) =>
      fetch(`${url}/api/v1/recordings/${id}/${op}`, { method: 'POST', headers });
    const starting = await store.create('pausing-early', 'api');
    assert.deepEqual(await errorOf(await post(starting.id, 'pause')), { status: 409, code: 'invalid_state' });
    const live = await recording('pausing', 'active');
    assert.deepEqual(await errorOf(await post(live.id, 'resume')), { status: 409, code: 'invalid_state' });
    assert.equal((await post(live.id, 'pause', {})).status, 401, 'credentials like every mutating route');
    const paused = await post(live.id, 'pause');
    assert.equal(paused.status, 200);
    const pv = (await paused.json()) as { status: string; pauses: { at: string; resumedAt: string | null }[] };
    assert.equal(pv.status, 'paused');
    assert.equal(pv.pauses.length, 1);
    assert.equal(pv.pauses[0]!.resumedAt, null);
    assert.deepEqual(await errorOf(await post(live.id, 'pause')), { status: 409, code: 'invalid_state' });
    const resumed = await post(live.id, 'resume');
    assert.equal(resumed.status, 200);
    const rv = (await resumed.json()) as { status: string; pauses: { at: string; resumedAt: string | null }[] };
    assert.equal(rv.status, 'active');
    assert.ok(rv.pauses[0]!.resumedAt);
    assert.equal((await post(live.id, 'pause')).status, 200);
    const stopped = await post(live.id, 'stop');
    assert.equal(stopped.status, 202);
    const sv = (await stopped.json()) as { status: string; pauses: unknown[]; transitions: { status: string }[] };
    assert.equal(sv.status, 'processing', 'nothing is capturing a paused recording: it is finalized at once');
    assert.deepEqual(
      sv.transitions.map((t) => t.status),
      ['starting', 'active', 'paused', 'active', 'paused', 'stopping', 'processing'],
    );
    assert.equal(sv.pauses.length, 2);
  });

  test('bad ids, queries and unknown things are 4xx JSON errors', async () => {
    assert.deepEqual(await errorOf(await get('/api/v1/recordings/not-an-id')), { status: 400, code: 'invalid_id' });
    assert.deepEqual(await errorOf(await get('/api/v1/recordings/01J0000000000000000000000A')), {
      status: 404,
      code: 'recording_not_found',
    });
    assert.equal((await errorOf(await get('/api/v1/recordings?limit=0'))).code, 'invalid_query');
    assert.equal((await errorOf(await get('/api/v1/recordings?limit=abc'))).code, 'invalid_query');
    assert.equal((await errorOf(await get('/api/v1/recordings?status=done'))).code, 'invalid_query');
    assert.equal((await errorOf(await get('/api/v1/recordings?cursor=../../etc'))).code, 'invalid_query');
    assert.deepEqual(await errorOf(await get('/api/v1/rooms/nope')), { status: 404, code: 'room_not_found' });
    assert.deepEqual(await errorOf(await get('/api/v1/rooms/bad%20name')), { status: 400, code: 'bad_room_name' });
    assert.deepEqual(await errorOf(await fetch(`${url}/api/v1/rooms/nope/recordings`, { method: 'POST', headers: admin })), {
      status: 404,
      code: 'room_not_found',
    });
    assert.deepEqual(await errorOf(await get('/api/v1/nothing-here')), { status: 404, code: 'not_found' });
    const badJson = await fetch(`${url}/api/v1/tokens`, {
      method: 'POST',
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: '{"room":',
    });
    assert.deepEqual(await errorOf(badJson), { status: 400, code: 'invalid_json' });
    const huge = await fetch(`${url}/api/v1/tokens`, {
      method: 'POST',
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ room: 'x', pad: 'x'.repeat(100_000) }),
    });
    assert.equal(huge.status, 413);
    const whip = await fetch(`${url}/api/whip/publish/demo`, {
      method: 'POST',
      headers: { ...admin, 'Content-Type': 'application/sdp' },
      body: 'v=0\r\n',
    });
    assert.deepEqual(await errorOf(whip), { status: 503, code: 'sfu_unavailable' });
  });
});

describe('auth', () => {
  test('AUTH_TOKEN is required (Bearer or X-Auth-Token); health, readiness, metrics and the page stay open', async () => {
    const none = await get('/api/v1/recordings', {});
    assert.deepEqual(await errorOf(none), { status: 401, code: 'unauthorized' });
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await get('/api/v1/recordings', { Authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await get('/api/v1/recordings', { 'X-Auth-Token': TOKEN })).status, 200);
    assert.equal((await fetch(`${url}/api/v1/recordings/01J0000000000000000000000A/stop`, { method: 'POST' })).status, 401);
    for (const path of ['/healthz', '/readyz', '/metrics', '/', '/api/v1/openapi.json'])
      assert.equal((await get(path, {})).status, 200, path);
    const metrics = await (await get('/metrics', {})).text();
    assert.match(metrics, /lw_http_request_duration_seconds_bucket/);
  });

  test('room tokens minted by the API reach their own room only, with their grants only', async () => {
    const mine = await recording('token-room', 'ready');
    const theirs = await recording('other-room', 'ready');
    const mint = async (body: unknown, headers: Record<string, string> = admin) =>
      fetch(`${url}/api/v1/tokens`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const minted = await mint({ room: 'token-room', grants: ['record'], ttlSeconds: 60 });
    assert.equal(minted.status, 201);
    const { token, expiresAt } = (await minted.json()) as { token: string; expiresAt: string };
    assert.ok(Date.parse(expiresAt) > Date.now() + 50_000 && Date.parse(expiresAt) < Date.now() + 70_000);
    const asRoom = { Authorization: `Bearer ${token}` };

    assert.equal((await get(`/api/v1/recordings/${mine.id}`, asRoom)).status, 200);
    assert.equal((await get(`/api/v1/recordings/${mine.id}/outputs/raw`, asRoom)).status, 200);
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${theirs.id}`, asRoom)), { status: 404, code: 'recording_not_found' });
    const listed = (await (await get('/api/v1/recordings?limit=100', asRoom)).json()) as { items: { room: string }[] };
    assert.ok(listed.items.length >= 1 && listed.items.every((r) => r.room === 'token-room'), 'a room token lists its room only');
    assert.equal((await get('/api/v1/recordings?room=other-room', asRoom)).status, 403);
    assert.equal((await fetch(`${url}/api/v1/recordings/${mine.id}`, { method: 'DELETE', headers: asRoom })).status, 403, 'no admin grant');
    assert.equal((await mint({ room: 'token-room', grants: ['admin'] }, asRoom)).status, 403, 'a record token mints nothing');
    // A room admin token mints for its room, never beyond its own expiry.
    const roomAdmin = (await (await mint({ room: 'token-room', grants: ['admin'], ttlSeconds: 30 })).json()) as {
      token: string;
      expiresAt: string;
    };
    const renewed = await mint(
      { room: 'token-room', grants: ['admin'], ttlSeconds: 86400 },
      { Authorization: `Bearer ${roomAdmin.token}` },
    );
    assert.equal(renewed.status, 201);
    assert.ok(Date.parse(((await renewed.json()) as { expiresAt: string }).expiresAt) <= Date.parse(roomAdmin.expiresAt));
    assert.equal((await mint({ room: 'other-room', grants: ['record'] }, { Authorization: `Bearer ${roomAdmin.token}` })).status, 403);

    assert.equal((await mint({ room: 'bad room', grants: ['record'] })).status, 400);
    assert.equal((await mint({ room: 'r', grants: ['fly'] })).status, 400);
    assert.equal((await mint({ room: 'r', grants: ['record'], ttlSeconds: 10 ** 9 })).status, 400);
    const expired = await new Authenticator({ authToken: TOKEN, jwtSecret: JWT_SECRET }).mintRoomToken('token-room', ['record'], -10);
    assert.equal((await get(`/api/v1/recordings/${mine.id}`, { Authorization: `Bearer ${expired.token}` })).status, 401);
  });
});

describe('limits', () => {
  test('rate limits per client IP and per token, counted in Redis; X-Forwarded-For only from TRUSTED_PROXIES', async () => {
    const start = async (env: Record<string, string>) => {
      const config = loadApiConfig({
        REDIS_URL: redis.url,
        REDIS_PREFIX: `rl${process.pid}${Math.random().toString(36).slice(2, 8)}`,
        RECORD_DIR: join(dir, 'records-rl'),
        HTTP_ADDR: '127.0.0.1:0',
        AUTH_TOKEN: TOKEN,
        LOG_LEVEL: 'silent',
        ...env,
      });
      const running = await startApi(config, { logger: createLogger('api', 'silent') });
      return { running, base: `http://127.0.0.1:${running.port}` };
    };
    const a = await start({ RATE_LIMIT_IP_PER_MINUTE: '5', RATE_LIMIT_TOKEN_PER_MINUTE: '0' });
    try {
      const from = (ip: string) => ({ ...admin, 'X-Forwarded-For': ip });
      for (let i = 0; i < 5; i++) assert.equal((await fetch(`${a.base}/api/v1/rooms`, { headers: from('198.51.100.1') })).status, 200);
      const limited = await fetch(`${a.base}/api/v1/rooms`, { headers: from('198.51.100.1') });
      assert.deepEqual(await errorOf(limited), { status: 429, code: 'rate_limited' });
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      // Another client behind the same (trusted, loopback) proxy has its own budget.
      assert.equal((await fetch(`${a.base}/api/v1/rooms`, { headers: from('198.51.100.2') })).status, 200);
      // Health and the page are not limited.
      assert.equal((await fetch(`${a.base}/healthz`, { headers: from('198.51.100.1') })).status, 200);
    } finally {
      await a.running.close();
    }
    // With no trusted proxy the header is ignored: every request counts against 127.0.0.1.
    const b = await start({ RATE_LIMIT_IP_PER_MINUTE: '3', RATE_LIMIT_TOKEN_PER_MINUTE: '0', TRUSTED_PROXIES: 'none' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await fetch(`${b.base}/api/v1/rooms`, { headers: { ...admin, 'X-Forwarded-For': `203.0.113.${i}` } })).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    } finally {
      await b.running.close();
    }
    const c = await start({ RATE_LIMIT_IP_PER_MINUTE: '0', RATE_LIMIT_TOKEN_PER_MINUTE: '2' });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await fetch(`${c.base}/api/v1/rooms`, { headers: { ...admin, 'X-Forwarded-For': `203.0.113.${i}` } })).status);
      assert.deepEqual(statuses, [200, 200, 429], 'per token, whatever the address');
    } finally {
      await c.running.close();
    }
  });
});

describe('when Redis goes away', () => {
  test('requests get a 503 JSON error instead of hanging, and readiness says why', { timeout: 30_000 }, async () => {
    const own = await startRedis();
    const config = loadApiConfig({
      REDIS_URL: own.url,
      RECORD_DIR: join(dir, 'records-down'),
      HTTP_ADDR: '127.0.0.1:0',
      LOG_LEVEL: 'silent',
    });
    const running = await startApi(config, { logger: createLogger('api', 'silent') });
    try {
      const base = `http://127.0.0.1:${running.port}`;
      assert.equal((await fetch(`${base}/api/v1/rooms`)).status, 200);
      await own.stop();
      assert.deepEqual(await errorOf(await fetch(`${base}/api/v1/rooms`)), { status: 503, code: 'redis_unavailable' });
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 503);
      assert.notEqual(((await ready.json()) as { checks: Record<string, string> }).checks['redis'], 'ok');
      assert.equal((await fetch(`${base}/healthz`)).status, 200, 'the process itself is up');
    } finally {
      await running.close();
      await own.stop();
    }
  });
});

describe('the OpenAPI document', () => {
  test('every response of these tests is documented, and its JSON body matches the schema', async () => {
    const doc = (await (await fetch(`${url}/api/v1/openapi.json`)).json()) as typeof openApiDocument;
    assert.deepEqual(doc, JSON.parse(JSON.stringify(openApiDocument)), 'served as generated');
    const ajv = new Ajv2020.default({ strict: false, allErrors: true });
    const ops = Object.entries(doc.paths).flatMap(([template, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method,
        re: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
        responses: (op as { responses: Record<string, { content?: Record<string, { schema?: object }> }> }).responses,
      })),
    );
    let checked = 0;
    const problems: string[] = [];
    for (const r of seen) {
      const op = ops.find((o) => o.method === r.method && o.re.test(r.path));
      if (!op) {
        // Unknown paths answer the generic 404/405 JSON error.
        if (r.status !== 404 && r.status !== 405) problems.push(`${r.method} ${r.path}: no such operation`);
        continue;
      }
      const resp = op.responses[String(r.status)];
      if (!resp) {
        problems.push(`${r.method} ${r.path}: status ${r.status} is not documented`);
        continue;
      }
      const schema = resp.content?.['application/json']?.schema;
      if (schema && r.type.includes('json')) {
        if (!ajv.validate(schema, JSON.parse(r.body))) problems.push(`${r.method} ${r.path} ${r.status}: ${ajv.errorsText()}`);
        checked++;
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked > 50, `only ${checked} JSON bodies checked`);
    console.log(`# OpenAPI: ${seen.length} responses seen, ${checked} JSON bodies validated against their schema`);
  });
});
