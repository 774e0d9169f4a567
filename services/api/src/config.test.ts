import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadApiConfig } from './config.js';

test('the API starts from defaults alone', () => {
  const c = loadApiConfig({});
  assert.deepEqual(c.HTTP_ADDR, { host: '0.0.0.0', port: 8080 });
  assert.equal(c.SFU_URL, 'http://127.0.0.1:8081');
  assert.equal(c.DOWNLOAD_REDIRECT, false);
});

test('a half-configured S3 stops the API instead of silently using the local disk', () => {
  assert.throws(() => loadApiConfig({ S3_BUCKET: 'recordings', S3_ACCESS_KEY: 'k' }), /S3_BUCKET: S3 storage needs/);
  assert.throws(() => loadApiConfig({ SFU_URL: 'http://sfu:8081/path' }), /SFU_URL: /);
});
