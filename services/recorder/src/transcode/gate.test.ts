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
