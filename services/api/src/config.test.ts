import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadApiConfig } from './config.js';

const AUTH_TOKEN = 'a'.repeat(16) + '0123456789abcdef';
const INTERNAL_TOKEN = 'i'.repeat(16) + '0123456789abcdef';

test('closed by default: beyond loopback the API needs AUTH_TOKEN and INTERNAL_TOKEN, or the explicit opt-out', () => {
  assert.throws(
    () => loadApiConfig({}),
    /AUTH_TOKEN: the server listens on 0\.0\.0\.0:8080, beyond loopback: set AUTH_TOKEN \(or ALLOW_UNAUTHENTICATED=1/,
  );
  assert.throws(() => loadApiConfig({ AUTH_TOKEN }), /INTERNAL_TOKEN: /);
  assert.equal(loadApiConfig({ ALLOW_UNAUTHENTICATED: '1' }).AUTH_TOKEN, undefined);
  assert.equal(loadApiConfig({ HTTP_ADDR: '127.0.0.1:8080' }).AUTH_TOKEN, undefined, 'loopback only warns');
  assert.throws(() => loadApiConfig({ AUTH_TOKEN: 'change-me', HTTP_ADDR: '127.0.0.1:1' }), /AUTH_TOKEN: is a documented placeholder/);
  assert.throws(() => loadApiConfig({ AUTH_TOKEN: 'short', HTTP_ADDR: '127.0.0.1:1' }), /AUTH_TOKEN: must be at least 32 bytes/);
  assert.throws(() => loadApiConfig({ AUTH_TOKEN, JWT_SECRET: AUTH_TOKEN, INTERNAL_TOKEN }), /JWT_SECRET: must differ from AUTH_TOKEN/);
  assert.throws(() => loadApiConfig({ AUTH_TOKEN, INTERNAL_TOKEN: AUTH_TOKEN }), /INTERNAL_TOKEN: must differ/);
  assert.throws(() => loadApiConfig({ JWT_SECRET: INTERNAL_TOKEN, HTTP_ADDR: '127.0.0.1:1' }), /JWT_SECRET: room tokens need AUTH_TOKEN/);
});

test('the API starts from defaults plus its secrets', () => {
  const c = loadApiConfig({ AUTH_TOKEN, INTERNAL_TOKEN });
  assert.deepEqual(c.HTTP_ADDR, { host: '0.0.0.0', port: 8080 });
  assert.equal(c.RATE_LIMIT_IP_PER_MINUTE, 1200);
  assert.equal(c.RATE_LIMIT_TOKEN_PER_MINUTE, 600);
  assert.equal(c.TRUSTED_PROXIES.length, 2, 'loopback (v4 and v6) by default');
  assert.deepEqual(c.CORS_ORIGINS, []);
  assert.equal(c.SFU_URL, 'http://127.0.0.1:8081');
  assert.equal(c.DOWNLOAD_REDIRECT, false);
});

test('a half-configured S3 stops the API instead of silently using the local disk', () => {
  assert.throws(() => loadApiConfig({ S3_BUCKET: 'recordings', S3_ACCESS_KEY: 'k' }), /S3_BUCKET: S3 storage needs/);
  assert.throws(() => loadApiConfig({ SFU_URL: 'http://sfu:8081/path' }), /SFU_URL: /);
});
