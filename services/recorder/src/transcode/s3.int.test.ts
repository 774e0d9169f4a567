// The transcoder and retention against real S3 (Ceph radosgw started by the test) and a real
// Redis: a recording's raw is read by ffmpeg straight from S3 through a presigned URL (no copy)
// and its outputs land in the bucket; RECORDING_RETENTION_DAYS deletes ended recordings older
// than that with every object they have, and keeps live and recent ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test, type TestContext } from 'node:test';
import {
  createLogger,
  createRedis,
  createStorage,
  jobIds,
  JobQueues,
  recordingKeys,
  RecordingStore,
  redisKeys,
  transition,
  type Recording,
  type Storage,
} from '@live-webrtc/shared';
import { loadRecorderConfig } from '../config.js';
import { ffprobe } from '../ffmpeg/probe.js';
import { startRecorder } from '../service.js';

const run = promisify(execFile);

interface Server {
  url?: string;
  endpoint?: string;
  region?: string;
  accessKey?: string;
  secretKey?: string;
  stop(): Promise<void>;
}
async function support<T>(file: string, fn: string): Promise<T> {
  const url = new URL(`../../../../tests/dist/support/${file}`, import.meta.url).href;
  return ((await import(url)) as Record<string, () => Promise<T>>)[fn]!();
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('transcoding and retention with real S3 (Ceph radosgw)', () => {
  let redis: Server & { url: string };
  let s3: Server & { endpoint: string; region: string; accessKey: string; secretKey: string };
  let tmp: string;
  let n = 0;

  before(async () => {
    [redis, s3, tmp] = await Promise.all([
      support<Server & { url: string }>('redis.js', 'startRedis'),
      support<Server & { endpoint: string; region: string; accessKey: string; secretKey: string }>('ceph-s3.js', 'startCephS3'),
      mkdtemp(join(tmpdir(), 'lw-transcode-s3-')),
    ]);
  });
  after(async () => {
    await s3?.stop();
    await redis?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function setup(t: TestContext, env: Record<string, string>) {
    const prefix = `ts${process.pid}x${++n}`;
    const config = loadRecorderConfig({
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RECORD_DIR: join(tmp, prefix),
      RECORDER_HTTP_ADDR: '127.0.0.1:0',
      S3_ENDPOINT: new URL(s3.endpoint).host,
      S3_USE_SSL: '0',
      S3_PATH_STYLE: '1',
      S3_REGION: s3.region,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_BUCKET: `lw-${prefix}`.toLowerCase(),
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
      ...env,
    });
    const storage: Storage = createStorage(config);
    await storage.init();
    const conn = createRedis(redis.url, 'test');
    const store = new RecordingStore(conn, redisKeys(prefix), storage);
    const queues = new JobQueues(conn, prefix);
    const start = async (): Promise<{ close(): Promise<void> }> => {
      const recorder = await startRecorder(config, { logger: createLogger('recorder', config.LOG_LEVEL) });
      t.after(() => recorder.close());
      return recorder;
    };
    t.after(async () => {
      await queues.close();
      conn.disconnect();
    });
    return { store, storage, queues, start };
  }

  test('ffmpeg reads the raw from S3 (presigned URL) and the outputs land in the bucket', { timeout: 120_000 }, async (t) => {
    const s = await setup(t, { TRANSCODE_OUTPUTS: 'mp4,poster,hls' });
    await s.start();
    const segment = join(tmp, 'h264.mkv');
    // prettier-ignore
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=3', '-f', 'lavfi', '-i', 'sine=f=440:d=3:sample_rate=48000',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'libopus', '-f', 'matroska', segment,
    ]);
    const rec = await s.store.create('room-s3', 'api');
    const key = recordingKeys.segment(rec.id, 0);
    await s.storage.putFile(key, segment, 'video/x-matroska');
    const { size } = await stat(segment);
    const end = (await ffprobe(segment)).format.duration ?? 3;
    await s.store.update(rec.id, (r) => ({
      ...r,
      tracks: [
        { kind: 'video', codec: 'h264', participant: 'obs' },
        { kind: 'audio', codec: 'opus', participant: 'obs' },
      ],
      segments: [{ index: 0, key, size, run: 0, start: 0, end, runAt: null }],
    }));
    await s.store.transition(rec.id, 'active');
    await s.store.update(rec.id, (r) => transition(r, 'stopping', new Date(), { stoppedAt: new Date().toISOString() }));
    await s.store.transition(rec.id, 'processing');
    await s.queues.enqueue('FinalizeRecording', { v: 1, recordingId: rec.id }, { jobId: jobIds.finalize(rec.id) });
    const done = await waitFor(
      'outputs finished',
      async () => {
        const r = await s.store.get(rec.id);
        return r && r.outputs.length === 4 && r.outputs.every((o) => o.status === 'ready' || o.status === 'failed') ? r : null;
      },
      100_000,
    );
    for (const o of done.outputs) assert.equal(o.status, 'ready', `${o.name}: ${JSON.stringify(o.error)}`);
    const keys = await s.storage.list(recordingKeys.prefix(rec.id));
    for (const f of ['recording.mp4', 'poster.jpg', 'hls/master.m3u8']) assert.ok(keys.includes(recordingKeys.output(rec.id, f)), f);
    const mp4 = join(tmp, `${rec.id}.mp4`);
    await s.storage.download(recordingKeys.output(rec.id, 'recording.mp4'), mp4);
    const p = await ffprobe(mp4);
    assert.deepEqual(p.streams.map((x) => x.codec_name).sort(), ['aac', 'h264']);
    assert.ok(Math.abs((p.format.duration ?? 0) - end) <= 0.2, `mp4 ${p.format.duration} s vs raw ${end} s`);
  });

  test(
    'RECORDING_RETENTION_DAYS deletes ended recordings older than that, with every object; keeps live and recent ones',
    { timeout: 120_000 },
    async (t) => {
      const s = await setup(t, { RECORDING_RETENTION_DAYS: '30', TRANSCODE_OUTPUTS: 'none' });
      const daysAgo = (d: number): string => new Date(Date.now() - d * 86_400_000).toISOString();
      /** A recording in `status`, started `age` days ago, with a raw, an mp4 and an HLS ladder's files. */
      const make = async (status: 'ready' | 'failed' | 'active', age: number): Promise<Recording> => {
        const rec = await s.store.create(`room-retention-${status}-${age}`, 'api');
        const files = [
          'raw.webm',
          'recording.mp4',
          'poster.jpg',
          'hls/master.m3u8',
          'hls/stream_0.m3u8',
          'hls/stream_0_000.ts',
          'sprite/sprite.vtt',
        ];
        await Promise.all(
          files.map((f) => s.storage.putBytes(recordingKeys.output(rec.id, f), `bytes of ${f}`, 'application/octet-stream')),
        );
        await s.store.transition(rec.id, 'active');
        if (status !== 'active') {
          await s.store.transition(rec.id, 'stopping', { stoppedAt: daysAgo(age) });
          await s.store.transition(rec.id, 'processing');
          await s.store.transition(rec.id, status);
        }
        return s.store.update(rec.id, (r) => ({ ...r, startedAt: daysAgo(age) }));
      };
      const oldReady = await make('ready', 45);
      const oldFailed = await make('failed', 31);
      const oldLive = await make('active', 45);
      const recent = await make('ready', 29);
      const objects = async (r: Recording): Promise<number> => (await s.storage.list(recordingKeys.prefix(r.id))).length;
      assert.ok((await objects(oldReady)) >= 8, 'files and manifest stored');

      await s.start(); // retention runs a second after start, then hourly
      await waitFor(
        'the expired recordings deleted',
        async () => !(await s.store.get(oldReady.id)) && !(await s.store.get(oldFailed.id)),
        60_000,
      );
      assert.equal(await objects(oldReady), 0, 'every object of the expired ready recording is gone from the bucket');
      assert.equal(await objects(oldFailed), 0, 'and of the expired failed one');
      const listed = (await s.store.list({ limit: 100 })).items.map((r) => r.id);
      assert.ok(!listed.includes(oldReady.id) && !listed.includes(oldFailed.id), 'no index entries left');
      assert.ok(await s.store.get(oldLive.id), 'a live recording is never deleted, however old');
      assert.ok(await s.store.get(recent.id), 'a recording younger than the retention is kept');
      assert.ok((await objects(recent)) >= 8, "the recent recording's objects are all there");
      assert.ok((await objects(oldLive)) >= 8);
    },
  );
});
