import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { Authenticator, safeEqual } from './auth.js';
import { AppError } from './errors.js';

test('without AUTH_TOKEN everything is open', async () => {
  const a = new Authenticator({ authToken: undefined, jwtSecret: undefined });
  const p = await a.authenticate({});
  a.authorize(p, 'admin', 'any');
});

const TOK = 'tok-0123456789abcdef0123456789abcdef';
const JWT = 'jwt-0123456789abcdef0123456789abcdef';

test('the static token is accepted as Bearer or X-Auth-Token, anything else is 401', async () => {
  const a = new Authenticator({ authToken: TOK, jwtSecret: undefined });
  assert.equal((await a.authenticate({ authorization: `Bearer ${TOK}` })).kind, 'token');
  assert.equal((await a.authenticate({ 'x-auth-token': TOK })).kind, 'token');
  await assert.rejects(a.authenticate({}), (e: unknown) => e instanceof AppError && e.status === 401);
  await assert.rejects(a.authenticate({ authorization: 'Bearer nope' }), (e: unknown) => e instanceof AppError && e.status === 401);
});

test('room JWTs carry their room and grants', async () => {
  const a = new Authenticator({ authToken: TOK, jwtSecret: JWT });
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
  const other = new Authenticator({ authToken: TOK, jwtSecret: `${JWT}-other` });
  await assert.rejects(other.authenticate({ authorization: `Bearer ${token}` }), /invalid/);
  // Signed with AUTH_TOKEN itself (the old scheme): refused.
  const asMaster = new Authenticator({ authToken: TOK, jwtSecret: TOK });
  const legacy = (await asMaster.mintRoomToken('demo', ['admin'], 60)).token;
  await assert.rejects(a.authenticate({ authorization: `Bearer ${legacy}` }), /invalid/);
});

test('room JWTs need exp, jti and a valid room; revoked ones are refused', async () => {
  const key = new TextEncoder().encode(JWT);
  const sign = (claims: Record<string, unknown>, exp: boolean) => {
    const j = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('live-webrtc').setJti('0123456789abcdef');
    return (exp ? j.setExpirationTime('1h') : j).sign(key);
  };
  const a = new Authenticator({ authToken: TOK, jwtSecret: JWT });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  await assert.rejects(a.authenticate(bearer(await sign({ room: 'demo', grants: ['admin'] }, false))), /invalid/);
  await assert.rejects(a.authenticate(bearer(await sign({ room: '../x', grants: ['admin'] }, true))), /invalid/);
  assert.equal((await a.authenticate(bearer(await sign({ room: 'demo', grants: ['admin'] }, true)))).room, 'demo');
  const revoked = new Set<string>();
  const r = new Authenticator({ authToken: TOK, jwtSecret: JWT, isRevoked: async (jti) => revoked.has(jti) });
  const { token, jti } = await r.mintRoomToken('demo', ['subscribe'], 60);
  assert.equal((await r.authenticate(bearer(token))).jti, jti);
  revoked.add(jti);
  await assert.rejects(r.authenticate(bearer(token)), /revoked/);
});

test('safeEqual', () => {
  assert.ok(safeEqual('abc', 'abc'));
  assert.ok(!safeEqual('abc', 'abd'));
  assert.ok(!safeEqual('abc', 'abcd'));
});
