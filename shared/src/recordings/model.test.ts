import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canTransition, newRecording, pausedMs, transition, TransitionError, RECORDING_STATUSES, withoutPauses } from './model.js';

const now = new Date('2026-01-01T00:00:00Z');

test('the lifecycle goes starting → active → stopping → processing → ready', () => {
  let r = newRecording({ id: '01J0000000000000000000000A', room: 'demo', trigger: 'api', now });
  for (const s of ['active', 'stopping', 'processing', 'ready'] as const) r = transition(r, s, now);
  assert.equal(r.status, 'ready');
  assert.deepEqual(
    r.transitions.map((t) => t.status),
    ['starting', 'active', 'stopping', 'processing', 'ready'],
  );
});

test('a recording can be stopped before it became active', () => {
  assert.ok(canTransition('starting', 'stopping'));
});

test('every non-terminal state can fail; terminal states go nowhere', () => {
  for (const s of RECORDING_STATUSES) {
    const terminal = s === 'ready' || s === 'failed';
    assert.equal(canTransition(s, 'failed'), !terminal, s);
  }
});

test('illegal transitions throw TransitionError', () => {
  const r = newRecording({ id: '01J0000000000000000000000A', room: 'demo', trigger: 'api', now });
  assert.throws(() => transition(r, 'ready', now), TransitionError);
  const stopping = transition(transition(r, 'active', now), 'stopping', now);
  assert.throws(() => transition(stopping, 'active', now), /cannot go from stopping to active/);
});

test('a recording pauses and resumes only from active / paused', () => {
  assert.ok(canTransition('active', 'paused'));
  assert.ok(canTransition('paused', 'active'));
  assert.ok(canTransition('paused', 'stopping'));
  assert.ok(!canTransition('starting', 'paused'));
  assert.ok(!canTransition('stopping', 'paused'));
  assert.ok(!canTransition('paused', 'processing'));
});

test('paused spans: summed (an open one until now) and cut out of later instants', () => {
  const t = (s: number): string => new Date(now.getTime() + s * 1000).toISOString();
  const pauses = [
    { at: t(10), resumedAt: t(15), offsetMs: 10_000, attempt: 0 },
    { at: t(20), resumedAt: null, offsetMs: 15_000, attempt: 1 },
  ];
  assert.equal(pausedMs(pauses, now.getTime() + 30_000), 5000 + 10_000);
  // Before the first resume nothing is cut; after it, the 5 s; the open pause cuts nothing yet.
  assert.equal(withoutPauses(now.getTime() + 12_000, pauses), now.getTime() + 12_000);
  assert.equal(withoutPauses(now.getTime() + 16_000, pauses), now.getTime() + 11_000);
  assert.equal(withoutPauses(now.getTime() + 40_000, pauses), now.getTime() + 35_000);
});
