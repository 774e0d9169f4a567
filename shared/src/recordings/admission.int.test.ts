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

test('admitAndReserve decides like admit and holds the cost in the same step', async () => {
  const loads = new RecorderLoads(redis, redisKeys(`adm2${process.pid}`));
  await loads.report('r1', { budgetKbps: 5000, usedKbps: 2000, captures: 1 });
  await loads.report('r2', { budgetKbps: 5000, usedKbps: 4000, captures: 2 });
  const first = await loads.admitAndReserve('tok-a', 2064, ['r1', 'r2'], 10_000);
  assert.deepEqual(first, { admitted: true, recorderId: 'r1', freeKbps: 4000 });
  assert.equal(await loads.reservedKbps(), 2064, 'held without a separate reserve()');
  const second = await loads.admitAndReserve('tok-b', 2064, ['r1', 'r2'], 10_000);
  assert.deepEqual(second, { admitted: false, freeKbps: 1936, reservedKbps: 2064, recorders: 2 });
  assert.equal(await loads.reservedKbps(), 2064, 'a refused start holds nothing');
  // The start's token becomes the recording's id; the recorder then releases it by that id.
  await loads.rekey('tok-a', 'rec-a');
  await loads.release('tok-a');
  assert.equal(await loads.reservedKbps(), 2064, 'moved, not dropped');
  await loads.release('rec-a');
  assert.equal(await loads.reservedKbps(), 0);
  // An expired reservation is dropped by the script too; an unreported live recorder admits.
  await loads.reserve('old', 100_000, -1);
  assert.equal((await loads.admitAndReserve('tok-c', 2064, ['r1', 'r2'], 10_000)).admitted, true);
  const unreported = await loads.admitAndReserve('tok-d', 1_000_000, ['r1', 'r9'], 10_000);
  assert.deepEqual(unreported, { admitted: true, recorderId: 'r9', freeKbps: Infinity });
});

test('simultaneous starts from many SFU connections cannot all count the same free room', async () => {
  const keys = redisKeys(`adm3${process.pid}`);
  await new RecorderLoads(redis, keys).report('r1', { budgetKbps: 10_000, usedKbps: 0, captures: 0 });
  await new RecorderLoads(redis, keys).report('r2', { budgetKbps: 10_000, usedKbps: 0, captures: 0 });
  // 20 SFU instances (a connection each) start a 2064 kbit/s recording at the same instant:
  // 20,000 kbit/s of room holds 9 of them (the 10th would leave 1,424).
  const clients = Array.from({ length: 20 }, () => createRedis(server.url, 'test'));
  try {
    const results = await Promise.all(
      clients.map((c, i) => new RecorderLoads(c, keys).admitAndReserve(`tok-${i}`, 2064, ['r1', 'r2'], 10_000)),
    );
    assert.equal(results.filter((r) => r.admitted).length, 9);
    assert.equal(await new RecorderLoads(redis, keys).reservedKbps(), 9 * 2064);
  } finally {
    for (const c of clients) c.disconnect();
  }
});
