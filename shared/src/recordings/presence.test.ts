import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientNames, presenceConnectionName } from './presence.js';

test('connection names: prefixed, no spaces', () => {
  assert.equal(presenceConnectionName('lw', 'host-12-ab'), 'lw:presence:host-12-ab');
  assert.equal(presenceConnectionName('lw', 'a b\nc'), 'lw:presence:a_b_c');
});

test('names of a CLIENT LIST reply', () => {
  const list = [
    'id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=lw:presence:r1 age=3 idle=3 flags=N db=0',
    'id=4 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=9 name= age=1 idle=0 flags=N db=0',
    'id=5 addr=127.0.0.1:5002 laddr=127.0.0.1:6379 fd=10 name=recorder age=1 idle=0 flags=N db=0',
    '',
  ].join('\n');
  assert.deepEqual([...clientNames(list)], ['lw:presence:r1', 'recorder']);
});
