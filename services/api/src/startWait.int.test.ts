// The start request's wait for the first frame (routes/startWait.ts) against a real Redis, the
// real store, lifecycle and ChannelHub: it ends on the recorder's `active` (published just
// after the status is written, as the recorder does), on a status written without any message
// (a missed message), on failure, on the bound and on the client going away; and it leaves no
// subscription behind. The Prefer header is parsed as RFC 7240 says.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ChannelHub,
  createRedis,
  encodeMessage,
  LocalStorage,
  RecordingLifecycle,
  RecordingStore,
  redisKeys,
  type Redis,
} from '@live-webrtc/shared';
import { parsePrefer, waitUntilCapturing } from './routes/startWait.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../tests/dist/support/redis.js', import.meta.url).href;
  return ((await import(url)) as { startRedis(): Promise<RedisServer> }).startRedis();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('Prefer: respond-async and wait=N are read as RFC 7240 writes them', () => {
  assert.deepEqual(parsePrefer(undefined), { respondAsync: false, waitSeconds: null });
  assert.deepEqual(parsePrefer('respond-async'), { respondAsync: true, waitSeconds: null });
  assert.deepEqual(parsePrefer('Respond-Async, wait=2'), { respondAsync: true, waitSeconds: 2 });
  assert.deepEqual(parsePrefer(['handling=lenient', 'wait="5"; x=1', 'wait=9']), { respondAsync: false, waitSeconds: 5 });
  assert.deepEqual(parsePrefer('wait=soon, return=minimal'), { respondAsync: false, waitSeconds: null });
});

describe('waiting for a recording to capture, on real Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  let hub: ChannelHub;
  let dir: string;
  let n = 0;
  before(async () => {
    server = await startRedis();
    redis = createRedis(server.url, 'test');
    hub = new ChannelHub(createRedis(server.url, 'test-sub'));
    dir = await mkdtemp(join(tmpdir(), 'lw-startwait-'));
  });
  after(async () => {
    hub?.close();
    redis?.disconnect();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const setup = async () => {
    const keys = redisKeys(`sw${++n}`);
    const storage = new LocalStorage(join(dir, String(n)));
    await storage.init();
    const store = new RecordingStore(redis, keys, storage);
    const life = new RecordingLifecycle(store, redis, keys);
    const rec = await life.start(`room-${n}`, 'api');
    const subscribers = async () => {
      const [, count] = (await redis.pubsub('NUMSUB', keys.recordingChannel(rec.id))) as [string, number];
      return Number(count);
    };
    return { keys, store, life, rec, deps: { store, hub, keys }, subscribers };
  };

  test('answers `active` right after the active message, not at the next poll', async () => {
    const { keys, life, rec, deps, subscribers } = await setup();
    const t0 = Date.now();
    const waiting = waitUntilCapturing(deps, rec.id, { timeoutMs: 10_000, pollMs: 5000 });
    await sleep(300);
    assert.equal(await subscribers(), 1, 'listening on the recording channel while waiting');
    // As the recorder does it: `first-frame` (for the SFU), the status, then `active`.
    await redis.publish(keys.recordingChannel(rec.id), encodeMessage({ type: 'first-frame', recordingId: rec.id, firstSegment: 0 }));
    const frameAt = new Date();
    await life.markActive(rec.id, frameAt);
    await sleep(200); // `first-frame` alone does not end the wait before the status is written
    await redis.publish(keys.recordingChannel(rec.id), encodeMessage({ type: 'active', recordingId: rec.id, firstSegment: 0 }));
    const got = await waiting;
    assert.equal(got?.status, 'active');
    assert.equal(got?.firstFrameAt, frameAt.toISOString());
    assert.ok(Date.now() - t0 < 2000, `answered well before the 5 s poll (${Date.now() - t0} ms)`);
    await sleep(50);
    assert.equal(await subscribers(), 0, 'unsubscribed once answered');
  });

  test('a status written before (or without) any message is seen: by the first read, then by the poll', async () => {
    const { life, rec, deps } = await setup();
    await life.markActive(rec.id, new Date());
    assert.equal((await waitUntilCapturing(deps, rec.id, { timeoutMs: 10_000 }))?.status, 'active', 'already active: at once');

    const second = await setup();
    const t0 = Date.now();
    const waiting = waitUntilCapturing(second.deps, second.rec.id, { timeoutMs: 10_000, pollMs: 100 });
    await sleep(200);
    await second.life.markActive(second.rec.id, new Date()); // no message: a missed one
    assert.equal((await waiting)?.status, 'active');
    assert.ok(Date.now() - t0 < 5000, 'the poll found it');
  });

  test('a recording that fails while waited for answers `failed` at once', async () => {
    const { keys, life, rec, deps, subscribers } = await setup();
    const waiting = waitUntilCapturing(deps, rec.id, { timeoutMs: 10_000, pollMs: 5000 });
    await sleep(200);
    await life.fail(rec.id, 'no_media', 'no decodable media');
    await redis.publish(
      keys.recordingChannel(rec.id),
      encodeMessage({ type: 'capture-ended', recordingId: rec.id, firstSegment: 0, reason: 'no_media' }),
    );
    const got = await waiting;
    assert.equal(got?.status, 'failed');
    assert.equal(got?.error?.code, 'no_media');
    await sleep(50);
    assert.equal(await subscribers(), 0);
  });

  test('past the bound it answers `starting`; 0 reads once; a gone client ends the wait; unknown id is null', async () => {
    const { rec, deps, subscribers } = await setup();
    let t0 = Date.now();
    const got = await waitUntilCapturing(deps, rec.id, { timeoutMs: 600, pollMs: 100 });
    const waited = Date.now() - t0;
    assert.equal(got?.status, 'starting');
    assert.ok(waited >= 590 && waited < 3000, `waited the bound (${waited} ms)`);

    t0 = Date.now();
    assert.equal((await waitUntilCapturing(deps, rec.id, { timeoutMs: 0 }))?.status, 'starting');
    assert.ok(Date.now() - t0 < 500);

    const gone = new AbortController();
    t0 = Date.now();
    const waiting = waitUntilCapturing(deps, rec.id, { timeoutMs: 10_000, pollMs: 5000, signal: gone.signal });
    await sleep(200);
    gone.abort();
    assert.equal((await waiting)?.status, 'starting');
    assert.ok(Date.now() - t0 < 2000, 'ended when the client went away');

    assert.equal(await waitUntilCapturing(deps, 'no-such-recording', { timeoutMs: 5000 }), null);
    await sleep(50);
    assert.equal(await subscribers(), 0, 'no subscription left by any of them');
  });
});
