// The security suite, against the whole product as `npm start` runs it (API → relay → SFU with
// real mediasoup, recorder, Redis): every route with no token, a wrong, an expired, a revoked
// and another room's token; path traversal (plain and encoded) on the relay, ids and output
// names; the SFU's internal routes refusing user credentials; 10,000 fuzzed SDP offers (real
// browser/OBS offers mutated, plus fast-check's own strings) and JSON bodies through the real
// HTTP stack → only 4xx, never a 5xx, a crash or a stack trace, and the product still serving;
// 50 concurrent publishes at a one-publisher room → exactly one 201; closed by default.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Authenticator } from '@live-webrtc/shared';
import { startStack, type Stack } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AUTH_TOKEN = 'security-suite-auth-token-0123456789abcdef';
const JWT_SECRET = 'security-suite-jwt-secret-0123456789abcdef';
const METRICS_TOKEN = 'security-suite-metrics-token-0123456789abc';

interface Fixtures {
  publish: string[];
  view: string[];
}

/** The recorded real offers of services/sfu (compiled), loaded at run time. */
async function fixtures(): Promise<Fixtures> {
  const dir = new URL('../../../services/sfu/dist/media/sdp/fixtures/', import.meta.url).href;
  const load = async (f: string) => (await import(`${dir}${f}.js`)) as Record<string, unknown>;
  const [chromium, firefox, obs, libwebrtc, chrome, safari, wrtc] = await Promise.all(
    ['chromium', 'firefox', 'obs', 'libwebrtc', 'chrome', 'safari', 'wrtc'].map(load),
  );
  const s = (m: Record<string, unknown> | undefined, k: string) => m?.[k] as string;
  return {
    publish: [
      s(chromium, 'CHROMIUM_156_PUBLISH'),
      s(chromium, 'CHROMIUM_156_SIMULCAST'),
      s(firefox, 'FIREFOX_128_PUBLISH'),
      s(obs, 'OBS_30_PUBLISH'),
      s(libwebrtc, 'LIBWEBRTC_NATIVE_PUBLISH'),
      s(safari, 'SAFARI_17_PUBLISH'),
    ],
    view: [
      s(chromium, 'CHROMIUM_156_VIEW'),
      s(firefox, 'FIREFOX_128_VIEW'),
      s(chrome, 'CHROME_120_VIEW'),
      s(safari, 'SAFARI_17_VIEW'),
      s(wrtc, 'WRTC_010_VIEW'),
    ],
  };
}

interface SdpModule {
  parseOffer(sdp: string): { media: { port: number }[] };
  publishRtpParameters(media: unknown, caps: unknown): unknown;
  viewerProfile(offer: unknown, codecs: unknown): unknown;
  SdpError: new (...args: never[]) => Error;
}

/** The SFU's own offer parser (compiled), with a router's capabilities to map offers onto. */
async function sdpParser(): Promise<{ sdp: SdpModule; caps: unknown; codecs: unknown }> {
  const dir = new URL('../../../services/sfu/dist/media/', import.meta.url).href;
  const sdp = (await import(`${dir}sdp/index.js`)) as SdpModule;
  const { SUPPORTED_CODECS } = (await import(`${dir}codecs.js`)) as { SUPPORTED_CODECS: unknown };
  const { routerCapabilities } = (await import(`${dir}sdp/fixtures/mediasoup.js`)) as { routerCapabilities(c: unknown): unknown };
  return { sdp, caps: routerCapabilities(SUPPORTED_CODECS), codecs: SUPPORTED_CODECS };
}

let stack: Stack;
let fx: Fixtures;
const admin = { Authorization: `Bearer ${AUTH_TOKEN}` };
const sdpType = { 'Content-Type': 'application/sdp' };

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP request with the path sent exactly as given (fetch would normalise "..", "%2e"). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        // A connection per request: a reused keep-alive socket the server is just closing
        // would fail as "socket hang up", a client-side race that says nothing about the server.
        agent: false,
        port: Number(u.port),
        method,
        path,
        headers: { ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The answer is a 4xx JSON error without internals (no stack trace, no file path). */
function assertCleanError(r: Raw, what: string): string {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: expected a 4xx, got ${r.status} ${r.text.slice(0, 200)}`);
  assert.doesNotMatch(r.text, /\n\s+at |node_modules|\/work\/|\.ts:\d|\.js:\d/, `${what}: internals in the answer`);
  const body = JSON.parse(r.text) as { error?: { code?: unknown; message?: unknown } };
  assert.equal(typeof body.error?.code, 'string', `${what}: JSON error code`);
  assert.equal(typeof body.error?.message, 'string', `${what}: JSON error message`);
  return body.error!.code as string;
}

/** The SFU's routes a recorder drives a capture run through (internal, INTERNAL_TOKEN only). */
const tapRoutes = (rec: string): { method: string; path: string }[] => [
  { method: 'POST', path: `/internal/v1/recordings/${rec}/runs/0` },
  { method: 'POST', path: `/internal/v1/recordings/${rec}/runs/0/connect` },
  { method: 'POST', path: `/internal/v1/recordings/${rec}/runs/0/keyframe` },
  { method: 'GET', path: `/internal/v1/recordings/${rec}/runs/0` },
  { method: 'DELETE', path: `/internal/v1/recordings/${rec}/runs/0` },
];

async function publish(room: string, offer = fx.publish[0]!, headers: Record<string, string> = admin): Promise<Raw> {
  return raw(stack.url, 'POST', `/api/whip/publish/${room}`, { ...headers, ...sdpType }, offer);
}

before(async () => {
  fx = await fixtures();
  stack = await startStack({
    AUTH_TOKEN,
    JWT_SECRET,
    // /metrics of all three services behind their own token: in the matrix below.
    METRICS_TOKEN,
    // The publish race below is about a one-publisher room.
    MAX_PUBS_PER_ROOM: '1',
    // The fuzz below sends thousands of requests from 127.0.0.1: limits are tested apart.
    RATE_LIMIT_IP_PER_MINUTE: '0',
    RATE_LIMIT_TOKEN_PER_MINUTE: '0',
    // The fuzz's host publisher sends no media: it must outlive the run.
    SESSION_TIMEOUT_SECONDS: '3600',
  });
});

after(async () => {
  await stack?.stop();
});

describe('security', () => {
  test('every route × {no token, wrong, expired, revoked, other room}: 401/403/404, never data', { timeout: 60_000 }, async () => {
    // Room A with a publisher and a recording (real ids), room B for the "other room" token.
    const pub = await publish('sec-a');
    assert.equal(pub.status, 201, pub.text);
    const session = String(pub.headers['location']);
    const recRes = await raw(stack.url, 'POST', '/api/v1/rooms/sec-a/recordings', admin);
    assert.equal(recRes.status, 201, recRes.text);
    const rec = (JSON.parse(recRes.text) as { id: string }).id;

    const mint = async (room: string, grants: string[]) => {
      const r = await raw(
        stack.url,
        'POST',
        '/api/v1/tokens',
        { ...admin, 'Content-Type': 'application/json' },
        JSON.stringify({ room, grants, ttlSeconds: 600 }),
      );
      assert.equal(r.status, 201, r.text);
      return JSON.parse(r.text) as { token: string; jti: string };
    };
    const revoked = await mint('sec-a', ['admin']);
    assert.equal((await raw(stack.url, 'DELETE', `/api/v1/tokens/${revoked.jti}`, admin)).status, 204);
    const other = await mint('sec-b', ['admin']);
    const expired = await new Authenticator({ authToken: AUTH_TOKEN, jwtSecret: JWT_SECRET }).mintRoomToken('sec-a', ['admin'], -30);
    const forged = await new Authenticator({ authToken: AUTH_TOKEN, jwtSecret: `${JWT_SECRET}-guess` }).mintRoomToken(
      'sec-a',
      ['admin'],
      600,
    );
    const tokens: Record<string, Record<string, string>> = {
      'no token': {},
      wrong: { Authorization: 'Bearer wrong-token-0123456789abcdef0123456789' },
      'wrong (X-Auth-Token)': { 'X-Auth-Token': 'wrong' },
      'forged JWT': { Authorization: `Bearer ${forged.token}` },
      expired: { Authorization: `Bearer ${expired.token}` },
      revoked: { Authorization: `Bearer ${revoked.token}` },
      'other room': { Authorization: `Bearer ${other.token}` },
    };
    const json = { 'Content-Type': 'application/json' };
    const trickle = { 'Content-Type': 'application/trickle-ice-sdpfrag' };
    const frag = 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n';
    const routes: { method: string; path: string; headers?: Record<string, string>; body?: string; base?: string; listing?: boolean }[] = [
      { method: 'GET', path: '/api/v1/rooms', listing: true },
      { method: 'GET', path: '/api/v1/rooms/sec-a' },
      { method: 'POST', path: '/api/v1/rooms/sec-a/recordings' },
      { method: 'GET', path: '/api/v1/recordings', listing: true },
      { method: 'GET', path: '/api/v1/recordings?room=sec-a' },
      { method: 'GET', path: `/api/v1/recordings/${rec}` },
      { method: 'POST', path: `/api/v1/recordings/${rec}/stop` },
      { method: 'POST', path: `/api/v1/recordings/${rec}/pause` },
      { method: 'POST', path: `/api/v1/recordings/${rec}/resume` },
      { method: 'GET', path: `/api/v1/recordings/${rec}/outputs` },
      { method: 'GET', path: `/api/v1/recordings/${rec}/outputs/raw` },
      { method: 'GET', path: `/api/v1/recordings/${rec}/outputs/hls/index.m3u8` },
      { method: 'DELETE', path: `/api/v1/recordings/${rec}` },
      { method: 'POST', path: '/api/v1/tokens', headers: json, body: JSON.stringify({ room: 'sec-a', grants: ['admin'] }) },
      { method: 'DELETE', path: `/api/v1/tokens/${other.jti}` },
      { method: 'POST', path: '/api/whip/publish/sec-a', headers: sdpType, body: fx.publish[0] },
      { method: 'POST', path: '/api/whep/play/sec-a', headers: sdpType, body: fx.view[0] },
      { method: 'PATCH', path: session, headers: trickle, body: frag },
      { method: 'DELETE', path: session },
      // The SFU's own server, reached directly: its internal routes take INTERNAL_TOKEN only.
      { method: 'GET', path: '/internal/v1/rooms/sec-a', base: stack.sfuUrl },
      { method: 'POST', path: '/internal/v1/rooms/sec-a/recordings', base: stack.sfuUrl },
      // The recorder's tap routes on the SFU (a capture run of the recording above).
      ...tapRoutes(rec).map((r) => ({ ...r, base: stack.sfuUrl })),
      // Metrics of the three services: METRICS_TOKEN only, never a user credential.
      { method: 'GET', path: '/metrics' },
      { method: 'GET', path: '/metrics', base: stack.sfuUrl },
      { method: 'GET', path: '/metrics', base: stack.recorderUrl },
    ];
    let cases = 0;
    for (const route of routes) {
      for (const [name, cred] of Object.entries(tokens)) {
        if (route.method === 'DELETE' && route.path.startsWith('/api/v1/tokens/') && name === 'other room') continue; // own jti: see below
        const r = await raw(route.base ?? stack.url, route.method, route.path, { ...cred, ...route.headers }, route.body);
        const what = `${route.method} ${route.path} with ${name}`;
        cases++;
        if (route.listing && name === 'other room') {
          // A room token lists its own room only: never room A's name or recording.
          assert.equal(r.status, 200, what);
          assert.ok(!r.text.includes('sec-a') && !r.text.includes(rec), `${what}: room A's data leaked`);
          continue;
        }
        const code = assertCleanError(r, what);
        assert.ok([401, 403, 404].includes(r.status), `${what}: ${r.status} ${code}`);
        assert.ok(!r.text.includes(rec) || r.text.includes(`no recording with id ${rec}`), `${what}: data in the answer`);
      }
    }
    // The server token still opens the internal routes? No: user credentials never do.
    const internal = [
      { method: 'GET', path: '/internal/v1/rooms/sec-a' },
      { method: 'POST', path: '/internal/v1/rooms/sec-a/recordings' },
      ...tapRoutes(rec),
    ];
    for (const { method, path } of internal) {
      const r = await raw(stack.sfuUrl, method, path, admin);
      assert.equal(r.status, 401, `${method} ${path} with AUTH_TOKEN`);
      cases++;
    }
    for (const base of [stack.url, stack.sfuUrl, stack.recorderUrl]) {
      assert.equal((await raw(base, 'GET', '/metrics', admin)).status, 401, `${base}/metrics with AUTH_TOKEN`);
      const ok = await raw(base, 'GET', '/metrics', { Authorization: `Bearer ${METRICS_TOKEN}` });
      assert.equal(ok.status, 200, `${base}/metrics with METRICS_TOKEN`);
      assert.match(ok.text, /^# HELP /m);
      cases++;
    }
    // Control: the same routes answer the server token (the matrix above is not a 404 by typo).
    for (const path of ['/api/v1/rooms/sec-a', `/api/v1/recordings/${rec}`, '/api/v1/recordings?room=sec-a']) {
      assert.equal((await raw(stack.url, 'GET', path, admin)).status, 200, path);
    }
    assert.equal((await raw(stack.url, 'DELETE', session, admin)).status, 200);
    console.log(`# token matrix: ${routes.length} routes, ${Object.keys(tokens).length} credential cases, ${cases} requests`);
  });

  test('path traversal on the relay, ids and output names: refused, never internal data', { timeout: 30_000 }, async () => {
    const pub = await publish('trav-a');
    assert.equal(pub.status, 201, pub.text);
    const viewer = (await new Authenticator({ authToken: AUTH_TOKEN, jwtSecret: JWT_SECRET }).mintRoomToken('trav-b', ['subscribe'], 60))
      .token;
    const asB = { Authorization: `Bearer ${viewer}` };
    const relay = [
      '/api/whep/../../internal/v1/rooms/trav-a',
      '/api/whep/play/../../../internal/v1/rooms/trav-a',
      '/api/whep/play/trav-b/../../../internal/v1/rooms/trav-a',
      '/api/whep/play/%2e%2e/%2e%2e/internal/v1/rooms/trav-a',
      '/api/whep/play/%2E%2E%2F%2E%2E%2Finternal%2Fv1%2Frooms%2Ftrav-a',
      '/api/whep/play/..%2f..%2finternal/v1/rooms/trav-a',
      '/api/whep/play/%252e%252e/%252e%252e/internal/v1/rooms/trav-a',
      '/api/whep/play/trav-b/..\\..\\internal',
      '/api/whep/play/.%2e/.%2e/internal/v1/rooms/trav-a',
      '/api/whep/play//internal/v1/rooms/trav-a',
      '/api/whep/play/./trav-a',
      '/api/whip/publish/trav-a/./x',
      '/api/whip/publish/trav-a?x=/../../internal',
      '/api/whep/play/trav-b%00/../../internal/v1/rooms/trav-a',
      '/api/whep/play/trav-b/x/y',
      '/api/whep/internal/v1/rooms/trav-a',
    ];
    const ids = [
      '/api/v1/recordings/..%2F..%2F..%2Fetc%2Fpasswd',
      '/api/v1/recordings/../../etc/passwd',
      '/api/v1/recordings/%2e%2e',
      '/api/v1/recordings/01ARZ3NDEKTSV4RRFFQ69G5FAV/outputs/..%2F..%2Fraw',
      '/api/v1/recordings/01ARZ3NDEKTSV4RRFFQ69G5FAV/outputs/%2e%2e%2fraw.webm',
      '/api/v1/recordings/01ARZ3NDEKTSV4RRFFQ69G5FAV/outputs/../../../../etc/passwd',
      '/api/v1/rooms/..%2F..%2Finternal',
      '/api/v1/rooms/%2e%2e/recordings',
      '/api/v1/rooms/trav-a%2F..%2Ftrav-b',
    ];
    let n = 0;
    for (const path of relay) {
      for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
        const r = await raw(
          stack.url,
          method,
          path,
          { ...asB, ...sdpType },
          method === 'POST' || method === 'PATCH' ? fx.view[0] : undefined,
        );
        assertCleanError(r, `${method} ${path}`);
        assert.doesNotMatch(r.text, /"tracks"|recordingId/, `${method} ${path}: internal data`);
        n++;
      }
    }
    for (const path of ids) {
      for (const method of ['GET', 'DELETE', 'POST']) {
        const r = await raw(stack.url, method, path, admin);
        assertCleanError(r, `${method} ${path}`);
        assert.doesNotMatch(r.text, /root:|"tracks"/, `${method} ${path}`);
        n++;
      }
    }
    // The publisher is still there and untouched.
    assert.equal((await raw(stack.url, 'DELETE', String(pub.headers['location']), admin)).status, 200);
    console.log(`# traversal: ${n} requests (${relay.length} relay paths, ${ids.length} id/output paths)`);
  });

  test(
    '10,000 fuzzed SDP offers and JSON bodies through the real stack: only 4xx, no 5xx, still serving',
    { timeout: 240_000 },
    async () => {
      // A real publisher, so viewer offers reach viewer routers and payload-type profiles.
      const host = await publish('fuzz-view', fx.publish[0]);
      assert.equal(host.status, 201, host.text);
      const parser = await sdpParser();
      const SDP_CASES = 6000;
      const JSON_CASES = 4000;
      const lines = [...fx.publish, ...fx.view].flatMap((o) => o.split('\r\n')).filter(Boolean);
      const mutate = (offer: string, ops: [number, number, number, string][]): string => {
        let ls = offer.split('\r\n');
        for (const [op, a, b, text] of ops) {
          const i = a % Math.max(1, ls.length);
          const j = b % Math.max(1, ls.length);
          switch (op % 12) {
            case 0:
              ls.splice(i, 1);
              break; // drop a line
            case 1:
              ls.splice(i, 0, ls[j] ?? '');
              break; // duplicate one
            case 2:
              [ls[i], ls[j]] = [ls[j] ?? '', ls[i] ?? ''];
              break; // swap two
            case 3:
              ls[i] = (ls[i] ?? '').replace(/\d+/, ['-1', '0', '4294967296', '99999999999999999999', 'NaN', '1e308'][b % 6]!);
              break;
            case 4:
              ls[i] = (ls[i] ?? '').slice(0, b % 40);
              break; // truncate a line
            case 5:
              ls.splice(i, 0, text);
              break; // insert garbage
            case 6:
              ls[i] = (ls[i] ?? '') + text;
              break;
            case 7:
              ls.splice(i, 0, lines[b % lines.length]!);
              break; // a line from another offer
            case 8: {
              // Repeat the m-sections (more than MAX_MEDIA_SECTIONS some of the time).
              const first = ls.findIndex((l) => l.startsWith('m='));
              if (first > 0) ls = [...ls, ...Array.from({ length: 1 + (b % 12) }, () => ls.slice(first)).flat()];
              break;
            }
            case 9:
              ls = ls.map((l) => l.replace(/^a=rtpmap:(\d+)/, (_m, pt: string) => `a=rtpmap:${(Number(pt) + a) % 128}`));
              break; // renumber
            case 10:
              ls = ls.map((l) => (l.startsWith('a=mid:') ? `a=mid:${text}` : l));
              break;
            default:
              ls = [ls.join('\n')]; // LF only
          }
        }
        return ls.join('\r\n');
      };
      const op = fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.string({ maxLength: 40, unit: 'binary' }));
      const sdpArb = fc.oneof(
        { weight: 8, arbitrary: fc.tuple(fc.boolean(), fc.nat(), fc.array(op, { minLength: 1, maxLength: 4 })) },
        {
          weight: 1,
          arbitrary: fc.tuple(
            fc.boolean(),
            fc.string({ maxLength: 2000, unit: 'binary' }),
            fc.constant([] as [number, number, number, string][]),
          ),
        },
        {
          weight: 1,
          arbitrary: fc.tuple(
            fc.boolean(),
            fc.array(fc.oneof(fc.constantFrom(...lines), fc.string({ maxLength: 60 })), { maxLength: 60 }).map((l) => l.join('\r\n')),
            fc.constant([] as [number, number, number, string][]),
          ),
        },
      );
      const sdpCases = fc.sample(sdpArb, { numRuns: SDP_CASES, seed: 9 }).map(([isPublish, base, ops]) => {
        const pool = isPublish ? fx.publish : fx.view;
        // Up to 3× MAX_SDP_BYTES: oversized offers get their 413 (from the SFU or the relay).
        const body = (typeof base === 'number' ? mutate(pool[base % pool.length]!, ops) : base).slice(0, 200_000);
        return { isPublish, body };
      });
      const jsonArb = fc.tuple(fc.nat(5), fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 80 }), fc.string({ maxLength: 30 }));
      const jsonCases = fc.sample(jsonArb, { numRuns: JSON_CASES, seed: 9 });

      const statuses = new Map<string, number>();
      const tally = (layer: string, r: Raw, code: string) =>
        statuses.set(`${layer} ${r.status} ${code}`, (statuses.get(`${layer} ${r.status} ${code}`) ?? 0) + 1);
      let created = 0;
      const runOne = async (i: number): Promise<void> => {
        if (i < SDP_CASES && i % 2 === 1) {
          // Every other SDP case goes through the SFU's offer parser in-process (fast), the
          // rest through the whole HTTP stack: both must refuse with typed SDP errors only.
          const c = sdpCases[i]!;
          try {
            const offer = parser.sdp.parseOffer(c.body);
            if (c.isPublish) for (const m of offer.media) if (m.port !== 0) parser.sdp.publishRtpParameters(m, parser.caps);
            if (!c.isPublish) parser.sdp.viewerProfile(offer, parser.codecs);
            statuses.set('parser ok', (statuses.get('parser ok') ?? 0) + 1);
          } catch (err) {
            assert.ok(
              err instanceof parser.sdp.SdpError,
              `SDP case ${i} (parser): ${String(err)}: ${JSON.stringify(c.body.slice(0, 200))}`,
            );
            const key = `parser ${(err as unknown as { code: string }).code}`;
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          }
          return;
        }
        if (i < SDP_CASES) {
          const c = sdpCases[i]!;
          const path = c.isPublish ? `/api/whip/publish/fuzz-p${i % 4}` : '/api/whep/play/fuzz-view';
          const r = await raw(stack.url, 'POST', path, { ...admin, ...sdpType }, c.body);
          if (r.status === 201) {
            created++;
            tally('sdp', r, 'created');
            assert.equal((await raw(stack.url, 'DELETE', String(r.headers['location']), admin)).status, 200);
            return;
          }
          tally(
            'sdp',
            r,
            assertCleanError(
              r,
              `SDP case ${i} ${c.isPublish ? 'publish' : 'view'}: ${JSON.stringify(c.body.slice(0, 120))}${process.env['FUZZ_DUMP'] ? `\n${JSON.stringify(c.body)}` : ''}`,
            ),
          );
          return;
        }
        const [kind, value, text, segment] = jsonCases[i - SDP_CASES]!;
        const json = { ...admin, 'Content-Type': 'application/json' };
        const seg = encodeURIComponent(segment) || 'x';
        let r: Raw;
        switch (kind) {
          case 0:
            r = await raw(stack.url, 'POST', '/api/v1/tokens', json, JSON.stringify(value));
            break;
          case 1:
            r = await raw(stack.url, 'POST', '/api/v1/tokens', json, text);
            break; // not JSON, mostly
          case 2:
            r = await raw(
              stack.url,
              'GET',
              `/api/v1/recordings?${new URLSearchParams({ room: text, status: segment, limit: String(value), cursor: segment }).toString()}`,
              admin,
            );
            break;
          case 3:
            r = await raw(stack.url, 'POST', `/api/v1/rooms/${seg}/recordings`, json, JSON.stringify(value));
            break;
          case 4:
            r = await raw(stack.url, 'POST', `/api/v1/recordings/${seg}/stop`, json, JSON.stringify(value));
            break;
          default:
            r = await raw(stack.url, 'GET', `/api/v1/recordings/${seg}/outputs/${encodeURIComponent(text) || 'x'}`, admin);
        }
        if (r.status < 300) {
          tally('json', r, 'ok');
          return;
        }
        tally('json', r, assertCleanError(r, `JSON case ${kind} ${JSON.stringify(value)?.slice(0, 100)} ${JSON.stringify(text)}`));
      };
      const started = Date.now();
      const spent = new Map<string, number>();
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < SDP_CASES + JSON_CASES) {
            const i = next++;
            try {
              const t0 = performance.now();
              await runOne(i);
              const layer = i >= SDP_CASES ? 'json' : i % 2 === 1 ? 'parser' : sdpCases[i]!.isPublish ? 'stack-publish' : 'stack-view';
              spent.set(layer, (spent.get(layer) ?? 0) + performance.now() - t0);
            } catch (err) {
              // Name the case and the server-side failure (its log line), not only what the client saw.
              const c = sdpCases[i];
              const failed = stack.logs.filter((l) => /request failed|exited|uncaught|unhandled/i.test(l)).slice(-3);
              throw new Error(
                `case ${i} (${c ? `${c.isPublish ? 'publish' : 'view'}, ${c.body.length} chars` : 'json'}): ${String(err)}\nserver log:\n${failed.join('\n')}`,
                { cause: err },
              );
            }
          }
        }),
      );
      const seconds = (Date.now() - started) / 1000;
      const count = (prefix: string) => [...statuses].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
      console.log(
        `# fuzz: ${SDP_CASES} SDP + ${JSON_CASES} JSON cases in ${seconds.toFixed(1)} s; SDP: ${count('sdp ')} through API → relay → SFU ` +
          `(${created} created sessions), ${count('parser ')} through the SFU's parser in-process; JSON: ${count('json ')} through the API`,
      );
      assert.equal(count('sdp ') + count('parser ') + count('json '), SDP_CASES + JSON_CASES, 'every case was judged');
      for (const [k, v] of [...statuses].sort((a, b) => b[1] - a[1])) console.log(`#   ${k}: ${v}`);
      for (const [k, v] of spent) console.log(`#   request time (summed over 8 clients), ${k}: ${(v / 1000).toFixed(1)} s`);
      // Still serving: readiness, and a well-formed publish and play.
      assert.equal((await fetch(`${stack.url}/readyz`)).status, 200);
      assert.equal((await fetch(`${stack.sfuUrl}/readyz`)).status, 200);
      const ok = await publish('fuzz-after');
      assert.equal(ok.status, 201, ok.text);
      assert.equal((await raw(stack.url, 'DELETE', String(ok.headers['location']), admin)).status, 200);
      assert.equal((await raw(stack.url, 'DELETE', String(host.headers['location']), admin)).status, 200);
      assert.ok(!stack.logs.some((l) => /"level":(50|60)/.test(l) && /request failed/.test(l)), 'no request failed with a 5xx');
    },
  );

  test('50 concurrent publishes at a one-publisher room: exactly one 201', { timeout: 60_000 }, async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => publish('race-room')));
    const created = answers.filter((r) => r.status === 201);
    assert.equal(created.length, 1, answers.map((r) => r.status).join(','));
    for (const r of answers.filter((a) => a.status !== 201)) assert.equal(assertCleanError(r, 'race'), 'room_has_publisher');
    const room = await raw(stack.url, 'GET', '/api/v1/rooms/race-room', admin);
    assert.equal((JSON.parse(room.text) as { publishers: number }).publishers, 1);
    assert.equal((await raw(stack.url, 'DELETE', String(created[0]!.headers['location']), admin)).status, 200);
  });

  test('web hygiene: CSP and friends on the page, CORS allowlist, cross-site guard, generic readiness', async () => {
    const page = await raw(stack.url, 'GET', '/');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.doesNotMatch(String(page.headers['content-security-policy']), /unsafe-inline/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    // A browser on another site: no CORS grant, mutating requests refused even with a token.
    const evil = { Origin: 'https://evil.example' };
    const pre = await raw(stack.url, 'OPTIONS', '/api/whip/publish/demo', { ...evil, 'Access-Control-Request-Method': 'POST' });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    assert.equal(pre.headers['link'], undefined, 'no ICE servers (TURN credentials) to an unauthenticated OPTIONS');
    assert.equal(
      assertCleanError(await raw(stack.url, 'POST', '/api/v1/rooms/demo/recordings', { ...admin, ...evil }), 'cross-site POST'),
      'origin_not_allowed',
    );
    assert.equal(
      assertCleanError(
        await raw(stack.url, 'POST', '/api/v1/rooms/demo/recordings', { ...admin, 'Sec-Fetch-Site': 'cross-site' }),
        'cross-site fetch',
      ),
      'origin_not_allowed',
    );
    // A form-like body is not JSON: 415 (no simple cross-site POST can start anything).
    const form = await raw(
      stack.url,
      'POST',
      '/api/v1/tokens',
      { ...admin, 'Content-Type': 'text/plain' },
      '{"room":"a","grants":["admin"]}',
    );
    assert.equal(assertCleanError(form, 'text/plain body'), 'unsupported_media_type');
    // curl-style (no Origin, no body) still works: judged by its token alone.
    assert.equal((await raw(stack.url, 'POST', '/api/v1/rooms/no-such-room/recordings', admin)).status, 404);
    // Every 4xx is the JSON error, Koa's own 405 included.
    assert.equal(assertCleanError(await raw(stack.url, 'PUT', '/api/v1/rooms', admin), 'PUT'), 'method_not_allowed');
    const ready = JSON.parse((await raw(stack.url, 'GET', '/readyz')).text) as { checks: Record<string, string> };
    assert.deepEqual(Object.values(ready.checks), ['ok', 'ok']);
  });

  test('closed by default: beyond loopback without AUTH_TOKEN the services refuse to start', { timeout: 120_000 }, async () => {
    /** Runs a script to its exit: its code and what it wrote to stderr. */
    const exitOf = (script: string, env: Record<string, string | undefined>): Promise<{ code: number | null; stderr: string }> => {
      const child = spawn(process.execPath, [`${ROOT}${script}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
    };
    // `npm start`'s launcher stops on that refusal (exit 2) instead of restarting the service
    // forever. Both media services are told to listen beyond loopback, so nothing starts at all.
    const launcherEnv: Record<string, string | undefined> = {
      ...process.env,
      AUTH_TOKEN: undefined,
      ALLOW_UNAUTHENTICATED: undefined,
      REDIS_URL: stack.env['REDIS_URL'] ?? '',
      REDIS_PREFIX: 'lw-launcher-refusal',
      HTTP_ADDR: '127.0.0.1:0',
      SFU_HTTP_ADDR: '0.0.0.0:0',
      RECORDER_HTTP_ADDR: '0.0.0.0:0',
    };
    // The three services at once (each is a Node start-up, slow on a loaded machine), then the
    // launcher alone: it gives the SFU 30 s to come up, which a start-up competing with three
    // others on a loaded 2-core machine can miss.
    const services = await Promise.all(
      (
        [
          ['api', 'HTTP_ADDR'],
          ['sfu', 'SFU_HTTP_ADDR'],
          ['recorder', 'RECORDER_HTTP_ADDR'],
        ] as const
      ).map(([svc, addrVar]) =>
        exitOf(`services/${svc}/dist/main.js`, {
          PATH: process.env['PATH'] ?? '',
          [addrVar]: '0.0.0.0:0',
          REDIS_URL: 'redis://127.0.0.1:1',
        }),
      ),
    );
    const launcher = await exitOf('scripts/launch.mjs', launcherEnv);
    for (const [i, { code, stderr }] of services.entries()) {
      assert.equal(code, 2, `${['api', 'sfu', 'recorder'][i]}: ${stderr}`);
      assert.match(stderr, /AUTH_TOKEN/);
      assert.match(stderr, /ALLOW_UNAUTHENTICATED=1/);
    }
    assert.equal(launcher.code, 2, launcher.stderr);
    assert.match(launcher.stderr, /refused its configuration/);
    assert.doesNotMatch(launcher.stderr, /restarting it/);
  });
});
