import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canTransition, newRecording, transition, TransitionError, RECORDING_STATUSES } from './model.js';

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
