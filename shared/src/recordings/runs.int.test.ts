// The recording lifecycle and the capture-run claims against a real Redis and real local
// storage: named operations move a recording and nothing else does; a recorder's heartbeat
// lapses within its TTL; a claim is handed on exactly once; a manifest write that fails while
// storage is down is retried until it lands.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRedis, redisKeys, type Redis } from '../redis.js';
import { LocalStorage } from '../storage/local.js';
import { recordingKeys } from '../storage/storage.js';
import { RecordingLifecycle } from './lifecycle.js';
import { TransitionError } from './model.js';
import { presenceConnectionName, RecorderPresence } from './presence.js';
import { CaptureRuns } from './runs.js';
import { RecordingStore } from './store.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
/** tests/support/redis.ts, loaded at run time: the tests/ project may be built after this one. */
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../tests/dist/support/redis.js', import.meta.url).href;
  const mod = (await import(url)) as { startRedis(): Promise<RedisServer> };
  return mod.startRedis();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('recording lifecycle and capture runs on real Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  let dir: string;
  let n = 0;
  before(async () => {
    server = await startRedis();
    redis = createRedis(server.url, 'test');
    dir = await mkdtemp(join(tmpdir(), 'lw-lifecycle-'));
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const setup = async () => {
    const keys = redisKeys(`lc${++n}`);
    const storage = new LocalStorage(join(dir, String(n)));
    await storage.init();
    const store = new RecordingStore(redis, keys, storage);
    return { keys, storage, store, life: new RecordingLifecycle(store, redis, keys), runs: new CaptureRuns(redis, keys, 400) };
  };

  test('the named operations take a recording from starting to ready, each transition once', async () => {
    const { life, store } = await setup();
    const seen: string[] = [];
    store.onTransition((r) => seen.push(r.status));
    const rec = await life.start('room-a', 'api');
    await life.markActive(rec.id, new Date(Date.now() - 5000));
    const again = await life.markActive(rec.id, new Date()); // a takeover run keeps the first frame time
    assert.equal(again.firstFrameAt, (await store.mustGet(rec.id)).firstFrameAt);
    await life.stop(rec.id);
    await life.stop(rec.id); // idempotent
    const p = await life.markProcessing(rec.id);
    assert.ok(p.durationMs !== null && p.durationMs >= 4900, `duration from the first frame (${p.durationMs})`);
    const ready = await life.markReady(rec.id, {
      name: 'raw',
      file: 'raw.webm',
      contentType: 'video/webm',
      size: 1,
      status: 'ready',
      progress: 1,
      durationMs: 5000,
    });
    assert.equal(ready.status, 'ready');
    assert.deepEqual(seen, ['starting', 'active', 'stopping', 'processing', 'ready']);
    assert.equal((await life.fail(rec.id, 'no_media', 'late')).status, 'ready', 'a final recording is left as it is');
  });

  test('markActive on a stopped recording is refused by the model; fail carries a typed code', async () => {
    const { life } = await setup();
    const rec = await life.start('room-b', 'auto');
    await life.stop(rec.id);
    const still = await life.markActive(rec.id, new Date());
    assert.equal(still.status, 'stopping', 'a stopping recording does not become active again');
    const failed = await life.fail(rec.id, 'no_recorder', 'nobody took it');
    assert.deepEqual(failed.error, { code: 'no_recorder', message: 'nobody took it' });
    await assert.rejects(
      life
        .markReady(rec.id, {
          name: 'raw',
          file: 'raw.webm',
          contentType: 'video/webm',
          size: 1,
          status: 'ready',
          progress: 1,
          durationMs: 1,
        })
        .then((r) => {
          if (r.status !== 'ready') throw new TransitionError(r.status, 'ready');
        }),
      TransitionError,
      'a failed recording never becomes ready',
    );
  });

  test("a recorder's heartbeat lapses within its TTL, and a claim is handed on exactly once", async () => {
    const { runs } = await setup();
    await runs.heartbeat('rec-1');
    await runs.heartbeat('rec-2');
    assert.equal(await runs.everSeen(), true);
    assert.deepEqual((await runs.liveRecorders()).sort(), ['rec-1', 'rec-2']);
    await runs.queued('R1', 'room', 0, 'first');
    assert.equal(await runs.take('R1', 'room', 0, 'rec-1', 'first'), true);
    const t0 = Date.now();
    while (await runs.isAlive('rec-1')) {
      await runs.heartbeat('rec-2');
      await sleep(50);
    }
    const lapsedMs = Date.now() - t0;
    assert.ok(lapsedMs <= 600, `heartbeat lapsed after ${lapsedMs} ms (TTL 400)`);
    const claim = await runs.claim('R1');
    assert.ok(claim);
    // Two recorders notice the lapse at once: one hand-on wins.
    const [a, b] = await Promise.all([runs.advance(claim, 'takeover'), runs.advance(claim, 'takeover')]);
    assert.deepEqual([a, b].sort(), [1, null].sort());
    assert.equal(await runs.take('R1', 'room', 0, 'rec-1', 'first'), false, 'the stale attempt cannot take it back');
    assert.equal(await runs.take('R1', 'room', 1, 'rec-2', 'takeover'), true);
    await runs.release('R1', 0);
    assert.equal((await runs.claim('R1'))?.attempt, 1, 'releasing an old attempt leaves the new claim');
    await runs.release('R1', 1);
    assert.equal(await runs.claim('R1'), null);
  });

  test('a manifest write that fails while storage is down is retried until it lands', async () => {
    const { life, store, storage } = await setup();
    const rec = await life.start('room-c', 'api');
    const recDir = join(dir, String(n), 'recordings', rec.id);
    // Storage "down": the recording's directory replaced by a file, so every write under it fails (even as root).
    await rm(recDir, { recursive: true, force: true });
    await writeFile(recDir, 'not a directory');
    const stopped = await life.stop(rec.id); // must not throw
    assert.equal(stopped.status, 'stopping');
    assert.equal(store.pendingManifestWrites, 1);
    await sleep(700);
    assert.equal(store.pendingManifestWrites, 1, 'still waiting while storage is down');
    await rm(recDir, { force: true });
    await mkdir(recDir);
    for (let i = 0; i < 80 && store.pendingManifestWrites > 0; i++) await sleep(100);
    assert.equal(store.pendingManifestWrites, 0);
    const manifest = JSON.parse(await readFile(join(recDir, 'manifest.json'), 'utf8')) as { status: string };
    assert.equal(manifest.status, 'stopping', 'the newest version landed');
    assert.ok(await storage.stat(recordingKeys.manifest(rec.id)));
  });
  test('a recorder whose process is gone is known at once by its presence connection; a live one is not', async () => {
    const prefix = `pres${process.pid}x${++n}`;
    const watcherConn = createRedis(server.url, 'watcher');
    const alive = createRedis(server.url, presenceConnectionName(prefix, 'alive-1'));
    const dying = createRedis(server.url, presenceConnectionName(prefix, 'dying-1'));
    try {
      await Promise.all([alive.ping(), dying.ping(), watcherConn.ping()]);
      const presence = new RecorderPresence(watcherConn, prefix);
      await presence.scan();
      assert.equal(presence.gone('alive-1'), false);
      assert.equal(presence.gone('dying-1'), false);
      assert.equal(presence.gone('never-seen'), false, 'a recorder never seen is left to the heartbeat TTL');
      dying.disconnect(); // what the kernel does to a killed process's sockets
      await sleep(50);
      await presence.scan();
      assert.equal(presence.gone('dying-1'), false, 'one missing list is not enough');
      await presence.scan();
      assert.equal(presence.gone('dying-1'), true);
      assert.equal(presence.gone('alive-1'), false);
    } finally {
      alive.disconnect();
      dying.disconnect();
      watcherConn.disconnect();
    }
  });
});
