// The SFU's HTTP surface against a real mediasoup worker and a real Redis: WHIP/WHEP sessions
// from recorded browser offers (no media flows: the browser tests in tests/e2e do that), every
// error a client can provoke, RFC 9725's PATCH/DELETE/OPTIONS, ICE server Link headers, room
// tokens, and two instances sharing one registry (redirect, release on close).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Authenticator, createLogger, createRedis, redisKeys, RoomRegistry } from '@live-webrtc/shared';
import { loadSfuConfig } from '../config.js';
import { CHROMIUM_156_PUBLISH, CHROMIUM_156_VIEW } from '../media/sdp/fixtures/chromium.js';
import { FIREFOX_128_VIEW } from '../media/sdp/fixtures/firefox.js';
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

const TOKEN = 'int-test-token-0123456789abcdef0123456789';
const JWT_SECRET = 'int-test-jwt-secret-0123456789abcdef0123';
const TURN_SECRET = 'turn-shared-secret-0123456789abcdef012345';
let redis: RedisServer;
let dataDir: string;
let n = 0;

async function sfu(env: Record<string, string> = {}): Promise<{ sfu: RunningSfu; url: string; prefix: string }> {
  const id = `sfu-int-${process.pid}-${++n}`;
  const base = 30000 + Math.floor(Math.random() * 50) * 200;
  const config = loadSfuConfig({
    REDIS_URL: redis.url,
    REDIS_PREFIX: env['REDIS_PREFIX'] ?? `si${process.pid}`,
    RECORD_DIR: join(dataDir, id),
    SFU_HTTP_ADDR: '127.0.0.1:0',
    RTC_LISTEN_IP: '127.0.0.1',
    RTC_MIN_PORT: String(base),
    RTC_MAX_PORT: String(base + 199),
    SFU_WORKERS: '1',
    INSTANCE_ID: id,
    AUTH_TOKEN: TOKEN,
    JWT_SECRET,
    CORS_ORIGINS: 'https://app.example',
    MAX_SUBS_PER_ROOM: '1',
    MAX_PUBS_PER_ROOM: '1',
    MAX_SDP_BYTES: '20000',
    TURN_URLS: 'stun:stun.example.net:3478,turn:turn.example.net:3478?transport=udp',
    TURN_SECRET,
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    ...env,
  });
  const running = await startSfu(config, { logger: createLogger('sfu', config.LOG_LEVEL) });
  return { sfu: running, url: `http://127.0.0.1:${running.port}`, prefix: config.REDIS_PREFIX };
}

const auth = { Authorization: `Bearer ${TOKEN}` };
const sdpHeaders = { ...auth, 'Content-Type': 'application/sdp' };

async function post(url: string, body: string, headers: Record<string, string> = sdpHeaders): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body, redirect: 'manual' });
}

async function errorOf(res: Response): Promise<{ status: number; code: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.message, 'string', 'errors carry a human message');
  return { status: res.status, code: body.error.code };
}

before(async () => {
  redis = await startRedis();
  dataDir = await mkdtemp(join(tmpdir(), 'lw-sfu-int-'));
});
after(async () => {
  await redis?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('WHIP and WHEP on a real mediasoup worker', () => {
  let s: Awaited<ReturnType<typeof sfu>>;
  before(async () => {
    s = await sfu();
  });
  after(async () => {
    await s?.sfu.close();
  });

  test('a publish offer is answered 201 with Location, ETag, Link and an ICE-lite DTLS-server answer', async () => {
    const res = await post(`${s.url}/api/whip/publish/answer-room`, CHROMIUM_156_PUBLISH);
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal(res.headers.get('content-type'), 'application/sdp');
    const location = res.headers.get('location') ?? '';
    assert.match(location, /^\/api\/whip\/publish\/answer-room\/[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f]+"$/);
    const answer = await res.text();
    assert.match(answer, /^a=ice-lite\r$/m);
    assert.match(answer, /^a=setup:passive\r$/m);
    assert.match(answer, /^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host\r$/m);
    assert.match(answer, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111\r$/m, 'Opus at the offer payload type');
    assert.match(answer, /^m=video \d+ UDP\/TLS\/RTP\/SAVPF 96 97\r$/m, 'VP8 + its RTX at the offer payload types');
    const del = await fetch(`${s.url}${location}`, { method: 'DELETE', headers: auth });
    assert.equal(del.status, 200);
  });

  test('the Link header carries time-limited TURN credentials (coturn use-auth-secret), never the secret', async () => {
    const res = await post(`${s.url}/api/whip/publish/link-room`, CHROMIUM_156_PUBLISH);
    assert.equal(res.status, 201);
    const link = res.headers.get('link') ?? '';
    assert.match(link, /<stun:stun\.example\.net:3478>; rel="ice-server"/);
    const m =
      /<turn:turn\.example\.net:3478\?transport=udp>; rel="ice-server"; username="(\d+):link-room"; credential="([^"]+)"; credential-type="password"/.exec(
        link,
      );
    assert.ok(m, link);
    const expiry = Number(m[1]);
    assert.ok(expiry > Date.now() / 1000 + 3000 && expiry < Date.now() / 1000 + 3700, 'expires after TURN_TTL (3600 s)');
    const { createHmac } = await import('node:crypto');
    assert.equal(m[2], createHmac('sha1', TURN_SECRET).update(`${m[1]}:link-room`).digest('base64'));
    assert.ok(!link.includes(TURN_SECRET));
    await fetch(`${s.url}${res.headers.get('location')}`, { method: 'DELETE', headers: auth });
  });

  test('one publisher per room (409), one viewer per room here (403), no publisher (404)', async () => {
    const pub = await post(`${s.url}/api/whip/publish/limits`, CHROMIUM_156_PUBLISH);
    assert.equal(pub.status, 201);
    assert.deepEqual(await errorOf(await post(`${s.url}/api/whip/publish/limits`, CHROMIUM_156_PUBLISH)), {
      status: 409,
      code: 'room_has_publisher',
    });
    const view = await post(`${s.url}/api/whep/play/limits`, CHROMIUM_156_VIEW);
    assert.equal(view.status, 201);
    const answer = await view.text();
    assert.match(answer, /^a=sendonly\r$/m);
    assert.match(answer, /^a=rtpmap:96 VP8\/90000\r$/m, 'VP8 at the viewer offer payload type');
    assert.match(answer, /^a=rtpmap:111 opus\/48000\/2\r$/m);
    assert.deepEqual(await errorOf(await post(`${s.url}/api/whep/play/limits`, CHROMIUM_156_VIEW)), { status: 403, code: 'room_full' });
    assert.deepEqual(await errorOf(await post(`${s.url}/api/whep/play/nobody-here`, CHROMIUM_156_VIEW)), {
      status: 404,
      code: 'no_publisher',
    });
    for (const r of [pub, view]) await fetch(`${s.url}${r.headers.get('location')}`, { method: 'DELETE', headers: auth });
  });

  test('a Firefox viewer is answered in its own payload types (a router per numbering)', async () => {
    const pub = await post(`${s.url}/api/whip/publish/ff-room`, CHROMIUM_156_PUBLISH);
    assert.equal(pub.status, 201);
    const view = await post(`${s.url}/api/whep/play/ff-room`, FIREFOX_128_VIEW);
    assert.equal(view.status, 201, await view.clone().text());
    const answer = await view.text();
    assert.match(answer, /^a=rtpmap:120 VP8\/90000\r$/m, 'Firefox numbers VP8 120: the answer must too');
    assert.match(answer, /^a=rtpmap:109 opus\/48000\/2\r$/m);
    for (const r of [pub, view]) await fetch(`${s.url}${r.headers.get('location')}`, { method: 'DELETE', headers: auth });
  });

  test('bad input is a 4xx JSON error, never a crash', async () => {
    const url = `${s.url}/api/whip/publish/bad-input`;
    assert.deepEqual(await errorOf(await post(url, 'v=0\r\nthis is not sdp\r\n')), { status: 400, code: 'bad_sdp' });
    assert.deepEqual(await errorOf(await post(url, CHROMIUM_156_PUBLISH, { ...auth, 'Content-Type': 'text/plain' })), {
      status: 415,
      code: 'unsupported_media_type',
    });
    assert.deepEqual(await errorOf(await post(url, 'x'.repeat(20001))), { status: 413, code: 'payload_too_large' });
    assert.deepEqual(await errorOf(await post(`${s.url}/api/whip/publish/${'r'.repeat(65)}`, CHROMIUM_156_PUBLISH)), {
      status: 400,
      code: 'bad_room_name',
    });
    assert.deepEqual(await errorOf(await post(`${s.url}/api/whip/publish/bad%20room`, CHROMIUM_156_PUBLISH)), {
      status: 400,
      code: 'bad_room_name',
    });
    // Only G.711 offered: nothing the SFU can route.
    const pcmuOnly = CHROMIUM_156_PUBLISH.replace(/^m=audio (\d+) UDP\/TLS\/RTP\/SAVPF .*$/m, 'm=audio $1 UDP/TLS/RTP/SAVPF 0')
      .replace(/^m=video[\s\S]*$/m, '')
      .replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0');
    assert.equal((await errorOf(await post(url, pcmuOnly))).status, 406);
    // The room never came to exist: a well-formed offer still publishes.
    const ok = await post(url, CHROMIUM_156_PUBLISH);
    assert.equal(ok.status, 201);
    await fetch(`${s.url}${ok.headers.get('location')}`, { method: 'DELETE', headers: auth });
  });

  test('AUTH_TOKEN guards WHIP/WHEP; room tokens are limited to their room and grants', async () => {
    assert.deepEqual(
      await errorOf(await post(`${s.url}/api/whip/publish/auth-room`, CHROMIUM_156_PUBLISH, { 'Content-Type': 'application/sdp' })),
      {
        status: 401,
        code: 'unauthorized',
      },
    );
    const wrong = { 'Content-Type': 'application/sdp', 'X-Auth-Token': 'not-the-token' };
    assert.equal((await post(`${s.url}/api/whip/publish/auth-room`, CHROMIUM_156_PUBLISH, wrong)).status, 401);
    const minter = new Authenticator({ authToken: TOKEN, jwtSecret: JWT_SECRET });
    const viewer = (await minter.mintRoomToken('auth-room', ['subscribe'], 60)).token;
    const asViewer = { 'Content-Type': 'application/sdp', Authorization: `Bearer ${viewer}` };
    assert.deepEqual(await errorOf(await post(`${s.url}/api/whip/publish/auth-room`, CHROMIUM_156_PUBLISH, asViewer)), {
      status: 403,
      code: 'forbidden',
    });
    const publisher = (await minter.mintRoomToken('auth-room', ['publish'], 60)).token;
    const asPublisher = { 'Content-Type': 'application/sdp', Authorization: `Bearer ${publisher}` };
    assert.equal((await post(`${s.url}/api/whip/publish/other-room`, CHROMIUM_156_PUBLISH, asPublisher)).status, 403);
    const ok = await post(`${s.url}/api/whip/publish/auth-room`, CHROMIUM_156_PUBLISH, asPublisher);
    assert.equal(ok.status, 201);
    const forged = new Authenticator({ authToken: TOKEN, jwtSecret: 'another-secret-0123456789abcdef0123456789' });
    const bad = (await forged.mintRoomToken('auth-room', ['admin'], 60)).token;
    assert.equal(
      (
        await post(`${s.url}/api/whep/play/auth-room`, CHROMIUM_156_VIEW, {
          'Content-Type': 'application/sdp',
          Authorization: `Bearer ${bad}`,
        })
      ).status,
      401,
    );
    await fetch(`${s.url}${ok.headers.get('location')}`, { method: 'DELETE', headers: { Authorization: `Bearer ${publisher}` } });
  });

  test('RFC 9725 session resource: trickle PATCH, If-Match, ICE restart, DELETE; OPTIONS for CORS', async () => {
    const pub = await post(`${s.url}/api/whip/publish/patch-room`, CHROMIUM_156_PUBLISH, { ...sdpHeaders, Origin: 'https://app.example' });
    assert.equal(pub.status, 201);
    assert.equal(pub.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(pub.headers.get('access-control-expose-headers') ?? '', /Location/);
    const session = `${s.url}${pub.headers.get('location')}`;
    const etag = pub.headers.get('etag') ?? '';
    const frag = (ufrag: string, pwd: string) =>
      `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n` +
      'a=candidate:1 1 udp 2122260223 127.0.0.1 61764 typ host\r\na=end-of-candidates\r\n';
    const patch = (body: string, headers: Record<string, string> = {}) =>
      fetch(session, { method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/trickle-ice-sdpfrag', ...headers }, body });

    // Trickled candidates with the session's own credentials: accepted, nothing to answer.
    const trickle = await patch(frag('LcDP', '27wmDLm01KGEkwwZma/pvz/K'), { 'If-Match': etag });
    assert.equal(trickle.status, 204);
    assert.deepEqual(await errorOf(await patch(frag('LcDP', 'x'), { 'If-Match': '"stale"' })), { status: 412, code: 'etag_mismatch' });
    assert.equal((await patch(frag('LcDP', 'x'), { 'Content-Type': 'application/sdp' })).status, 415);
    assert.equal((await errorOf(await patch('hello'))).code, 'bad_sdp');

    // New remote credentials = ICE restart: new local credentials in an sdpfrag, new ETag.
    const restart = await patch(frag('NeWu', 'aNewPasswordOf22Chars0'), { 'If-Match': etag });
    assert.equal(restart.status, 200);
    assert.equal(restart.headers.get('content-type'), 'application/trickle-ice-sdpfrag');
    const newEtag = restart.headers.get('etag');
    assert.ok(newEtag && newEtag !== etag, 'the ETag changes with the ICE credentials');
    const body = await restart.text();
    assert.match(body, /^a=ice-ufrag:\S+\r$/m);
    assert.match(body, /^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host\r$/m);
    assert.equal((await patch(frag('LcDP', 'x'), { 'If-Match': etag })).status, 412, 'the old ETag is stale now');

    const preflight = await fetch(`${s.url}/api/whip/publish/patch-room`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('accept-post'), 'application/sdp');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    assert.equal(preflight.headers.get('link'), null, 'TURN credentials only in authenticated 201 answers');
    const foreign = await fetch(`${s.url}/api/whip/publish/patch-room`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null, 'origins outside CORS_ORIGINS get no CORS grant');

    assert.equal((await fetch(session, { method: 'DELETE', headers: auth })).status, 200);
    assert.deepEqual(await errorOf(await fetch(session, { method: 'DELETE', headers: auth })), { status: 404, code: 'session_not_found' });
    assert.equal((await patch(frag('LcDP', 'x'))).status, 404);
  });

  test('the registry follows the room: counts while it lives, released when its last session leaves', async () => {
    const conn = createRedis(redis.url, 'test');
    try {
      const registry = new RoomRegistry(conn, redisKeys(s.prefix));
      const pub = await post(`${s.url}/api/whip/publish/registry-room`, CHROMIUM_156_PUBLISH);
      const view = await post(`${s.url}/api/whep/play/registry-room`, CHROMIUM_156_VIEW);
      assert.equal(view.status, 201);
      const deadline = Date.now() + 2000;
      let info = await registry.get('registry-room');
      while ((info?.subscribers ?? 0) < 1 && Date.now() < deadline) info = await registry.get('registry-room');
      assert.equal(info?.instance, s.sfu.instanceId);
      assert.equal(info?.publishers, 1);
      assert.equal(info?.subscribers, 1);
      for (const r of [pub, view]) await fetch(`${s.url}${r.headers.get('location')}`, { method: 'DELETE', headers: auth });
      const gone = Date.now() + 2000;
      while ((await registry.get('registry-room')) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await registry.get('registry-room'), null);
    } finally {
      conn.disconnect();
    }
  });
});

describe('sessions whose client went away', () => {
  test('a session that never connects is removed after SESSION_TIMEOUT_SECONDS and its room released', async () => {
    const s = await sfu({ SESSION_TIMEOUT_SECONDS: '2' });
    const conn = createRedis(redis.url, 'test');
    try {
      const registry = new RoomRegistry(conn, redisKeys(s.prefix));
      const pub = await post(`${s.url}/api/whip/publish/abandoned`, CHROMIUM_156_PUBLISH);
      assert.equal(pub.status, 201);
      assert.equal((await registry.get('abandoned'))?.publishers, 1);
      const t0 = Date.now();
      while ((await registry.get('abandoned')) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 100));
      const goneMs = Date.now() - t0;
      assert.equal(await registry.get('abandoned'), null, 'the room is released');
      assert.ok(goneMs >= 1500, `removed after ${goneMs} ms: not before the timeout`);
      assert.equal((await fetch(`${s.url}${pub.headers.get('location')}`, { method: 'DELETE', headers: auth })).status, 404);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(metrics, /lw_sfu_sessions_reaped_total\{reason="never_connected"[^}]*\} 1/);
    } finally {
      conn.disconnect();
      await s.sfu.close();
    }
  });
});

describe('two SFU instances on one Redis', () => {
  test('a request for a room owned by the other instance is redirected there; a closed instance frees its rooms', async () => {
    const prefix = `two${process.pid}`;
    const a = await sfu({ REDIS_PREFIX: prefix, PUBLIC_URL: 'http://sfu-a.test:8080' });
    const b = await sfu({ REDIS_PREFIX: prefix, PUBLIC_URL: 'http://sfu-b.test:8080' });
    try {
      const pub = await post(`${a.url}/api/whip/publish/shared-room`, CHROMIUM_156_PUBLISH);
      assert.equal(pub.status, 201);
      for (const path of ['/api/whep/play/shared-room', '/api/whip/publish/shared-room']) {
        const res = await post(`${b.url}${path}`, path.includes('whep') ? CHROMIUM_156_VIEW : CHROMIUM_156_PUBLISH);
        assert.equal(res.status, 307, `${path} on B is redirected`);
        assert.equal(res.headers.get('location'), `http://sfu-a.test:8080${path}`);
      }
      await a.sfu.close();
      const again = await post(`${b.url}/api/whip/publish/shared-room`, CHROMIUM_156_PUBLISH);
      assert.equal(again.status, 201, 'B takes the room over once A is gone');
      await fetch(`${b.url}${again.headers.get('location')}`, { method: 'DELETE', headers: auth });
    } finally {
      await a.sfu.close();
      await b.sfu.close();
    }
  });
});
