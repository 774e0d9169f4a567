// Serving outputs from real S3 (Ceph radosgw, started by the test) with S3_PRESIGN=1: files
// are a 302 to a presigned URL that S3 itself answers (whole and by range), playlists are
// still served by the API so their relative URIs resolve here, and DELETE removes every object
// of the recording from the bucket — more than one DeleteObjects batch (1,000 keys) of them.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createLogger,
  createRedis,
  createStorage,
  recordingKeys,
  RecordingStore,
  redisKeys,
  transition,
  type Recording,
  type RecordingOutput,
  type Redis,
  type Storage,
} from '@live-webrtc/shared';
import { loadApiConfig } from './config.js';
import { startApi, type RunningApi } from './service.js';

interface Server {
  stop(): Promise<void>;
}
async function support<T>(file: string, fn: string): Promise<T> {
  const url = new URL(`../../../tests/dist/support/${file}`, import.meta.url).href;
  return ((await import(url)) as Record<string, () => Promise<T>>)[fn]!();
}

const TOKEN = 'outputs-s3-int-token-0123456789abcdef012345';
const admin = { Authorization: `Bearer ${TOKEN}` };
const MP4 = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));
const SEGMENTS = 1010;

let redis: Server & { url: string };
let s3: Server & { endpoint: string; region: string; accessKey: string; secretKey: string };
let dir: string;
let api: RunningApi;
let url: string;
let conn: Redis;
let store: RecordingStore;
let storage: Storage;
let rec: Recording;

const out = (name: string, file: string, contentType: string, size: number): RecordingOutput => ({
  name,
  file,
  contentType,
  size,
  status: 'ready',
  progress: 1,
  durationMs: 1000,
  etaSeconds: 0,
  error: null,
});

before(async () => {
  [redis, s3, dir] = await Promise.all([
    support<Server & { url: string }>('redis.js', 'startRedis'),
    support<Server & { endpoint: string; region: string; accessKey: string; secretKey: string }>('ceph-s3.js', 'startCephS3'),
    mkdtemp(join(tmpdir(), 'lw-outputs-s3-int-')),
  ]);
  const prefix = `as${process.pid}`;
  const config = loadApiConfig({
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    RECORD_DIR: join(dir, 'records'),
    HTTP_ADDR: '127.0.0.1:0',
    AUTH_TOKEN: TOKEN,
    SFU_URL: 'http://127.0.0.1:9',
    S3_ENDPOINT: new URL(s3.endpoint).host,
    S3_USE_SSL: '0',
    S3_PATH_STYLE: '1',
    S3_REGION: s3.region,
    S3_ACCESS_KEY: s3.accessKey,
    S3_SECRET_KEY: s3.secretKey,
    S3_BUCKET: 'lw-outputs-s3',
    S3_PRESIGN: '1',
    S3_PRESIGN_TTL_SECONDS: '120',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
  });
  storage = createStorage(config);
  await storage.init();
  api = await startApi(config, { logger: createLogger('api', config.LOG_LEVEL) });
  url = `http://127.0.0.1:${api.port}`;
  conn = createRedis(redis.url, 'test');
  store = new RecordingStore(conn, redisKeys(prefix), storage);

  // A ready recording: raw, mp4, and an HLS rendition of SEGMENTS segments.
  rec = await store.create('s3-room', 'api');
  const put = (file: string, body: Buffer | string, type: string): Promise<void> =>
    storage.putBytes(recordingKeys.output(rec.id, file), body, type);
  await put('raw.webm', MP4, 'video/webm');
  await put('recording.mp4', MP4, 'video/mp4');
  const names = Array.from({ length: SEGMENTS }, (_, i) => `stream_0_${String(i).padStart(4, '0')}.ts`);
  for (let i = 0; i < names.length; i += 25)
    await Promise.all(names.slice(i, i + 25).map((n) => put(`hls/${n}`, `segment ${n}`, 'video/mp2t')));
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:4', '#EXT-X-PLAYLIST-TYPE:VOD'];
  for (const n of names) playlist.push('#EXTINF:4.000,', n);
  playlist.push('#EXT-X-ENDLIST', '');
  await put('hls/stream_0.m3u8', playlist.join('\n'), 'application/vnd.apple.mpegurl');
  await put(
    'hls/master.m3u8',
    '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nstream_0.m3u8\n',
    'application/vnd.apple.mpegurl',
  );
  await store.transition(rec.id, 'active');
  await store.transition(rec.id, 'stopping', { stoppedAt: new Date().toISOString() });
  await store.transition(rec.id, 'processing');
  rec = await store.update(rec.id, (r) =>
    transition(
      {
        ...r,
        outputs: [
          out('raw', 'raw.webm', 'video/webm', MP4.length),
          out('mp4', 'recording.mp4', 'video/mp4', MP4.length),
          out('hls', 'hls/master.m3u8', 'application/vnd.apple.mpegurl', 1),
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
  await s3?.stop();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = admin): Promise<Response> =>
  fetch(path.startsWith('http') ? path : `${url}${path}`, { headers, redirect: 'manual' });

describe('serving outputs from S3', () => {
  test('S3_PRESIGN=1: a file is a 302 to a presigned URL that S3 answers, whole and by range', async () => {
    const res = await get(`/api/v1/recordings/${rec.id}/outputs/mp4`);
    assert.equal(res.status, 302);
    const location = res.headers.get('location')!;
    const u = new URL(location);
    assert.equal(u.origin, new URL(s3.endpoint).origin, 'straight to S3, not through the API');
    assert.ok(u.searchParams.get('X-Amz-Signature'), 'signed');
    assert.equal(u.searchParams.get('X-Amz-Expires'), '120', 'S3_PRESIGN_TTL_SECONDS');
    const whole = await get(location, {});
    assert.equal(whole.status, 200);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), MP4, 'S3 serves the bytes to a client without credentials');
    const part = await get(location, { Range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), MP4.subarray(100, 200));
    const tampered = new URL(location);
    tampered.searchParams.set('X-Amz-Expires', '99999');
    assert.equal((await get(tampered.href, {})).status, 403, 'the signature covers the lifetime');
    assert.equal((await get(`/api/v1/recordings/${rec.id}/outputs/mp4`, {})).status, 401, 'no redirect without credentials');
  });

  test('playlists are served by the API (relative URIs resolve here); segments redirect to S3', async () => {
    const master = await get(`/api/v1/recordings/${rec.id}/outputs/hls`);
    assert.equal(master.status, 200);
    assert.match(await master.text(), /stream_0\.m3u8/);
    const rendition = await get(`/api/v1/recordings/${rec.id}/outputs/hls/stream_0.m3u8`);
    assert.equal(rendition.status, 200);
    assert.match(await rendition.text(), /stream_0_0000\.ts/);
    const seg = await get(`/api/v1/recordings/${rec.id}/outputs/hls/stream_0_0007.ts`);
    assert.equal(seg.status, 302);
    assert.equal(await (await get(seg.headers.get('location')!, {})).text(), 'segment stream_0_0007.ts');
  });

  test('DELETE removes every object of the recording from the bucket (more than one 1,000-key batch)', { timeout: 60_000 }, async () => {
    const keys = await storage.list(recordingKeys.prefix(rec.id));
    assert.ok(keys.length > SEGMENTS + 4, `${keys.length} objects stored`);
    const other = await store.create('s3-other-room', 'api');
    await storage.putBytes(recordingKeys.output(other.id, 'recording.mp4'), MP4, 'video/mp4');
    const res = await fetch(`${url}/api/v1/recordings/${rec.id}`, { method: 'DELETE', headers: admin });
    assert.equal(res.status, 204);
    assert.deepEqual(await storage.list(recordingKeys.prefix(rec.id)), [], 'nothing left under the recording');
    assert.equal((await get(`/api/v1/recordings/${rec.id}`)).status, 404);
    assert.ok(await storage.stat(recordingKeys.output(other.id, 'recording.mp4')), "another recording's objects are untouched");
  });
});
