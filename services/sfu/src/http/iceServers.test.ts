import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { iceServersFor, linkHeader, turnCredentials } from './iceServers.js';

test('time-limited TURN credentials follow coturn use-auth-secret', () => {
  const now = Date.UTC(2026, 0, 1);
  const c = turnCredentials('s3cret', 'demo', 3600, now);
  assert.equal(c.username, `${now / 1000 + 3600}:demo`);
  assert.equal(c.credential, createHmac('sha1', 's3cret').update(c.username).digest('base64'));
});

test('with TURN_SECRET the static password is never handed out', () => {
  const servers = iceServersFor(
    { urls: ['stun:s.example.com', 'turn:t.example.com:3478'], username: 'u', password: 'static', secret: 'sec', ttlSeconds: 60 },
    'r',
  );
  assert.deepEqual(servers[0], { url: 'stun:s.example.com' });
  assert.notEqual(servers[1]?.credential, 'static');
  assert.match(servers[1]?.username ?? '', /^\d+:r$/);
});

test('static TURN credentials are never advertised: no TURN URL without TURN_SECRET', () => {
  const servers = iceServersFor(
    {
      urls: ['stun:s.example.com', 'turn:t.example.com:3478?transport=udp'],
      username: 'user',
      password: 'pw',
      secret: undefined,
      ttlSeconds: 60,
    },
    'r',
  );
  assert.deepEqual(servers, [{ url: 'stun:s.example.com' }]);
});

test('RFC 9725 Link headers quote their parameters', () => {
  const link = linkHeader([{ url: 'turn:t.example.com:3478?transport=udp', username: 'us"er', credential: 'pw' }]);
  assert.equal(
    link,
    '<turn:t.example.com:3478?transport=udp>; rel="ice-server"; username="us\\"er"; credential="pw"; credential-type="password"',
  );
  assert.equal(linkHeader([]), undefined);
});
