// The room registry on a real Redis: a room's entry lives while its instance owns it and is
// gone once released — a late update (a recording ending after its room closed, found by the
// back-to-baseline test, #12) must not bring it back as a key without owner or TTL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRedis, redisKeys, type Redis } from './redis.js';
import { RoomRegistry } from './rooms.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
/** tests/support/redis.ts, loaded at run time: the tests/ project may be built after this one. */
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../tests/dist/support/redis.js', import.meta.url).href;
  const mod = (await import(url)) as { startRedis(): Promise<RedisServer> };
  return mod.startRedis();
}

describe('room registry', () => {
  let server: RedisServer;
  let redis: Redis;
  const keys = redisKeys('rr');
  const me = { id: 'sfu-a', publicUrl: 'http://a', internalUrl: 'http://a-int', startedAt: new Date().toISOString() };
  let registry: RoomRegistry;

  before(async () => {
    server = await startRedis();
    redis = createRedis(server.url, 'test');
    registry = new RoomRegistry(redis, keys, 10_000);
    await registry.heartbeat(me, []);
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  test('an update of an owned room sets its fields and keeps its TTL', async () => {
    assert.deepEqual(await registry.claim('live', me.id), { owned: true });
    await registry.update('live', { publishers: 1, subscribers: 3, recordingId: 'r1' });
    const info = await registry.get('live');
    assert.equal(info?.instance, me.id);
    assert.equal(info?.subscribers, 3);
    assert.equal(info?.recordingId, 'r1');
    assert.ok((await redis.pttl(keys.room('live'))) > 0, 'the entry still expires with its owner');
  });

  test('an update after the room was released leaves nothing behind', async () => {
    await registry.claim('gone', me.id);
    await registry.release('gone', me.id);
    await registry.update('gone', { recordingId: null });
    await registry.update('gone', { publishers: 0, subscribers: 0 });
    assert.equal(await redis.exists(keys.room('gone')), 0, 'no entry recreated without owner or TTL');
    assert.equal(await registry.get('gone'), null);
  });
});
