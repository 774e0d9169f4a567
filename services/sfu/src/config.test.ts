import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@live-webrtc/shared';
import { loadSfuConfig } from './config.js';

test('the SFU starts from defaults alone', () => {
  const c = loadSfuConfig({});
  assert.deepEqual(c.SFU_HTTP_ADDR, { host: '127.0.0.1', port: 8081 });
  assert.equal(c.MAX_PUBS_PER_ROOM, 4);
  assert.equal(c.MAX_SUBS_PER_ROOM, 500);
  assert.equal(c.SESSION_TIMEOUT_SECONDS, 30);
  assert.ok(c.SFU_WORKERS >= 1);
  assert.equal(c.MAX_ROOMS, 1000);
  assert.equal(c.MAX_SESSIONS_PER_IP, 200);
  assert.equal(c.MAX_MEDIA_SECTIONS, 16);
  assert.equal(c.MAX_VIEWER_PROFILES, 4);
});

test('closed by default: an SFU listening beyond loopback needs AUTH_TOKEN and INTERNAL_TOKEN', () => {
  assert.throws(() => loadSfuConfig({ SFU_HTTP_ADDR: ':8081' }), /AUTH_TOKEN: .*ALLOW_UNAUTHENTICATED=1/);
  assert.throws(() => loadSfuConfig({ SFU_HTTP_ADDR: ':8081', AUTH_TOKEN: 'x'.repeat(32) }), /INTERNAL_TOKEN: /);
  assert.equal(loadSfuConfig({ SFU_HTTP_ADDR: ':8081', ALLOW_UNAUTHENTICATED: 'yes' }).SFU_HTTP_ADDR.port, 8081);
});

test('the SFU applies the rules that span common variables, and its own', () => {
  assert.throws(
    () => loadSfuConfig({ S3_BUCKET: 'b', TURN_USERNAME: 'u', RTC_MIN_PORT: '50000', RTC_MAX_PORT: '40000', PUBLIC_URL: 'x' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      for (const v of ['S3_BUCKET', 'TURN_USERNAME', 'RTC_MIN_PORT', 'PUBLIC_URL']) assert.match(text, new RegExp(`^${v}: `, 'm'));
      return true;
    },
  );
});
