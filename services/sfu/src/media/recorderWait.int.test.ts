// No start waits forever for a recorder (a real mediasoup worker, a real Redis, a WHIP publisher
// from a recorded browser offer, no recorder): with none ever seen, starting a recording is a
// 503 `no_recorder` at once; with one seen before but none alive now, the recording is created
// and fails `no_recorder` after RECORDER_WAIT_SECONDS.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger, createRedis, redisKeys, RecordingStore, LocalStorage } from '@live-webrtc/shared';
import { loadSfuConfig } from '../config.js';
import { CHROMIUM_156_PUBLISH } from './sdp/fixtures/chromium.js';
import { startSfu } from '../service.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../../tests/dist/support/redis.js', import.meta.url).href;
  return ((await import(url)) as { startRedis(): Promise<RedisServer> }).startRedis();
}

const INTERNAL = 'int-internal-token-0123456789abcdef0123456789';
let redis: RedisServer;
let dataDir: string;
before(async () => {
  redis = await startRedis();
  dataDir = await mkdtemp(join(tmpdir(), 'lw-sfu-recwait-'));
});
after(async () => {
  await redis?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test(
  'no recorder: 503 when none was ever seen; failed no_recorder after the bounded wait when none is alive',
  { timeout: 60_000 },
  async (t) => {
    const prefix = `rw${process.pid}`;
    const base = 36000 + Math.floor(Math.random() * 50) * 100;
    const config = loadSfuConfig({
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RECORD_DIR: join(dataDir, 'rec'),
      SFU_HTTP_ADDR: '127.0.0.1:0',
      RTC_LISTEN_IP: '127.0.0.1',
      RTC_MIN_PORT: String(base),
      RTC_MAX_PORT: String(base + 99),
      SFU_WORKERS: '1',
      INTERNAL_TOKEN: INTERNAL,
      ALLOW_UNAUTHENTICATED: '1',
      RECORDER_WAIT_SECONDS: '1',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    });
    const sfu = await startSfu(config, { logger: createLogger('sfu', config.LOG_LEVEL) });
    const conn = createRedis(redis.url, 'test');
    t.after(async () => {
      await sfu.close();
      conn.disconnect();
    });
    const url = `http://127.0.0.1:${sfu.port}`;
    const pub = await fetch(`${url}/api/whip/publish/wait-room`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: CHROMIUM_156_PUBLISH,
    });
    assert.equal(pub.status, 201, await pub.text());
    const start = () =>
      fetch(`${url}/internal/v1/rooms/wait-room/recordings`, { method: 'POST', headers: { authorization: `Bearer ${INTERNAL}` } });

    const t0 = performance.now();
    const never = await start();
    const neverMs = performance.now() - t0;
    assert.equal(never.status, 503);
    assert.equal(((await never.json()) as { error: { code: string } }).error.code, 'no_recorder');

    // A recorder ran once (its heartbeat long gone): the start is accepted, then fails in bounded time.
    const keys = redisKeys(prefix);
    await conn.set(keys.recordersSeen, '1');
    const created = await start();
    assert.equal(created.status, 201, await created.clone().text());
    const { id } = (await created.json()) as { id: string };
    const store = new RecordingStore(conn, keys, new LocalStorage(config.RECORD_DIR));
    const t1 = performance.now();
    let rec = await store.get(id);
    while (rec?.status === 'starting' && performance.now() - t1 < 20_000) {
      await new Promise((r) => setTimeout(r, 100));
      rec = await store.get(id);
    }
    assert.equal(rec?.status, 'failed');
    assert.equal(rec.error?.code, 'no_recorder');
    t.diagnostic(
      `503 after ${neverMs.toFixed(0)} ms; failed no_recorder ${(performance.now() - t1).toFixed(0)} ms after the start (wait 1 s)`,
    );
  },
);
