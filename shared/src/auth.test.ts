import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Authenticator, safeEqual } from './auth.js';
import { AppError } from './errors.js';

test('without AUTH_TOKEN everything is open', async () => {
  const a = new Authenticator({ authToken: undefined, jwtSecret: undefined });
  const p = await a.authenticate({});
  a.authorize(p, 'admin', 'any');
});

test('the static token is accepted as Bearer or X-Auth-Token, anything else is 401', async () => {
  const a = new Authenticator({ authToken: 'tok', jwtSecret: undefined });
  assert.equal((await a.authenticate({ authorization: 'Bearer tok' })).kind, 'token');
  assert.equal((await a.authenticate({ 'x-auth-token': 'tok' })).kind, 'token');
  await assert.rejects(a.authenticate({}), (e: unknown) => e instanceof AppError && e.status === 401);
  await assert.rejects(a.authenticate({ authorization: 'Bearer nope' }), (e: unknown) => e instanceof AppError && e.status === 401);
});

test('room JWTs carry their room and grants', async () => {
  const a = new Authenticator({ authToken: 'tok', jwtSecret: undefined });
  const { token } = await a.mintRoomToken('demo', ['subscribe'], 60);
  const p = await a.authenticate({ authorization: `Bearer ${token}` });
  assert.equal(p.kind, 'jwt');
  a.authorize(p, 'subscribe', 'demo');
  assert.throws(
    () => a.authorize(p, 'publish', 'demo'),
    (e: unknown) => e instanceof AppError && e.status === 403,
  );
  assert.throws(
    () => a.authorize(p, 'subscribe', 'other'),
    (e: unknown) => e instanceof AppError && e.status === 403,
  );
  const other = new Authenticator({ authToken: 'different', jwtSecret: undefined });
  await assert.rejects(other.authenticate({ authorization: `Bearer ${token}` }), /invalid/);
});

test('safeEqual', () => {
  assert.ok(safeEqual('abc', 'abc'));
  assert.ok(!safeEqual('abc', 'abd'));
  assert.ok(!safeEqual('abc', 'abcd'));
});
