// The join lock on a real Redis: two joins of one recording never overlap, and the one that
// waited finds the recording ready and does nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { createRedis, LocalStorage, RecordingStore, redisKeys, transition } from '@live-webrtc/shared';
import { underJoinLock } from './joinLock.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
let redis: RedisServer;
let tmp: string;
before(async () => {
  const url = new URL('../../../../tests/dist/support/redis.js', import.meta.url).href;
  redis = await ((await import(url)) as { startRedis(): Promise<RedisServer> }).startRedis();
  tmp = await mkdtemp(join(tmpdir(), 'lw-joinlock-'));
});
after(async () => {
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('two joins of one recording: the second waits, then finds it ready and does not join', async (t) => {
  const conn = createRedis(redis.url, 'test');
  t.after(() => conn.disconnect());
  const keys = redisKeys(`jl${process.pid}`);
  const store = new RecordingStore(conn, keys, new LocalStorage(tmp));
  const rec = await store.create('room-1', 'api');
  const d = { redis: conn, keys, store };
  const events: string[] = [];
  const joinAs = (who: string, ms: number) => async () => {
    events.push(`${who} start`);
    await sleep(ms);
    await store.update(rec.id, (r) =>
      transition(transition(transition(r, 'active', new Date()), 'stopping', new Date()), 'processing', new Date()),
    );
    await store.update(rec.id, (r) => transition(r, 'ready', new Date()));
    events.push(`${who} end`);
    return who;
  };
  const [a, b] = await Promise.all([underJoinLock(d, rec.id, joinAs('a', 400)), underJoinLock(d, rec.id, joinAs('b', 0))]);
  // Whichever got the lock first joined; the other ran nothing.
  assert.deepEqual([a, b].filter((x) => x !== null).length, 1, `results ${a}, ${b}`);
  assert.equal(events.length, 2, events.join(', '));
  assert.equal(await conn.exists(keys.joinLock(rec.id)), 0, 'the lock is released');
});

test('a lock left by a process that died expires and the join goes ahead', async (t) => {
  const conn = createRedis(redis.url, 'test');
  t.after(() => conn.disconnect());
  const keys = redisKeys(`jl${process.pid}b`);
  const store = new RecordingStore(conn, keys, new LocalStorage(tmp));
  const rec = await store.create('room-1', 'api');
  await conn.set(keys.joinLock(rec.id), 'someone-gone', 'PX', 600);
  const t0 = Date.now();
  const got = await underJoinLock({ redis: conn, keys, store }, rec.id, async () => 'joined');
  assert.equal(got, 'joined');
  assert.ok(Date.now() - t0 >= 400, `waited ${Date.now() - t0} ms for the lock to expire`);
});
