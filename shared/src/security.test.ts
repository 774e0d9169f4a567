import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientIp, inCidrs, isLoopbackHost, originAllowed, parseCidrs, secretProblem } from './security.js';

test('secrets: at least 32 bytes and no documented placeholder', () => {
  assert.match(secretProblem('change-me') ?? '', /placeholder/);
  assert.match(secretProblem('MinioAdmin') ?? '', /placeholder/);
  assert.match(secretProblem('x'.repeat(31)) ?? '', /at least 32 bytes/);
  assert.equal(secretProblem('x'.repeat(32)), undefined);
});

test('loopback hosts', () => {
  for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com']) assert.ok(!isLoopbackHost(h), h);
});

test('CIDR lists', () => {
  const c = parseCidrs('10.0.0.0/8, fd00::/8, loopback')!;
  assert.ok(inCidrs('10.1.2.3', c));
  assert.ok(inCidrs('::ffff:10.1.2.3', c));
  assert.ok(inCidrs('fd12::1', c));
  assert.ok(inCidrs('127.0.0.1', c));
  assert.ok(inCidrs('::1', c));
  assert.ok(!inCidrs('11.0.0.1', c));
  assert.ok(!inCidrs('fe80::1', c));
  assert.equal(parseCidrs('10.0.0.0/33'), undefined);
  assert.equal(parseCidrs('nonsense'), undefined);
});

test('X-Forwarded-For is believed from trusted proxies only, right to left', () => {
  const trusted = parseCidrs('loopback,10.0.0.0/8')!;
  assert.equal(clientIp('203.0.113.9', '1.2.3.4', trusted), '203.0.113.9', 'an untrusted peer cannot claim another address');
  assert.equal(clientIp('127.0.0.1', '1.2.3.4', trusted), '1.2.3.4');
  assert.equal(clientIp('::ffff:127.0.0.1', '6.6.6.6, 1.2.3.4, 10.0.0.2', trusted), '1.2.3.4', 'spoofed left-most hops are skipped');
  assert.equal(clientIp('127.0.0.1', 'not-an-ip', trusted), '127.0.0.1');
  assert.equal(clientIp('127.0.0.1', undefined, trusted), '127.0.0.1');
});

test('CORS origins: exact, or any port with ":*"', () => {
  assert.ok(originAllowed('https://App.example', ['https://app.example']));
  assert.ok(!originAllowed('https://app.example.evil', ['https://app.example']));
  assert.ok(originAllowed('http://127.0.0.1:4567', ['http://127.0.0.1:*']));
  assert.ok(!originAllowed('http://127.0.0.1.evil:4567', ['http://127.0.0.1:*']));
  assert.ok(!originAllowed('http://127.0.0.1:45x', ['http://127.0.0.1:*']));
});
