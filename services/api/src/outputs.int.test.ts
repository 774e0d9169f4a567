// Serving transcoded outputs over HTTP against a real Redis and local storage: the outputs
// list, ranges (206/416), an HLS ladder made by ffmpeg played from the API by ffmpeg itself
// with nothing but a signed ?token=, path checks, and the start request's options.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  createLogger,
  createRedis,
  LocalStorage,
  recordingKeys,
  RecordingStore,
  redisKeys,
  transition,
  type Recording,
  type RecordingOutput,
  type Redis,
} from '@live-webrtc/shared';
import { loadApiConfig } from './config.js';
import { startApi, type RunningApi } from './service.js';

const run = promisify(execFile);

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../tests/dist/support/redis.js', import.meta.url).href;
  return ((await import(url)) as { startRedis(): Promise<RedisServer> }).startRedis();
}

const TOKEN = 'outputs-int-token-0123456789abcdef0123456789'; // ≥ 32 bytes, as the API requires
const admin = { Authorization: `Bearer ${TOKEN}` };
const MP4 = Buffer.from(Array.from({ length: 2000 }, (_, i) => i % 253));

let redis: RedisServer;
let dir: string;
let api: RunningApi;
let url: string;
let conn: Redis;
let store: RecordingStore;
let storage: LocalStorage;
let rec: Recording;

const out = (name: string, file: string, contentType: string, o: Partial<RecordingOutput> = {}): RecordingOutput => ({
  name,
  file,
  contentType,
  size: 1,
  status: 'ready',
  progress: 1,
  durationMs: 1000,
  etaSeconds: 0,
  error: null,
  ...o,
});

before(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'lw-outputs-int-'));
  const prefix = `ao${process.pid}`;
  const config = loadApiConfig({
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    RECORD_DIR: join(dir, 'records'),
    HTTP_ADDR: '127.0.0.1:0',
    AUTH_TOKEN: TOKEN,
    SFU_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
  });
  api = await startApi(config, { logger: createLogger('api', config.LOG_LEVEL) });
  url = `http://127.0.0.1:${api.port}`;
  conn = createRedis(redis.url, 'test');
  storage = new LocalStorage(config.RECORD_DIR);
  store = new RecordingStore(conn, redisKeys(prefix), storage);

  // A ready recording with an mp4 (bytes), an HLS ladder made by ffmpeg, and an output still running.
  rec = await store.create('outputs-room', 'api');
  const hlsDir = join(dir, 'hls');
  await run('mkdir', ['-p', hlsDir]);
  // prettier-ignore
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=30:d=3', '-f', 'lavfi', '-i', 'sine=d=3',
    '-filter_complex', '[0:v]split=2[a][b];[b]scale=160:90[c]', '-map', '[a]', '-map', '1:a', '-map', '[c]', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-force_key_frames', 'expr:gte(t,n_forced*1)', '-c:a', 'aac',
    '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_segment_filename', join(hlsDir, 'stream_%v_%03d.ts'),
    '-master_pl_name', 'master.m3u8', '-var_stream_map', 'v:0,a:0 v:1,a:1', join(hlsDir, 'stream_%v.m3u8'),
  ]);
  for (const f of await readdir(hlsDir))
    await storage.putFile(recordingKeys.output(rec.id, `hls/${f}`), join(hlsDir, f), 'application/octet-stream');
  await storage.putBytes(recordingKeys.output(rec.id, 'recording.mp4'), MP4, 'video/mp4');
  await storage.putBytes(recordingKeys.output(rec.id, 'raw.webm'), MP4, 'video/webm');
  await store.transition(rec.id, 'active');
  await store.transition(rec.id, 'stopping', { stoppedAt: new Date().toISOString() });
  await store.transition(rec.id, 'processing');
  rec = await store.update(rec.id, (r) =>
    transition(
      {
        ...r,
        outputs: [
          out('raw', 'raw.webm', 'video/webm', { size: MP4.length }),
          out('mp4', 'recording.mp4', 'video/mp4', { size: MP4.length }),
          out('hls', 'hls/master.m3u8', 'application/vnd.apple.mpegurl'),
          out('sprite', 'sprite/sprite.jpg', 'image/jpeg', { status: 'processing', progress: 0.42, etaSeconds: 3.5, size: null }),
        ],
      },
      'ready',
      new Date(),
    ),
  );
});

after(async () => {
  await api?.close();
  conn?.disconnect();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = admin): Promise<Response> =>
  fetch(`${url}${path}`, { headers, redirect: 'manual' });
async function errorOf(res: Response): Promise<{ status: number; code: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code };
}

interface Listed {
  name: string;
  status: string;
  progress: number;
  etaSeconds: number | null;
  size: number | null;
  contentType: string;
  url: string;
  signedUrl?: string;
}

describe('serving outputs', () => {
  test('the outputs list gives status, progress, ETA, size, type and where to fetch each', async () => {
    const res = await get(`/api/v1/recordings/${rec.id}/outputs`);
    assert.equal(res.status, 200);
    const { items } = (await res.json()) as { items: Listed[] };
    const sprite = items.find((o) => o.name === 'sprite')!;
    assert.deepEqual(
      { status: sprite.status, progress: sprite.progress, etaSeconds: sprite.etaSeconds, size: sprite.size },
      { status: 'processing', progress: 0.42, etaSeconds: 3.5, size: null },
    );
    const mp4 = items.find((o) => o.name === 'mp4')!;
    assert.equal(mp4.contentType, 'video/mp4');
    assert.equal(mp4.size, MP4.length);
    assert.equal(mp4.url, `/api/v1/recordings/${rec.id}/outputs/mp4`);
    assert.match(mp4.signedUrl!, /\?token=\d+\.[0-9a-f]{64}$/);
    assert.equal((await get(`/api/v1/recordings/${rec.id}/outputs`, {})).status, 401, 'the list needs credentials');
  });

  test('downloads by range: 206 with Content-Range, 416 naming the size', async () => {
    const part = await get(`/api/v1/recordings/${rec.id}/outputs/mp4`, { ...admin, Range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${MP4.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), MP4.subarray(100, 200));
    const bad = await get(`/api/v1/recordings/${rec.id}/outputs/mp4`, { ...admin, Range: `bytes=${MP4.length}-` });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get('content-range'), `bytes */${MP4.length}`);
    assert.equal((await errorOf(bad)).code, 'range_not_satisfiable');
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/sprite`)), { status: 409, code: 'output_not_ready' });
  });

  test('HLS plays from the API with only a signed token: ffmpeg follows the master and every rendition', { timeout: 60_000 }, async () => {
    const { items } = (await (await get(`/api/v1/recordings/${rec.id}/outputs`)).json()) as { items: Listed[] };
    const signed = items.find((o) => o.name === 'hls')!.signedUrl!;
    const token = new URL(signed, url).searchParams.get('token')!;
    // Without credentials and without a token: 401; with a token for another output: 401.
    assert.equal((await get(`/api/v1/recordings/${rec.id}/outputs/hls`, {})).status, 401);
    const mp4Token = new URL(items.find((o) => o.name === 'mp4')!.signedUrl!, url).searchParams.get('token')!;
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/hls?token=${mp4Token}`, {})), {
      status: 401,
      code: 'unauthorized',
    });
    // A token opens its output's files only, never the rest of the API.
    assert.equal((await get(`/api/v1/recordings/${rec.id}?token=${token}`, {})).status, 401);

    const master = await get(`/api/v1/recordings/${rec.id}/outputs/hls?token=${token}`, {});
    assert.equal(master.status, 200);
    assert.match(master.headers.get('content-type') ?? '', /mpegurl/);
    const text = await master.text();
    const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(uris.length, 2);
    for (const u of uris) {
      const abs = new URL(u, `${url}/api/v1/recordings/${rec.id}/outputs/hls?token=${token}`);
      assert.equal(
        abs.pathname,
        `/api/v1/recordings/${rec.id}/outputs/hls/${u.split('?')[0]!.replace(/^hls\//, '')}`,
        'relative URIs resolve under …/outputs/hls/',
      );
      const playlist = await fetch(abs);
      assert.equal(playlist.status, 200);
      for (const seg of (await playlist.text()).split('\n').filter((l) => l && !l.startsWith('#'))) {
        const s = await fetch(new URL(seg, abs));
        assert.equal(s.status, 200, seg);
        assert.equal(s.headers.get('content-type'), 'video/mp2t');
      }
    }
    // A real HLS client: ffmpeg reads the whole ladder through the API.
    for (const variant of [0, 1]) {
      const { stdout } = await run('ffprobe', [
        '-v',
        'error',
        '-select_streams',
        `v`,
        '-show_entries',
        'stream=width,height',
        '-of',
        'csv=p=0',
        `${url}/api/v1/recordings/${rec.id}/outputs/hls/stream_${variant}.m3u8?token=${token}`,
      ]);
      assert.equal(stdout.trim().split('\n')[0], variant === 0 ? '320,180' : '160,90');
    }
    const { stdout } = await run('ffmpeg', [
      '-v',
      'error',
      '-i',
      `${url}/api/v1/recordings/${rec.id}/outputs/hls?token=${token}`,
      '-map',
      '0',
      '-f',
      'null',
      '-',
    ]);
    assert.equal(stdout, '');
  });

  test('file names cannot escape the output directory; unknown outputs are 404', async () => {
    for (const p of ['hls/..%2Fmanifest.json', 'hls/.hidden', 'mp4/recording.mp4', 'hls/x%00.ts', 'hls/a..m3u8']) {
      const res = await get(`/api/v1/recordings/${rec.id}/outputs/${p}`);
      assert.equal(res.status, 404, p);
    }
    // Raw paths, as a client that does not normalise them would send them.
    for (const p of ['hls/../../manifest.json', 'hls/%2e%2e', 'hls/%2e%2e%2fmanifest.json', '..%2fmanifest.json']) {
      const status = await new Promise<number>((resolve, reject) => {
        httpGet({ host: '127.0.0.1', port: api.port, path: `/api/v1/recordings/${rec.id}/outputs/${p}`, headers: admin }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(status, 404, p);
    }
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/composite`)), { status: 404, code: 'output_not_found' });
    assert.deepEqual(await errorOf(await get(`/api/v1/recordings/${rec.id}/outputs/..%2F..`)), { status: 404, code: 'output_not_found' });
  });

  test('the start request refuses bad options before anything starts', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${url}/api/v1/rooms/outputs-room/recordings`, {
        method: 'POST',
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    // The route's spec (routes/openapi.ts) validates the body before the route runs.
    assert.deepEqual(await errorOf(await post({ outputs: ['gif'] })), { status: 400, code: 'invalid_body' });
    assert.deepEqual(await errorOf(await post({ webhookUrls: ['file:///etc/passwd'] })), { status: 400, code: 'invalid_body' });
    // Good options reach the room lookup (no such room here).
    assert.deepEqual(await errorOf(await post({ outputs: ['mp4'], webhookUrls: ['https://hooks.example/x'] })), {
      status: 404,
      code: 'room_not_found',
    });
  });

  test('DELETE removes every object: raw, outputs, HLS files and the options', async () => {
    const before = await storage.list(recordingKeys.prefix(rec.id));
    assert.ok(before.some((k) => k.includes('/hls/')));
    const res = await fetch(`${url}/api/v1/recordings/${rec.id}`, { method: 'DELETE', headers: admin });
    assert.equal(res.status, 204);
    assert.deepEqual(await storage.list(recordingKeys.prefix(rec.id)), []);
  });
});
