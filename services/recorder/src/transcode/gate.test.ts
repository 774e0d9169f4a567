import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CostGate } from './gate.js';

test('jobs wait until their cost fits the budget, first come first served', async () => {
  const gate = new CostGate(2);
  const order: string[] = [];
  const a = await gate.acquire(1);
  const b = await gate.acquire(1);
  assert.equal(gate.used, 2);
  const c = gate.acquire(2).then((r) => (order.push('c'), r));
  const d = gate.acquire(0.25).then((r) => (order.push('d'), r));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(order, [], 'nothing fits yet');
  a();
  a(); // idempotent
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(order, [], 'c needs 2 cores; d waits behind it');
  b();
  const releaseC = await c;
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(order, ['c']);
  releaseC();
  (await d)();
  assert.deepEqual(order, ['c', 'd']);
  assert.equal(gate.used, 0);
});

test('a job costing more than the whole budget runs alone', async () => {
  const gate = new CostGate(1);
  const big = await gate.acquire(3);
  assert.equal(gate.used, 3);
  big();
  assert.throws(() => new CostGate(0), RangeError);
});

test('a waiting mp4 (priority 1) is admitted before waiting heavier jobs that came first', async () => {
  const gate = new CostGate(2);
  const order: string[] = [];
  const running = await gate.acquire(2, 3); // an HLS ladder
  const sprite = gate.acquire(0.5, 3).then((r) => (order.push('sprite'), r));
  const hls = gate.acquire(2, 3).then((r) => (order.push('hls'), r));
  const mp4 = gate.acquire(1, 1).then((r) => (order.push('mp4'), r));
  assert.equal(gate.tryAcquire(0.25, 3), null, 'a priority-3 job does not jump the queue');
  assert.equal(gate.waiting, 3);
  running();
  (await mp4)();
  (await sprite)();
  (await hls)();
  assert.deepEqual(order, ['mp4', 'sprite', 'hls']);
  const now = gate.tryAcquire(1, 1);
  assert.ok(now, 'fits and nothing waits: admitted at once');
  now();
  assert.equal(gate.used, 0);
});
