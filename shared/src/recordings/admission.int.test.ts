// Admission by cost against a real Redis: recorders report budgets and use, starts reserve
// their cost until a recorder takes them, and a start no recorder has room for is refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRedis, redisKeys, type Redis } from '../redis.js';
import { recordingCostKbps, RecorderLoads } from './admission.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
/** tests/support/redis.ts, loaded at run time: the tests/ project may be built after this one. */
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../tests/dist/support/redis.js', import.meta.url).href;
  return ((await import(url)) as { startRedis(): Promise<RedisServer> }).startRedis();
}

let server: RedisServer;
let redis: Redis;
before(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'test');
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
});

test('a recording costs the sum of its tracks', () => {
  const c = { videoKbps: 2000, audioKbps: 64 };
  assert.equal(recordingCostKbps([{ kind: 'video' }, { kind: 'audio' }], c), 2064);
  assert.equal(recordingCostKbps([{ kind: 'audio' }], c), 64);
  assert.equal(recordingCostKbps([], c), 0);
});

test('starts are admitted while one recorder has room, reserved until taken, refused when full', async () => {
  const loads = new RecorderLoads(redis, redisKeys(`adm${process.pid}`));
  await loads.report('r1', { budgetKbps: 5000, usedKbps: 2000, captures: 1 });
  await loads.report('r2', { budgetKbps: 5000, usedKbps: 4000, captures: 2 });
  const first = await loads.admit(2064, ['r1', 'r2']);
  assert.equal(first.admitted, true);
  assert.equal(first.admitted && first.recorderId, 'r1', 'the recorder with the most room');
  await loads.reserve('rec-a', 2064, 10_000);
  // r1 has 3000 free, 2064 of it reserved: 936 left there, 1000 on r2: neither takes 2064.
  const second = await loads.admit(2064, ['r1', 'r2']);
  assert.equal(second.admitted, false);
  assert.ok(!second.admitted && second.reservedKbps === 2064);
  // r1 takes rec-a: its report carries the cost, the reservation goes.
  await loads.report('r1', { budgetKbps: 5000, usedKbps: 4064, captures: 2 });
  await loads.release('rec-a');
  assert.equal(await loads.reservedKbps(), 0);
  assert.equal((await loads.admit(900, ['r1', 'r2'])).admitted, true);
  assert.equal((await loads.admit(2064, ['r1', 'r2'])).admitted, false);
  // Only live recorders count; an expired reservation is dropped.
  assert.equal((await loads.admit(900, ['r2'])).admitted, true);
  await loads.reserve('rec-b', 100_000, -1);
  assert.equal(await loads.reservedKbps(), 0, 'expired reservations are dropped');
  // A live recorder that never reported (an older version) is not refused on.
  assert.equal((await loads.admit(1_000_000, ['r1', 'r3'])).admitted, true);
  await loads.forget('r1');
  assert.deepEqual(
    (await loads.of(['r1', 'r2'])).map((l) => l.recorderId),
    ['r2'],
  );
});
