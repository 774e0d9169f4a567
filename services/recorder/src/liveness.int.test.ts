// Nothing left hanging (real Redis, a real recorder, local storage): recordings in `starting`,
// `stopping` or `processing` that no process works on — no capture claim, no finalize job, as
// after a crash between two steps — are continued, finalized or failed with a typed code by the
// recorders' sweep within seconds. No SFU here: a run queued for the `starting` recording finds
// no room and gives up after the rejoin grace (1 s), as it would with the publisher gone.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CaptureRuns,
  createLogger,
  createRedis,
  LocalStorage,
  RecordingLifecycle,
  RecordingStore,
  redisKeys,
  type Recording,
} from '@live-webrtc/shared';
import { loadRecorderConfig } from './config.js';
import { startRecorder } from './service.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../tests/dist/support/redis.js', import.meta.url).href;
  const mod = (await import(url)) as { startRedis(): Promise<RedisServer> };
  return mod.startRedis();
}

let redis: RedisServer;
let tmp: string;
before(async () => {
  redis = await startRedis();
  tmp = await mkdtemp(join(tmpdir(), 'lw-liveness-int-'));
});
after(async () => {
  await redis?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test(
  'recordings no process works on end continued, finalized or failed with a typed code, within seconds',
  { timeout: 90_000 },
  async (t) => {
    const prefix = `lv${process.pid}`;
    const config = loadRecorderConfig({
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RECORD_DIR: join(tmp, 'rec'),
      RECORDER_HTTP_ADDR: '127.0.0.1:0',
      RECORD_REJOIN_GRACE_SECONDS: '1',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    });
    const keys = redisKeys(prefix);
    const conn = createRedis(redis.url, 'test');
    const storage = new LocalStorage(config.RECORD_DIR);
    await storage.init();
    const store = new RecordingStore(conn, keys, storage);
    const life = new RecordingLifecycle(store, conn, keys);
    const runs = new CaptureRuns(conn, keys);
    // Left as a crash would leave them: a state, and nothing working on it.
    const starting = await life.start('room-starting', 'api');
    const stopping = await life.start('room-stopping', 'api');
    await life.stop(stopping.id);
    const processing = await life.start('room-processing', 'api');
    await life.markProcessing(processing.id);
    const recorder = await startRecorder(config, { logger: createLogger('recorder', config.LOG_LEVEL) });
    t.after(async () => {
      await recorder.close();
      conn.disconnect();
    });
    const t0 = performance.now();
    const finalOf = async (id: string): Promise<{ rec: Recording; ms: number }> => {
      for (;;) {
        const rec = await store.get(id);
        if (rec && (rec.status === 'ready' || rec.status === 'failed')) return { rec, ms: performance.now() - t0 };
        if (performance.now() - t0 > 60_000) throw new Error(`${id} still ${rec?.status} after 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    let sawRun = false;
    const watchRun = setInterval(() => void runs.claim(starting.id).then((c) => (sawRun ||= c?.cause === 'abandoned')), 100);
    const [a, b, c] = await Promise.all([finalOf(starting.id), finalOf(stopping.id), finalOf(processing.id)]);
    clearInterval(watchRun);
    assert.ok(sawRun, 'the starting recording was continued as a new run');
    assert.equal(a.rec.error?.code, 'no_media', `starting → ${JSON.stringify(a.rec.error)}`);
    assert.equal(b.rec.error?.code, 'abandoned', `stopping → ${JSON.stringify(b.rec.error)}`);
    assert.equal(c.rec.error?.code, 'no_segments', `processing → finalize ran: ${JSON.stringify(c.rec.error)}`);
    // The run releases its claim as it ends, just after the recording's final status is written.
    let claim = await runs.claim(starting.id);
    for (let i = 0; claim !== null && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      claim = await runs.claim(starting.id);
    }
    assert.equal(claim, null, 'no claim left behind (5 s after the final status)');
    t.diagnostic(
      `final after: starting ${a.ms.toFixed(0)} ms (new run, publisher gone), stopping ${b.ms.toFixed(0)} ms, processing ${c.ms.toFixed(0)} ms`,
    );
  },
);
